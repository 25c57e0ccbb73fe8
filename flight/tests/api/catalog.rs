//! The catalog through the API: creating, getting and searching flights, request
//! idempotency, pagination, and refusals of bad input that leave the service serving.

use tonic::Code;
use travel::pb::common::v1::Date;
use travel::pb::flight::v1 as pb;

use crate::helpers;
use crate::helpers::{START_MS, TestFlight, date_of, flight_request, violated_fields};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// The flight `req` creates (or had created, for a retry of its request id).
async fn created(client: &mut helpers::Client, req: &pb::CreateFlightRequest) -> pb::Flight {
    client
        .create_flight(req.clone())
        .await
        .expect("create flight")
        .into_inner()
        .flight
        .expect("flight in response")
}

fn search(
    origin: &str,
    destination: &str,
    date: Date,
    passengers: i32,
    page_size: i32,
    token: &str,
) -> pb::SearchFlightsRequest {
    pb::SearchFlightsRequest {
        origin: origin.into(),
        destination: destination.into(),
        departure_date: Some(date),
        passengers,
        page_size,
        page_token: token.into(),
    }
}

#[tokio::test]
async fn a_created_flight_can_be_fetched_with_all_seats_available() {
    let svc = TestFlight::start().await;

    let created = svc.create_flight(180, START_MS + DAY_MS).await;
    let fetched = svc
        .client
        .clone()
        .get_flight(pb::GetFlightRequest { id: created.id.clone() })
        .await
        .unwrap()
        .into_inner();

    let fetched = fetched.flight.unwrap();
    assert_eq!(fetched, created);
    assert_eq!((fetched.capacity, fetched.available_seats), (180, 180));
    assert_eq!(fetched.origin, "LIS");
    assert_eq!(fetched.seat_price.unwrap().amount_minor, 12_000);
}

#[tokio::test]
async fn getting_an_unknown_flight_is_not_found() {
    let svc = TestFlight::start().await;
    let err = svc
        .client
        .clone()
        .get_flight(pb::GetFlightRequest { id: "missing".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test]
async fn create_with_the_same_request_id_returns_the_first_flight() {
    let svc = TestFlight::start().await;
    let mut client = svc.admin.clone();
    let mut req = flight_request("TP1", "LIS", "JFK", START_MS + DAY_MS, 10);
    req.request_id = "create-1".into();

    let first = created(&mut client, &req).await;
    let retry = created(&mut client, &req).await;
    req.capacity = 11;
    let different = client.create_flight(req).await.unwrap_err();

    assert_eq!(first.id, retry.id);
    assert_eq!(different.code(), Code::AlreadyExists);
}

#[tokio::test]
async fn search_returns_matching_flights_earliest_first() {
    let svc = TestFlight::start().await;
    let day = START_MS + 10 * DAY_MS;
    let mut client = svc.admin.clone();
    for (number, origin, dest, at) in [
        ("TP3", "LIS", "JFK", day + 18 * HOUR_MS),
        ("TP1", "LIS", "JFK", day + 6 * HOUR_MS),
        ("TP2", "LIS", "JFK", day + 12 * HOUR_MS),
        ("TP9", "LIS", "JFK", day + DAY_MS + HOUR_MS), // next day
        ("TP8", "LIS", "MAD", day + 7 * HOUR_MS),      // other route
    ] {
        client
            .create_flight(flight_request(number, origin, dest, at, 5))
            .await
            .unwrap();
    }

    let found = client
        .search_flights(search("LIS", "JFK", date_of(day), 1, 0, ""))
        .await
        .unwrap()
        .into_inner();

    let numbers: Vec<_> = found.flights.iter().map(|f| f.flight_number.as_str()).collect();
    assert_eq!(numbers, ["TP1", "TP2", "TP3"]);
    assert!(found.next_page_token.is_empty());
}

#[tokio::test]
async fn search_leaves_out_flights_without_enough_seats() {
    let svc = TestFlight::start().await;
    let day = START_MS + 3 * DAY_MS;
    let small = svc.create_flight(2, day + HOUR_MS).await;
    let big = svc.create_flight(9, day + 2 * HOUR_MS).await;

    let found = svc
        .client
        .clone()
        .search_flights(search("LIS", "JFK", date_of(day), 3, 0, ""))
        .await
        .unwrap()
        .into_inner();

    let ids: Vec<_> = found.flights.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, [big.id.as_str()]);
    assert_ne!(small.id, big.id);
}

#[tokio::test]
async fn pages_cover_every_result_exactly_once_in_order() {
    let svc = TestFlight::start().await;
    let day = START_MS + 20 * DAY_MS;
    let mut client = svc.admin.clone();
    let mut expected = Vec::new();
    for i in 0..7 {
        // Two flights share each departure time, so ties are broken by id.
        let at = day + (i / 2) * HOUR_MS;
        let f = client
            .create_flight(flight_request(&format!("TP{i}"), "LIS", "JFK", at, 5))
            .await
            .unwrap();
        expected.push(f.into_inner().flight.unwrap());
    }
    expected
        .sort_by(|a, b| (a.departure_time.unwrap().seconds, &a.id).cmp(&(b.departure_time.unwrap().seconds, &b.id)));

    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = client
            .search_flights(search("LIS", "JFK", date_of(day), 1, 3, &token))
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        assert!(page.flights.len() <= 3);
        seen.extend(page.flights);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }

    assert_eq!(pages, 3);
    let ids = |v: &[pb::Flight]| v.iter().map(|f| f.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&seen), ids(&expected));
}

#[tokio::test]
async fn a_page_token_from_another_search_is_refused() {
    let svc = TestFlight::start().await;
    let day = START_MS + DAY_MS;
    for i in 0..3 {
        svc.create_flight(5, day + i * HOUR_MS).await;
    }
    let mut client = svc.admin.clone();
    let page = client
        .search_flights(search("LIS", "JFK", date_of(day), 1, 1, ""))
        .await
        .unwrap()
        .into_inner();
    assert!(!page.next_page_token.is_empty());

    let err = client
        .search_flights(search("LIS", "JFK", date_of(day), 2, 1, &page.next_page_token))
        .await
        .unwrap_err();

    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&err), ["page_token"]);
}

#[tokio::test]
async fn bad_input_is_invalid_argument_naming_the_field_and_the_service_keeps_serving() {
    let svc = TestFlight::start().await;
    let flight = svc.create_flight(5, START_MS + DAY_MS).await;
    let mut client = svc.admin.clone();
    let date = date_of(START_MS + DAY_MS);
    let bad_date = Date {
        year: 2030,
        month: 2,
        day: 30,
    };

    let mut cases: Vec<(&str, tonic::Status, &str)> = Vec::new();
    let create = |f: fn(&mut pb::CreateFlightRequest)| {
        let mut r = flight_request("TP1", "LIS", "JFK", START_MS + DAY_MS, 10);
        f(&mut r);
        r
    };
    for (name, req, field) in [
        ("lower-case airport", create(|r| r.origin = "lis".into()), "origin"),
        (
            "four-letter airport",
            create(|r| r.destination = "JFKX".into()),
            "destination",
        ),
        (
            "same origin and destination",
            create(|r| r.destination = "LIS".into()),
            "destination",
        ),
        (
            "bad flight number",
            create(|r| r.flight_number = "12".into()),
            "flight_number",
        ),
        ("zero capacity", create(|r| r.capacity = 0), "capacity"),
        ("negative capacity", create(|r| r.capacity = -5), "capacity"),
        (
            "arrival before departure",
            create(|r| r.arrival_time = r.departure_time),
            "arrival_time",
        ),
        (
            "negative price",
            create(|r| r.seat_price.as_mut().unwrap().amount_minor = -1),
            "seat_price",
        ),
        (
            "bad currency",
            create(|r| r.seat_price.as_mut().unwrap().currency_code = "euro".into()),
            "seat_price",
        ),
        (
            "missing departure",
            create(|r| r.departure_time = None),
            "departure_time",
        ),
    ] {
        cases.push((name, client.create_flight(req).await.unwrap_err(), field));
    }
    for (name, req, field) in [
        ("malformed origin", search("L1S", "JFK", date, 1, 0, ""), "origin"),
        (
            "impossible date",
            search("LIS", "JFK", bad_date, 1, 0, ""),
            "departure_date",
        ),
        ("zero passengers", search("LIS", "JFK", date, 0, 0, ""), "passengers"),
        (
            "negative passengers",
            search("LIS", "JFK", date, -2, 0, ""),
            "passengers",
        ),
        ("page too large", search("LIS", "JFK", date, 1, 101, ""), "page_size"),
        ("negative page size", search("LIS", "JFK", date, 1, -1, ""), "page_size"),
        (
            "garbage page token",
            search("LIS", "JFK", date, 1, 0, "%%%not-a-token"),
            "page_token",
        ),
    ] {
        cases.push((name, client.search_flights(req).await.unwrap_err(), field));
    }
    let hold = |hold_id: &str, flight_id: &str, seats| pb::HoldSeatsRequest {
        hold_id: hold_id.into(),
        flight_id: flight_id.into(),
        seats,
    };
    for (name, req, field) in [
        ("empty hold id", hold("", &flight.id, 1), "hold_id"),
        ("hold id with spaces", hold("a b", &flight.id, 1), "hold_id"),
        ("overlong hold id", hold(&"h".repeat(129), &flight.id, 1), "hold_id"),
        ("empty flight id", hold("h1", "", 1), "flight_id"),
        ("zero seats", hold("h1", &flight.id, 0), "seats"),
        ("negative seats", hold("h1", &flight.id, -1), "seats"),
        ("too many seats", hold("h1", &flight.id, 10), "seats"),
    ] {
        cases.push((name, svc.client.clone().hold_seats(req).await.unwrap_err(), field));
    }
    cases.push((
        "empty id",
        client
            .get_flight(pb::GetFlightRequest { id: String::new() })
            .await
            .unwrap_err(),
        "id",
    ));
    cases.push((
        "bad confirm id",
        svc.client
            .clone()
            .confirm_seats(pb::ConfirmSeatsRequest { hold_id: "x/y".into() })
            .await
            .unwrap_err(),
        "hold_id",
    ));
    cases.push((
        "empty release id",
        svc.client
            .clone()
            .release_seats(pb::ReleaseSeatsRequest { hold_id: String::new() })
            .await
            .unwrap_err(),
        "hold_id",
    ));

    for (name, status, field) in &cases {
        assert_eq!(status.code(), Code::InvalidArgument, "{name}: {status:?}");
        assert!(
            violated_fields(status).iter().any(|f| f == field),
            "{name}: expected a violation on {field}, got {status:?}"
        );
    }
    let still = client.get_flight(pb::GetFlightRequest { id: flight.id.clone() }).await;
    assert!(still.is_ok(), "the service still serves after bad input");
    assert_eq!(
        svc.assert_conserved(&flight.id).await.available,
        5,
        "no bad request took a seat"
    );
}

#[tokio::test]
async fn an_oversized_message_is_out_of_range_and_the_service_keeps_serving() {
    let svc = TestFlight::start_with(|c| c.host.server.max_message_bytes = 64 * 1024).await;
    let mut client = svc.admin.clone();
    let mut req = flight_request("TP1", "LIS", "JFK", START_MS + DAY_MS, 10);
    req.request_id = "x".repeat(100 * 1024);

    let err = client.create_flight(req).await.unwrap_err();

    assert_eq!(err.code(), Code::OutOfRange, "{err:?}");
    let ok = client
        .create_flight(flight_request("TP1", "LIS", "JFK", START_MS + DAY_MS, 10))
        .await;
    assert!(ok.is_ok(), "the service still serves: {ok:?}");
}

#[tokio::test]
async fn the_service_drains_and_stops_when_asked() {
    let svc = TestFlight::start().await;
    svc.create_flight(5, START_MS + DAY_MS).await;
    svc.stop().await;
}

#[tokio::test]
async fn dates_outside_2000_to_2100_are_refused_and_past_departures_cannot_be_created() {
    let svc = TestFlight::start().await;
    let mut admin = svc.admin.clone();
    let ms = |iso: &str| travel::types::Date::parse_iso(iso).unwrap().start().unix_millis();
    let search_on = |year, month, day| search("LIS", "JFK", Date { year, month, day }, 1, 10, "");

    // Searches: the window's first and last days are fine, past ones too.
    for (year, month, day) in [(2000, 1, 1), (2100, 12, 31), (2029, 6, 1)] {
        let found = admin.search_flights(search_on(year, month, day)).await;
        assert!(found.is_ok(), "search on {year}-{month}-{day}: {found:?}");
    }
    for (year, month, day) in [(1, 1, 1), (1999, 12, 31), (2101, 1, 1), (9999, 12, 31)] {
        let err = admin
            .search_flights(search_on(year, month, day))
            .await
            .expect_err("outside the window");
        assert_eq!(err.code(), Code::InvalidArgument, "{year}-{month}-{day}");
        assert_eq!(violated_fields(&err), ["departure_date"], "{year}-{month}-{day}");
    }

    // CreateFlight: departures and arrivals inside the window only.
    let mut beyond = flight_request("TP1", "LIS", "JFK", ms("2101-01-01"), 5);
    let err = admin.create_flight(beyond.clone()).await.expect_err("in 2101");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&err), ["departure_time", "arrival_time"]);
    beyond.departure_time = Some(helpers::ts(ms("2100-12-31") + 12 * HOUR_MS));
    beyond.arrival_time = Some(helpers::ts(ms("2101-01-01") + HOUR_MS));
    let err = admin.create_flight(beyond).await.expect_err("arrives in 2101");
    assert_eq!(violated_fields(&err), ["arrival_time"]);
    let last = flight_request("TP1", "LIS", "JFK", ms("2100-12-31"), 5);
    assert!(admin.create_flight(last).await.is_ok(), "the window's last day");

    // CreateFlight: a departure at or before the clock's now has already happened.
    for departure in [START_MS, START_MS - DAY_MS, ms("2000-01-01")] {
        let err = admin
            .create_flight(flight_request("TP1", "LIS", "JFK", departure, 5))
            .await
            .expect_err("departed");
        assert_eq!(err.code(), Code::FailedPrecondition, "{departure}: {err:?}");
        use tonic_types::StatusExt;
        let reason = err.get_error_details().error_info().map(|i| i.reason.clone());
        assert_eq!(reason.as_deref(), Some("DEPARTURE_IN_PAST"));
    }
}

#[tokio::test]
async fn a_create_retried_after_departure_returns_the_first_flight() {
    // Arrange: a flight created with a request id, departing in a day.
    let svc = TestFlight::start().await;
    let mut client = svc.admin.clone();
    let mut req = flight_request("TP1", "LIS", "JFK", START_MS + DAY_MS, 10);
    req.request_id = "create-late".into();
    let first = created(&mut client, &req).await;

    // Act: the retry of that same request arrives after the departure.
    svc.clock.advance(std::time::Duration::from_millis(2 * DAY_MS as u64));
    let mut client = svc.client_with_token(Some(&svc.token(travel::jwt::Role::Admin, 3600)));
    let retry = client.create_flight(req.clone()).await;

    // Assert: the idempotent replay wins over the past-departure check; a new
    // request id is still refused.
    assert_eq!(
        retry
            .expect("the replay of the first request")
            .into_inner()
            .flight
            .unwrap()
            .id,
        first.id
    );
    req.request_id = "create-new".into();
    let err = client.create_flight(req).await.expect_err("departed");
    assert_eq!(err.code(), Code::FailedPrecondition);
}
