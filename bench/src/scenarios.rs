//! One call of each scenario, on the connections the run shares: its outcome
//! is `Ok`, or the gRPC status code it failed with, or — for a checkout that
//! answered — the reservation's state when it is not CONFIRMED.

use std::sync::{Arc, Mutex};

use rand::Rng;
use tonic::transport::Channel;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use travel::access::Bearer;
use travel::pb::flight::v1 as flight_pb;
use travel::pb::flight::v1::flight_service_client::FlightServiceClient;
use travel::pb::hotel::v1 as hotel_pb;
use travel::pb::hotel::v1::hotel_service_client::HotelServiceClient;
use travel::pb::reservation::v1 as pb;
use travel::pb::reservation::v1::reservation_service_client::ReservationServiceClient;

use crate::cli::Scenario;
use crate::fixtures::{Fixtures, NIGHTS, Stay, after, channel};
use crate::services::Endpoints;

/// A reservation answered in FAILED.
pub const RESERVATION_FAILED: &str = "reservation FAILED";
/// A reservation answered still PENDING (left to recovery).
pub const RESERVATION_PENDING: &str = "reservation PENDING";

/// How one call ended, when not well.
pub type Outcome = Result<(), String>;

/// The connections and fixtures every call of a run shares.
#[derive(Debug, Clone)]
pub struct Calls {
    fixtures: Arc<Fixtures>,
    ceiling: Vec<Channel>,
    flight: Vec<Channel>,
    hotel: Vec<Channel>,
    reservation: Vec<Channel>,
    /// Confirmed reservations the mixed scenario may cancel: (id, customer).
    confirmed: Arc<Mutex<Vec<(String, usize)>>>,
}

fn code(status: &tonic::Status) -> String {
    format!("{:?}", status.code())
}

impl Calls {
    /// `connections` HTTP/2 connections to each service and to the ceiling.
    pub fn new(fixtures: Fixtures, endpoints: &Endpoints, ceiling: &str, connections: usize) -> anyhow::Result<Self> {
        let many = |url: &str| {
            (0..connections)
                .map(|_| channel(url))
                .collect::<anyhow::Result<Vec<_>>>()
        };
        Ok(Self {
            fixtures: Arc::new(fixtures),
            ceiling: many(ceiling)?,
            flight: many(&endpoints.flight)?,
            hotel: many(&endpoints.hotel)?,
            reservation: many(&endpoints.reservation)?,
            confirmed: Arc::default(),
        })
    }

    /// One call of `scenario` by caller number `caller`.
    pub async fn call(&self, scenario: Scenario, caller: usize) -> Outcome {
        match scenario {
            Scenario::Ceiling => health(&self.ceiling[caller % self.ceiling.len()]).await,
            Scenario::Health => health(&self.flight[caller % self.flight.len()]).await,
            Scenario::GetFlight => self.get_flight(caller).await,
            Scenario::SearchFlights => self.search_flights(caller).await,
            Scenario::SearchHotels => self.search_hotels(caller).await,
            Scenario::HoldRelease => self.hold_release(caller).await,
            Scenario::Checkout => {
                let (flight, stay, night) = self.plentiful();
                self.checkout(caller, &flight, &stay, night).await
            }
            Scenario::CheckoutContended => {
                let f = &self.fixtures;
                self.checkout(caller, &f.scarce_flight.clone(), &f.scarce_stay.clone(), 0)
                    .await
            }
            Scenario::Mixed => self.mixed(caller).await,
        }
    }

    /// A random flight, room type and night of the plentiful inventory.
    fn plentiful(&self) -> (String, Stay, usize) {
        let mut rng = rand::rng();
        let f = &self.fixtures;
        let flight = f.flights[rng.random_range(0..f.flights.len())].clone();
        let stay = f.stays[rng.random_range(0..f.stays.len())].clone();
        (flight, stay, rng.random_range(0..NIGHTS))
    }

    async fn get_flight(&self, caller: usize) -> Outcome {
        let f = &self.fixtures;
        let id = f.flights[caller % f.flights.len()].clone();
        let mut client = FlightServiceClient::new(self.flight[caller % self.flight.len()].clone());
        client
            .get_flight(flight_pb::GetFlightRequest { id })
            .await
            .map(drop)
            .map_err(|s| code(&s))
    }

    async fn search_flights(&self, caller: usize) -> Outcome {
        let request = flight_pb::SearchFlightsRequest {
            origin: "LIS".into(),
            destination: "JFK".into(),
            departure_date: Some(self.fixtures.departure.into()),
            passengers: 1,
            page_size: 10,
            page_token: String::new(),
        };
        let mut client = FlightServiceClient::new(self.flight[caller % self.flight.len()].clone());
        match client.search_flights(request).await {
            Ok(found) if found.get_ref().flights.len() == 10 => Ok(()),
            Ok(found) => Err(format!("{} flights found, not 10", found.get_ref().flights.len())),
            Err(s) => Err(code(&s)),
        }
    }

    async fn search_hotels(&self, caller: usize) -> Outcome {
        let f = &self.fixtures;
        let request = hotel_pb::SearchHotelsRequest {
            city: f.city.clone(),
            check_in: Some(f.first_night.into()),
            check_out: Some(after(f.first_night, 1).into()),
            guests: 2,
            rooms: 1,
            page_size: 10,
            page_token: String::new(),
        };
        let mut client = HotelServiceClient::new(self.hotel[caller % self.hotel.len()].clone());
        match client.search_hotels(request).await {
            Ok(found) if found.get_ref().offers.len() == 10 => Ok(()),
            Ok(found) => Err(format!("{} stays found, not 10", found.get_ref().offers.len())),
            Err(s) => Err(code(&s)),
        }
    }

    async fn hold_release(&self, caller: usize) -> Outcome {
        let f = &self.fixtures;
        let channel = self.flight[caller % self.flight.len()].clone();
        let mut client = FlightServiceClient::with_interceptor(channel, Bearer::new(Some(&f.service_token)));
        let hold_id = format!("bench-{}", uuid::Uuid::new_v4().simple());
        client
            .hold_seats(flight_pb::HoldSeatsRequest {
                hold_id: hold_id.clone(),
                flight_id: f.flights[caller % f.flights.len()].clone(),
                seats: 1,
            })
            .await
            .map_err(|s| code(&s))?;
        client
            .release_seats(flight_pb::ReleaseSeatsRequest { hold_id })
            .await
            .map(drop)
            .map_err(|s| code(&s))
    }

    fn reservations(
        &self,
        caller: usize,
        customer: usize,
    ) -> ReservationServiceClient<tonic::service::interceptor::InterceptedService<Channel, Bearer>> {
        let f = &self.fixtures;
        let token = &f.customer_tokens[customer % f.customer_tokens.len()];
        let channel = self.reservation[caller % self.reservation.len()].clone();
        ReservationServiceClient::with_interceptor(channel, Bearer::new(Some(token)))
    }

    async fn checkout(&self, caller: usize, flight: &str, stay: &Stay, night: usize) -> Outcome {
        let f = &self.fixtures;
        let customer = caller % f.customer_tokens.len();
        let check_in = after(f.first_night, night as u64);
        let request = pb::CheckoutRequest {
            request_id: uuid::Uuid::new_v4().to_string(),
            flight: Some(pb::FlightSelection {
                flight_id: flight.to_owned(),
                seats: 1,
            }),
            hotel: Some(pb::HotelSelection {
                hotel_id: stay.hotel_id.clone(),
                room_type_id: stay.room_type_id.clone(),
                check_in: Some(check_in.into()),
                check_out: Some(after(check_in, 1).into()),
                rooms: 1,
                guests: 2,
            }),
        };
        let answer = self
            .reservations(caller, customer)
            .checkout(request)
            .await
            .map_err(|s| code(&s))?;
        let reservation = answer.into_inner().reservation.ok_or("no reservation in the answer")?;
        match pb::ReservationState::try_from(reservation.state) {
            Ok(pb::ReservationState::Confirmed) => {
                if let Ok(mut confirmed) = self.confirmed.lock() {
                    confirmed.push((reservation.id, customer));
                }
                Ok(())
            }
            Ok(pb::ReservationState::Failed) => Err(RESERVATION_FAILED.into()),
            Ok(pb::ReservationState::Pending) => Err(RESERVATION_PENDING.into()),
            other => Err(format!("reservation in state {other:?}")),
        }
    }

    async fn cancel(&self, caller: usize) -> Outcome {
        let taken = self.confirmed.lock().ok().and_then(|mut confirmed| confirmed.pop());
        let Some((id, customer)) = taken else {
            let (flight, stay, night) = self.plentiful();
            return self.checkout(caller, &flight, &stay, night).await;
        };
        self.reservations(caller, customer)
            .cancel_reservation(pb::CancelReservationRequest { id })
            .await
            .map(drop)
            .map_err(|s| code(&s))
    }

    async fn mixed(&self, caller: usize) -> Outcome {
        let roll = rand::rng().random_range(0..100);
        match roll {
            0..30 => self.get_flight(caller).await,
            30..60 => self.search_flights(caller).await,
            60..90 => self.search_hotels(caller).await,
            90..99 => {
                let (flight, stay, night) = self.plentiful();
                self.checkout(caller, &flight, &stay, night).await
            }
            _ => self.cancel(caller).await,
        }
    }
}

async fn health(channel: &Channel) -> Outcome {
    HealthClient::new(channel.clone())
        .check(HealthCheckRequest { service: String::new() })
        .await
        .map(drop)
        .map_err(|s| code(&s))
}
