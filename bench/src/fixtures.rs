//! What the scenarios call with: tokens (admin, service account, a pool of
//! customers) and a catalog the bench creates through the admin API — ten
//! flights on one route and day, ten hotels in one city, and a flight and a
//! room type with five places each for the contended checkout.

use std::time::Duration;

use anyhow::Context;
use tonic::transport::Channel;
use travel::access::Bearer;
use travel::pb::auth::v1 as auth_pb;
use travel::pb::auth::v1::auth_service_client::AuthServiceClient;
use travel::pb::common::v1::Money;
use travel::pb::flight::v1 as flight_pb;
use travel::pb::flight::v1::flight_service_client::FlightServiceClient;
use travel::pb::hotel::v1 as hotel_pb;
use travel::pb::hotel::v1::hotel_service_client::HotelServiceClient;
use travel::types::{Date, UnixMillis};

use crate::services::Endpoints;

/// Flights on the searched route and day, and hotels in the searched city.
pub const CATALOG: usize = 10;
/// Seats on each flight, rooms of each room type (the most the services accept).
const PLENTY: i32 = 1000;
/// Seats and rooms of the contended scenario.
const SCARCE: i32 = 5;
/// Nights over which uncontended checkouts spread.
pub const NIGHTS: usize = 30;
/// Customers the booking scenarios take turns as.
const CUSTOMERS: usize = 16;

/// A room type to book.
#[derive(Debug, Clone)]
pub struct Stay {
    pub hotel_id: String,
    pub room_type_id: String,
}

/// Tokens and catalog.
#[derive(Debug, Clone)]
pub struct Fixtures {
    pub service_token: String,
    pub customer_tokens: Vec<String>,
    pub flights: Vec<String>,
    pub departure: Date,
    pub stays: Vec<Stay>,
    pub city: String,
    /// The first night of the searched stay and of the checkouts' nights.
    pub first_night: Date,
    pub scarce_flight: String,
    pub scarce_stay: Stay,
}

pub fn channel(url: &str) -> anyhow::Result<Channel> {
    Ok(tonic::transport::Endpoint::from_shared(url.to_owned())
        .with_context(|| format!("`{url}` is not a URL"))?
        .tcp_nodelay(true)
        .connect_lazy())
}

fn eur(amount_minor: i64) -> Option<Money> {
    Some(Money {
        amount_minor,
        currency_code: "EUR".into(),
    })
}

/// `date` plus `days`.
pub fn after(date: Date, days: u64) -> Date {
    date.start().plus(Duration::from_secs(days * 86_400)).date()
}

impl Fixtures {
    /// Signs in and creates the catalog (a run id keeps its names apart from earlier runs').
    pub async fn create(endpoints: &Endpoints, admin: (&str, &str), service: (&str, &str)) -> anyhow::Result<Self> {
        let run = uuid::Uuid::new_v4().simple().to_string();
        let mut auth = AuthServiceClient::new(channel(&endpoints.auth)?);
        let admin_token = auth
            .login(auth_pb::LoginRequest {
                email: admin.0.into(),
                password: admin.1.into(),
            })
            .await
            .context("the admin cannot log in")?
            .into_inner()
            .access_token;
        let service_token = auth
            .issue_service_token(auth_pb::IssueServiceTokenRequest {
                client_id: service.0.into(),
                client_secret: service.1.into(),
            })
            .await
            .context("the service account cannot get a token")?
            .into_inner()
            .access_token;
        let mut customer_tokens = Vec::new();
        for n in 0..CUSTOMERS {
            let email = format!("bench-{run}-{n}@bench.local");
            let password = format!("bench password {run}");
            auth.register(auth_pb::RegisterRequest {
                email: email.clone(),
                password: password.clone(),
                request_id: String::new(),
            })
            .await
            .context("cannot register a customer")?;
            let token = auth
                .login(auth_pb::LoginRequest { email, password })
                .await
                .context("a customer cannot log in")?
                .into_inner()
                .access_token;
            customer_tokens.push(token);
        }

        let now = UnixMillis::now();
        let departs = now.plus(Duration::from_secs(7 * 86_400));
        let departure = departs.date();
        let flights_admin =
            FlightServiceClient::with_interceptor(channel(&endpoints.flight)?, Bearer::new(Some(&admin_token)));
        let flight = |n: usize, capacity: i32| {
            let request = flight_pb::CreateFlightRequest {
                flight_number: format!("BN{}", 100 + n),
                origin: "LIS".into(),
                destination: "JFK".into(),
                departure_time: Some(departs.plus(Duration::from_secs(60 * n as u64)).into()),
                arrival_time: Some(departs.plus(Duration::from_secs(8 * 3600 + 60 * n as u64)).into()),
                seat_price: eur(10_000),
                capacity,
                request_id: String::new(),
            };
            let mut client = flights_admin.clone();
            async move {
                let created = client.create_flight(request).await.context("cannot create a flight")?;
                created
                    .into_inner()
                    .flight
                    .map(|f| f.id)
                    .context("no flight in the answer")
            }
        };
        let mut flights = Vec::new();
        for n in 0..CATALOG {
            flights.push(flight(n, PLENTY).await?);
        }
        let scarce_flight = flight(CATALOG, SCARCE).await?;

        let hotels_admin =
            HotelServiceClient::with_interceptor(channel(&endpoints.hotel)?, Bearer::new(Some(&admin_token)));
        let city = format!("Bench {}", &run[..8]);
        let stay = |n: usize, rooms: i32| {
            let mut client = hotels_admin.clone();
            let city = city.clone();
            async move {
                let hotel = client
                    .create_hotel(hotel_pb::CreateHotelRequest {
                        name: format!("Hotel {n}"),
                        city,
                        address: String::new(),
                        request_id: String::new(),
                    })
                    .await
                    .context("cannot create a hotel")?
                    .into_inner()
                    .hotel
                    .context("no hotel in the answer")?;
                let room_type = client
                    .add_room_type(hotel_pb::AddRoomTypeRequest {
                        hotel_id: hotel.id.clone(),
                        name: "Double".into(),
                        max_guests: 2,
                        total_rooms: rooms,
                        nightly_price: eur(9_000 + n as i64),
                        request_id: String::new(),
                    })
                    .await
                    .context("cannot add a room type")?
                    .into_inner()
                    .room_type
                    .context("no room type in the answer")?;
                anyhow::Ok(Stay {
                    hotel_id: hotel.id,
                    room_type_id: room_type.id,
                })
            }
        };
        let mut stays = Vec::new();
        for n in 0..CATALOG {
            stays.push(stay(n, PLENTY).await?);
        }
        let scarce_stay = stay(CATALOG, SCARCE).await?;
        Ok(Self {
            service_token,
            customer_tokens,
            flights,
            departure,
            stays,
            city,
            first_night: after(now.date(), 30),
            scarce_flight,
            scarce_stay,
        })
    }
}
