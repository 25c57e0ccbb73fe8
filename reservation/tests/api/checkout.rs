//! Checkout through the API: flights, stays and bundles confirmed with exact
//! totals; refusals on either side and mixed currencies end FAILED with a
//! reason and nothing held; the get → list → cancel journey.

use travel::pb::reservation::v1 as pb;
use travel::pb::reservation::v1::ReservationState::{Cancelled, Confirmed, Failed};

use crate::helpers;
use crate::helpers::{
    NIGHT_PRICE, SEAT_PRICE, World, bundle, cancel, checkout, flight_only, get, hotel_only, money, state,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flight_only_checkout_is_confirmed_at_the_flight_price() {
    // Arrange
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let res = world.reservations().await;

    // Act
    let r = checkout(&res.customer("user-a"), flight_only("req-1", &flight, 2))
        .await
        .unwrap();

    // Assert
    assert_eq!(state(&r), Confirmed);
    assert_eq!(r.total_price, Some(money(2 * SEAT_PRICE, "EUR")));
    assert_eq!(r.user_id, "user-a");
    let part = r.flight.as_ref().unwrap();
    assert_eq!(part.hold_id, format!("{}-flight", r.id));
    assert_eq!(part.price, Some(money(2 * SEAT_PRICE, "EUR")));
    assert!(r.hotel.is_none() && r.failure_reason.is_empty());
    assert_eq!(world.flight.inventory(&flight).await, (8, 0, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hotel_only_checkout_is_confirmed_at_the_stay_price() {
    // Arrange
    let world = World::start().await;
    let room_type = world.hotel.create(5, "EUR").await;
    let res = world.reservations().await;

    // Act: 2 rooms for 3 nights.
    let r = checkout(&res.customer("user-a"), hotel_only("req-1", &room_type, 2, 3))
        .await
        .unwrap();

    // Assert
    assert_eq!(state(&r), Confirmed);
    assert_eq!(r.total_price, Some(money(2 * 3 * NIGHT_PRICE, "EUR")));
    assert_eq!(r.hotel.as_ref().unwrap().hold_id, format!("{}-hotel", r.id));
    for n in 0..3 {
        assert_eq!(world.hotel.inventory(&room_type, n).await, (3, 0, 2));
    }
    assert_eq!(world.hotel.inventory(&room_type, 3).await, (5, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bundle_is_confirmed_at_the_exact_sum_of_both_prices() {
    // Arrange
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let room_type = world.hotel.create(5, "EUR").await;
    let res = world.reservations().await;

    // Act
    let r = checkout(&res.customer("user-a"), bundle("req-1", &flight, 2, &room_type, 1, 2))
        .await
        .unwrap();

    // Assert
    assert_eq!(state(&r), Confirmed);
    assert_eq!(r.total_price, Some(money(2 * SEAT_PRICE + 2 * NIGHT_PRICE, "EUR")));
    assert_eq!(r.flight.as_ref().unwrap().price, Some(money(2 * SEAT_PRICE, "EUR")));
    assert_eq!(r.hotel.as_ref().unwrap().price, Some(money(2 * NIGHT_PRICE, "EUR")));
    assert_eq!(world.flight.inventory(&flight).await, (8, 0, 2));
    assert_eq!(world.hotel.inventory(&room_type, 0).await, (4, 0, 1));
    assert_eq!(world.hotel.inventory(&room_type, 1).await, (4, 0, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn get_list_and_cancel_twice_give_the_seats_and_rooms_back() {
    // Arrange
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let room_type = world.hotel.create(5, "EUR").await;
    let res = world.reservations().await;
    let alice = res.customer("user-a");
    let first = checkout(&alice, flight_only("req-1", &flight, 1)).await.unwrap();
    let booked = checkout(&alice, bundle("req-2", &flight, 2, &room_type, 1, 2))
        .await
        .unwrap();

    // Act + Assert: get
    let got = get(&alice, &booked.id).await.unwrap();
    assert_eq!(got, booked);

    // list: newest first, paginated
    let page = alice
        .clone()
        .list_reservations(pb::ListReservationsRequest {
            page_size: 1,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        page.reservations.iter().map(|r| &r.id).collect::<Vec<_>>(),
        [&booked.id]
    );
    let rest = alice
        .clone()
        .list_reservations(pb::ListReservationsRequest {
            page_size: 1,
            page_token: page.next_page_token.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.reservations.iter().map(|r| &r.id).collect::<Vec<_>>(), [&first.id]);
    assert!(rest.next_page_token.is_empty());

    // cancel, twice
    let cancelled = cancel(&alice, &booked.id).await.unwrap();
    assert_eq!(state(&cancelled), Cancelled);
    assert_eq!(
        cancelled.total_price, booked.total_price,
        "the total is kept when cancelled"
    );
    let again = cancel(&alice, &booked.id).await.unwrap();
    assert_eq!(again, cancelled, "cancelling twice returns it unchanged");
    assert_eq!(
        world.flight.inventory(&flight).await,
        (9, 0, 1),
        "the first booking's seat stays"
    );
    assert_eq!(world.hotel.inventory(&room_type, 0).await, (5, 0, 0));
    assert_eq!(world.hotel.inventory(&room_type, 1).await, (5, 0, 0));
    assert_eq!(state(&get(&alice, &booked.id).await.unwrap()), Cancelled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_a_confirmed_reservation_can_be_cancelled() {
    // Arrange: a FAILED reservation (sold out).
    let world = World::start().await;
    let flight = world.flight.create(1, "EUR").await;
    let res = world.reservations().await;
    let alice = res.customer("user-a");
    let failed = checkout(&alice, flight_only("req-1", &flight, 2)).await.unwrap();
    assert_eq!(state(&failed), Failed);

    // Act
    let refused = cancel(&alice, &failed.id).await.unwrap_err();

    // Assert
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sold_out_flight_fails_the_bundle_and_nothing_stays_held() {
    // Arrange: 1 seat left, 2 wanted.
    let world = World::start().await;
    let flight = world.flight.create(1, "EUR").await;
    let room_type = world.hotel.create(5, "EUR").await;
    let res = world.reservations().await;

    // Act
    let r = checkout(&res.customer("user-a"), bundle("req-1", &flight, 2, &room_type, 1, 2))
        .await
        .unwrap();

    // Assert
    assert_eq!(state(&r), Failed);
    assert!(
        r.failure_reason.starts_with("the flight was refused: "),
        "{}",
        r.failure_reason
    );
    assert!(r.failure_reason.contains("seat"), "{}", r.failure_reason);
    assert_eq!(r.total_price, None);
    assert_eq!(world.flight.inventory(&flight).await, (1, 0, 0));
    assert_eq!(world.hotel.inventory(&room_type, 0).await, (5, 0, 0));
    assert_eq!(world.hotel.inventory(&room_type, 1).await, (5, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hotel_without_free_rooms_fails_the_bundle_and_nothing_stays_held() {
    // Arrange: 1 room, 2 wanted.
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let room_type = world.hotel.create(1, "EUR").await;
    let res = world.reservations().await;

    // Act
    let r = checkout(&res.customer("user-a"), bundle("req-1", &flight, 1, &room_type, 2, 2))
        .await
        .unwrap();

    // Assert
    assert_eq!(state(&r), Failed);
    assert!(
        r.failure_reason.starts_with("the hotel was refused: "),
        "{}",
        r.failure_reason
    );
    assert!(r.failure_reason.contains("room"), "{}", r.failure_reason);
    assert_eq!(world.flight.inventory(&flight).await, (10, 0, 0));
    assert_eq!(world.hotel.inventory(&room_type, 0).await, (1, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unknown_flight_fails_with_the_flight_services_reason() {
    // Arrange
    let world = World::start().await;
    let res = world.reservations().await;

    // Act
    let r = checkout(&res.customer("user-a"), flight_only("req-1", "no-such-flight", 1))
        .await
        .unwrap();

    // Assert
    assert_eq!(state(&r), Failed);
    assert!(r.failure_reason.contains("not found"), "{}", r.failure_reason);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bundle_priced_in_two_currencies_fails_and_nothing_stays_held() {
    // Arrange
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let room_type = world.hotel.create(5, "USD").await;
    let res = world.reservations().await;

    // Act
    let r = checkout(&res.customer("user-a"), bundle("req-1", &flight, 1, &room_type, 1, 2))
        .await
        .unwrap();

    // Assert
    assert_eq!(state(&r), Failed);
    assert_eq!(
        r.failure_reason,
        "the flight is priced in EUR and the hotel in USD; a bundle must be in one currency"
    );
    assert_eq!(r.total_price, None);
    assert_eq!(world.flight.inventory(&flight).await, (10, 0, 0));
    assert_eq!(world.hotel.inventory(&room_type, 0).await, (5, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stay_that_starts_before_today_is_refused_before_anything_is_held() {
    // Arrange: today (by the service's clock) is after the first night.
    let world = World::start().await;
    let room_type = world.hotel.create(5, "EUR").await;
    let res = world.reservations().await;
    let first_night = helpers::night_date(0).start().unix_millis();
    let now = travel::Clock::now(&world.clock).unix_millis();
    world.clock.advance(std::time::Duration::from_millis(
        (first_night - now) as u64 + 86_400_000,
    ));

    // Act
    let refused = checkout(&res.customer("user-a"), hotel_only("req-1", &room_type, 1, 2))
        .await
        .unwrap_err();

    // Assert
    use tonic_types::StatusExt;
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition, "{refused:?}");
    let reason = refused.get_error_details().error_info().map(|i| i.reason.clone());
    assert_eq!(reason.as_deref(), Some("STAY_IN_PAST"));
    assert!(
        res.store.list(None, None, 10).await.unwrap().is_empty(),
        "nothing recorded"
    );
    assert_eq!(world.hotel.inventory(&room_type, 0).await, (5, 0, 0), "nothing held");
}
