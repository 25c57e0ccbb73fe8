//! The demo catalog: flights on six routes over the 60 days after the first start,
//! and eight hotels in five cities, created through the services' public API
//! (the admin path) so that it exercises what an operator would use.
//!
//! The first start writes its date to `demo-anchor` before loading and
//! `demo-loaded` after; every create carries a request id, so a load that was
//! interrupted is finished on the next start without duplicates.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use tonic::transport::Channel;
use travel::access::Bearer;
use travel::pb::auth::v1::{LoginRequest, auth_service_client::AuthServiceClient};
use travel::pb::common::v1::Money;
use travel::pb::flight::v1::{CreateFlightRequest, flight_service_client::FlightServiceClient};
use travel::pb::hotel::v1::{AddRoomTypeRequest, CreateHotelRequest, hotel_service_client::HotelServiceClient};
use travel::types::{Date, UnixMillis};

mod catalog;

use catalog::{HOTELS, ROUTES};

/// Days after the anchor date that carry demo flights.
pub const DAYS: i64 = 60;

/// What the demo catalog holds.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Flights in the catalog.
    pub flights: usize,
    /// Hotels in the catalog.
    pub hotels: usize,
    /// A date (year, month, day) with a LIS→JFK flight, for the example search.
    pub example_date: (i32, i32, i32),
}

/// Where the services of the stack answer.
#[derive(Debug, Clone, Copy)]
pub struct Endpoints {
    /// The auth service.
    pub auth: SocketAddr,
    /// The flight service.
    pub flight: SocketAddr,
    /// The hotel service.
    pub hotel: SocketAddr,
}

/// Loads the catalog unless this data directory already has it, signed in as the admin.
pub async fn load(data_dir: &Path, at: &Endpoints, admin_email: &str, admin_password: &str) -> anyhow::Result<Loaded> {
    let anchor = anchor_date(data_dir)?;
    let loaded_marker = data_dir.join("demo-loaded");
    let flights = flight_plan(anchor);
    let hotels = HOTELS.len();
    if !loaded_marker.exists() {
        tracing::info!(flights = flights.len(), hotels, "loading the demo catalog");
        let token = AuthServiceClient::new(channel(at.auth).await?)
            .login(LoginRequest {
                email: admin_email.into(),
                password: admin_password.into(),
            })
            .await
            .context("logging in as the admin to load the demo catalog")?
            .into_inner()
            .access_token;
        let mut flight_client =
            FlightServiceClient::with_interceptor(channel(at.flight).await?, Bearer::new(Some(&token)));
        for request in &flights {
            flight_client
                .create_flight(request.clone())
                .await
                .context("creating a demo flight")?;
        }
        let mut hotel_client =
            HotelServiceClient::with_interceptor(channel(at.hotel).await?, Bearer::new(Some(&token)));
        for (h, (name, city, address, currency, rooms)) in HOTELS.iter().enumerate() {
            let created = hotel_client
                .create_hotel(CreateHotelRequest {
                    name: (*name).into(),
                    city: (*city).into(),
                    address: (*address).into(),
                    request_id: format!("demo-hotel-{h}"),
                })
                .await
                .context("creating a demo hotel")?
                .into_inner()
                .hotel
                .context("CreateHotel returned no hotel")?;
            for (r, (room, guests, count, price)) in rooms.iter().enumerate() {
                hotel_client
                    .add_room_type(AddRoomTypeRequest {
                        hotel_id: created.id.clone(),
                        name: (*room).into(),
                        max_guests: *guests,
                        total_rooms: *count,
                        nightly_price: Some(Money {
                            amount_minor: *price,
                            currency_code: (*currency).into(),
                        }),
                        request_id: format!("demo-hotel-{h}-room-{r}"),
                    })
                    .await
                    .context("adding a demo room type")?;
            }
        }
        std::fs::write(&loaded_marker, "loaded\n").context("cannot write the demo-loaded marker")?;
    }
    let tomorrow = add_days(UnixMillis::now().date(), 1);
    let last = add_days(anchor, DAYS);
    let example = if tomorrow > last {
        last
    } else {
        tomorrow.max(add_days(anchor, 1))
    };
    let pb = travel::pb::common::v1::Date::from(example);
    Ok(Loaded {
        flights: flights.len(),
        hotels,
        example_date: (pb.year, pb.month, pb.day),
    })
}

/// The date of the first start, written once and read on every later start.
fn anchor_date(data_dir: &Path) -> anyhow::Result<Date> {
    let path = data_dir.join("demo-anchor");
    match std::fs::read_to_string(&path) {
        Ok(text) => Date::parse_iso(text.trim())
            .map_err(|e| anyhow::anyhow!("{} {e}; delete the data directory to start afresh", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let today = UnixMillis::now().date();
            std::fs::write(&path, format!("{}\n", today.iso())).context("cannot write the demo anchor date")?;
            Ok(today)
        }
        Err(e) => Err(e).context("cannot read the demo anchor date"),
    }
}

/// Every demo flight, each with a request id that names it.
fn flight_plan(anchor: Date) -> Vec<CreateFlightRequest> {
    let mut out = Vec::new();
    for r in ROUTES {
        for day in (1..=DAYS).filter(|d| d % r.every_days == 0) {
            let departure = add_days(anchor, day).start().plus(Duration::from_secs(r.hour * 3600));
            let arrival = departure.plus(Duration::from_secs(r.hours * 3600));
            out.push(CreateFlightRequest {
                flight_number: format!("{}{:02}", r.number_prefix, day % 100),
                origin: r.origin.into(),
                destination: r.destination.into(),
                departure_time: Some(departure.into()),
                arrival_time: Some(arrival.into()),
                seat_price: Some(Money {
                    amount_minor: r.price_cents,
                    currency_code: "EUR".into(),
                }),
                capacity: r.seats,
                request_id: format!("demo-{}-{}-{day}", r.origin, r.destination),
            });
        }
    }
    out
}

fn add_days(d: Date, days: i64) -> Date {
    d.start().plus(Duration::from_secs(days.unsigned_abs() * 86_400)).date()
}

/// A channel to a service of this process.
async fn channel(addr: SocketAddr) -> anyhow::Result<Channel> {
    Ok(Channel::from_shared(format!("http://{addr}"))?.connect().await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_has_at_least_twenty_flights_on_five_routes_within_sixty_days() {
        let anchor = Date::parse_iso("2026-11-24").unwrap();
        let plan = flight_plan(anchor);
        let routes: std::collections::HashSet<_> =
            plan.iter().map(|f| (f.origin.clone(), f.destination.clone())).collect();
        assert!(plan.len() >= 20 && routes.len() >= 5);
        let last = add_days(anchor, DAYS).start().plus(Duration::from_secs(86_400));
        for f in &plan {
            let at = UnixMillis::parse(f.departure_time.as_ref()).unwrap();
            assert!(at > anchor.start() && at < last, "{f:?}");
        }
        let ids: std::collections::HashSet<_> = plan.iter().map(|f| f.request_id.clone()).collect();
        assert_eq!(ids.len(), plan.len(), "request ids are unique");
    }

    #[test]
    fn the_catalog_has_six_hotels_in_three_cities_with_several_room_types() {
        let cities: std::collections::HashSet<_> = HOTELS.iter().map(|h| h.1).collect();
        assert!(HOTELS.len() >= 6 && cities.len() >= 3);
        assert!(HOTELS.iter().all(|h| h.4.len() >= 2));
    }
}
