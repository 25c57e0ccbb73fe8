"""The client side of the journey: the four services' addresses and stubs, and
the calls and messages the steps share. Imported once the stubs generated from
proto/ are on sys.path (journey.py puts them there)."""

import os

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from checks import CheckFailed, check, step
from travel.auth.v1 import auth_pb2, auth_pb2_grpc
from travel.common.v1 import common_pb2
from travel.flight.v1 import flight_pb2, flight_pb2_grpc
from travel.hotel.v1 import hotel_pb2, hotel_pb2_grpc
from travel.reservation.v1 import reservation_pb2_grpc

# name: (address, the service it serves)
SERVICES = {
    "auth": (os.environ.get("AUTH_ADDR", "127.0.0.1:50051"), "travel.auth.v1.AuthService"),
    "flight": (os.environ.get("FLIGHT_ADDR", "127.0.0.1:50052"), "travel.flight.v1.FlightService"),
    "hotel": (os.environ.get("HOTEL_ADDR", "127.0.0.1:50053"), "travel.hotel.v1.HotelService"),
    "reservation": (
        os.environ.get("RESERVATION_ADDR", "127.0.0.1:50054"),
        "travel.reservation.v1.ReservationService",
    ),
}

# The stack's own service account for the reservation service (stack/src/lib.rs).
SERVICE_ACCOUNT = auth_pb2.IssueServiceTokenRequest(client_id="reservation", client_secret="local-service-secret")

# Per-call deadlines, in seconds. A checkout is a saga over two services.
TIMEOUT = 15
CHECKOUT_TIMEOUT = 60


def date_of(day):
    return common_pb2.Date(year=day.year, month=day.month, day=day.day)


def bearer(token):
    return [("authorization", f"Bearer {token}")]


class Stack:
    """Channels and stubs for the four services."""

    def __init__(self):
        self.channels = {name: grpc.insecure_channel(addr) for name, (addr, _) in SERVICES.items()}
        self.auth = auth_pb2_grpc.AuthServiceStub(self.channels["auth"])
        self.flights = flight_pb2_grpc.FlightServiceStub(self.channels["flight"])
        self.hotels = hotel_pb2_grpc.HotelServiceStub(self.channels["hotel"])
        self.reservations = reservation_pb2_grpc.ReservationServiceStub(self.channels["reservation"])

    def check_serving(self, name, suffix="", whole_server=False):
        """grpc.health.v1.Health/Check of the service `name` (or of its whole
        server: service "") must answer SERVING."""
        addr, service = SERVICES[name]
        if whole_server:
            service = ""
        what = f"{service} on {addr}" if service else f"the server on {addr}"
        health = health_pb2_grpc.HealthStub(self.channels[name])
        try:
            answer = health.Check(
                health_pb2.HealthCheckRequest(service=service), timeout=TIMEOUT, wait_for_ready=True
            )
        except grpc.RpcError as error:
            raise CheckFailed(
                f"{what} did not answer grpc.health.v1.Health/Check within {TIMEOUT} s: "
                f"{error.code().name}: {error.details()}"
            ) from None
        check(
            answer.status == health_pb2.HealthCheckResponse.SERVING,
            f"{what} is SERVING{suffix}",
            f"status: {health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)}",
        )

    def check_all_serving(self, whole_server=False):
        step("health of every server" if whole_server else "health of every service")
        for name in SERVICES:
            self.check_serving(name, whole_server=whole_server)

    def seats_free(self, flight_id):
        return self.flights.GetFlight(flight_pb2.GetFlightRequest(id=flight_id), timeout=TIMEOUT).flight.available_seats

    def search_flights(self, day, passengers, metadata=None):
        request = flight_pb2.SearchFlightsRequest(
            origin="LIS", destination="JFK", departure_date=date_of(day), passengers=passengers
        )
        return self.flights.SearchFlights(request, metadata=metadata, timeout=TIMEOUT).flights

    def search_stay(self, city, check_in, check_out):
        request = hotel_pb2.SearchHotelsRequest(
            city=city, check_in=date_of(check_in), check_out=date_of(check_out), guests=2, rooms=1, page_size=100
        )
        return self.hotels.SearchHotels(request, timeout=TIMEOUT).offers

    def rooms_free(self, city, check_in, check_out, room_type_id):
        """available_rooms of the offer for that room type; 0 once it is no longer offered."""
        offers = self.search_stay(city, check_in, check_out)
        return next((o.available_rooms for o in offers if o.room_type.id == room_type_id), 0)

    def close(self):
        for channel in self.channels.values():
            channel.close()


def stay(offer, check_in, check_out):
    """The fields of a hold of 1 room of `offer` for 2 guests (HoldRoomsRequest, HotelSelection)."""
    return dict(
        hotel_id=offer.hotel.id,
        room_type_id=offer.room_type.id,
        check_in=date_of(check_in),
        check_out=date_of(check_out),
        rooms=1,
        guests=2,
    )


def later(rpc, request, metadata):
    """rpc(request) with `metadata`, as a call to make later."""
    return lambda: rpc(request, metadata=metadata, timeout=TIMEOUT)
