//! One request to any RPC of the stack, and the clients that send it: the
//! public RPCs anonymously, the catalog as the admin, holds as the service
//! account, the reservation service's RPCs as the admin.

use tonic::Status;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use travel::access::Bearer;
use travel::pb::auth::v1::{self as auth, auth_service_client::AuthServiceClient};
use travel::pb::flight::v1::{self as flight, flight_service_client::FlightServiceClient};
use travel::pb::hotel::v1::{self as hotel, hotel_service_client::HotelServiceClient};
use travel::pb::reservation::v1::{self as reservation, reservation_service_client::ReservationServiceClient};
use travel_stack::RunningStack;

/// A request to one RPC.
#[derive(Debug, Clone)]
pub enum Call {
    Register(auth::RegisterRequest),
    Login(auth::LoginRequest),
    Refresh(auth::RefreshRequest),
    Logout(auth::LogoutRequest),
    IssueServiceToken(auth::IssueServiceTokenRequest),
    CreateFlight(flight::CreateFlightRequest),
    GetFlight(flight::GetFlightRequest),
    CancelFlight(flight::CancelFlightRequest),
    RescheduleFlight(flight::RescheduleFlightRequest),
    SearchFlights(flight::SearchFlightsRequest),
    HoldSeats(flight::HoldSeatsRequest),
    ConfirmSeats(flight::ConfirmSeatsRequest),
    ReleaseSeats(flight::ReleaseSeatsRequest),
    CreateHotel(hotel::CreateHotelRequest),
    AddRoomType(hotel::AddRoomTypeRequest),
    GetHotel(hotel::GetHotelRequest),
    SearchHotels(hotel::SearchHotelsRequest),
    HoldRooms(hotel::HoldRoomsRequest),
    ConfirmRooms(hotel::ConfirmRoomsRequest),
    ReleaseRooms(hotel::ReleaseRoomsRequest),
    Checkout(reservation::CheckoutRequest),
    GetReservation(reservation::GetReservationRequest),
    ListReservations(reservation::ListReservationsRequest),
    CancelReservation(reservation::CancelReservationRequest),
    ListUnfinishedReservations(reservation::ListUnfinishedReservationsRequest),
    DriveReservation(reservation::DriveReservationRequest),
}

type Signed = InterceptedService<Channel, Bearer>;

/// A client per service and caller.
#[derive(Debug, Clone)]
pub struct Clients {
    auth: AuthServiceClient<Channel>,
    flight_admin: FlightServiceClient<Signed>,
    flight_service: FlightServiceClient<Signed>,
    hotel_admin: HotelServiceClient<Signed>,
    hotel_service: HotelServiceClient<Signed>,
    reservation: ReservationServiceClient<Signed>,
}

async fn channel(addr: std::net::SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect")
}

impl Clients {
    /// Logs in as the stack's admin and its service account, and connects.
    pub async fn connect(stack: &RunningStack, admin: (&str, &str), service: (&str, &str)) -> Self {
        let mut auth = AuthServiceClient::new(channel(stack.auth_addr).await);
        let admin_token = auth
            .login(auth::LoginRequest {
                email: admin.0.into(),
                password: admin.1.into(),
            })
            .await
            .expect("admin login")
            .into_inner()
            .access_token;
        let service_token = auth
            .issue_service_token(auth::IssueServiceTokenRequest {
                client_id: service.0.into(),
                client_secret: service.1.into(),
            })
            .await
            .expect("service token")
            .into_inner()
            .access_token;
        let as_admin = || Bearer::new(Some(&admin_token));
        let as_service = || Bearer::new(Some(&service_token));
        let (flights, hotels) = (channel(stack.flight_addr).await, channel(stack.hotel_addr).await);
        Self {
            auth,
            flight_admin: FlightServiceClient::with_interceptor(flights.clone(), as_admin()),
            flight_service: FlightServiceClient::with_interceptor(flights, as_service()),
            hotel_admin: HotelServiceClient::with_interceptor(hotels.clone(), as_admin()),
            hotel_service: HotelServiceClient::with_interceptor(hotels, as_service()),
            reservation: ReservationServiceClient::with_interceptor(channel(stack.reservation_addr).await, as_admin()),
        }
    }

    /// Sends `call`; only the status matters here.
    pub async fn send(&self, call: Call) -> Result<(), Status> {
        let mut c = self.clone();
        match call {
            Call::Register(r) => c.auth.register(r).await.map(drop),
            Call::Login(r) => c.auth.login(r).await.map(drop),
            Call::Refresh(r) => c.auth.refresh(r).await.map(drop),
            Call::Logout(r) => c.auth.logout(r).await.map(drop),
            Call::IssueServiceToken(r) => c.auth.issue_service_token(r).await.map(drop),
            Call::CreateFlight(r) => c.flight_admin.create_flight(r).await.map(drop),
            Call::GetFlight(r) => c.flight_admin.get_flight(r).await.map(drop),
            Call::CancelFlight(r) => c.flight_admin.cancel_flight(r).await.map(drop),
            Call::RescheduleFlight(r) => c.flight_admin.reschedule_flight(r).await.map(drop),
            Call::SearchFlights(r) => c.flight_admin.search_flights(r).await.map(drop),
            Call::HoldSeats(r) => c.flight_service.hold_seats(r).await.map(drop),
            Call::ConfirmSeats(r) => c.flight_service.confirm_seats(r).await.map(drop),
            Call::ReleaseSeats(r) => c.flight_service.release_seats(r).await.map(drop),
            Call::CreateHotel(r) => c.hotel_admin.create_hotel(r).await.map(drop),
            Call::AddRoomType(r) => c.hotel_admin.add_room_type(r).await.map(drop),
            Call::GetHotel(r) => c.hotel_admin.get_hotel(r).await.map(drop),
            Call::SearchHotels(r) => c.hotel_admin.search_hotels(r).await.map(drop),
            Call::HoldRooms(r) => c.hotel_service.hold_rooms(r).await.map(drop),
            Call::ConfirmRooms(r) => c.hotel_service.confirm_rooms(r).await.map(drop),
            Call::ReleaseRooms(r) => c.hotel_service.release_rooms(r).await.map(drop),
            Call::Checkout(r) => c.reservation.checkout(r).await.map(drop),
            Call::GetReservation(r) => c.reservation.get_reservation(r).await.map(drop),
            Call::ListReservations(r) => c.reservation.list_reservations(r).await.map(drop),
            Call::CancelReservation(r) => c.reservation.cancel_reservation(r).await.map(drop),
            Call::ListUnfinishedReservations(r) => c.reservation.list_unfinished_reservations(r).await.map(drop),
            Call::DriveReservation(r) => c.reservation.drive_reservation(r).await.map(drop),
        }
    }
}
