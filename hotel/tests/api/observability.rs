//! What the hotel service tells its operators: the hold counters, by what each
//! hold did, and the room-nights on sale.

use std::time::Duration;

use travel::Clock;
use travel::testing::metrics::value;

use crate::helpers::{TTL, TestHotel, hold_request};

/// From the clock's start (2030-01-01) to the tests' first night (2030-03-01).
const TO_FIRST_NIGHT: Duration = Duration::from_secs(59 * 86_400);

#[tokio::test]
async fn holds_are_counted_once_each_by_what_they_did() {
    // Arrange: two rooms sleeping two each.
    let svc = TestHotel::start().await;
    let hotel = svc.create_hotel("Tivoli", "Lisbon").await;
    let room = svc.add_room_type(&hotel.id, 2, 2, 10_000).await;
    let counter = |name| value(&svc.metrics, name, &[]);
    let refused = |reason| value(&svc.metrics, "travel_holds_refused_total", &[("reason", reason)]);

    // Act: a hold and its retry, a confirm twice; refusals; a release twice; an expiry.
    svc.hold("h1", &room, 0, 2, 1).await.expect("hold");
    svc.hold("h1", &room, 0, 2, 1).await.expect("the same hold again");
    svc.confirm("h1").await.expect("confirm");
    svc.confirm("h1").await.expect("confirm again");
    svc.hold("h2", &room, 1, 3, 2)
        .await
        .expect_err("one room left on night 1");
    let crowded = hold_request("h3", &room, 0, 1, 1, 3);
    svc.client().hold_rooms(crowded).await.expect_err("too many guests");
    svc.hold("h4", &room, 4, 5, 1).await.expect("hold");
    svc.release("h4").await.expect("release");
    svc.release("h4").await.expect("release again");
    svc.hold("h5", &room, 4, 5, 1).await.expect("hold");
    svc.clock.advance(TTL + Duration::from_secs(1));
    let swept = svc.store.expire_due_holds(svc.clock.now()).await.expect("sweep");

    // Assert
    assert_eq!(swept, 1);
    assert_eq!(counter("travel_holds_taken_total"), 3.0, "h1 (once), h4, h5");
    assert_eq!(refused("sold_out"), 1.0);
    assert_eq!(refused("too_many_guests"), 1.0);
    assert_eq!(counter("travel_holds_confirmed_total"), 1.0);
    assert_eq!(counter("travel_holds_released_total"), 1.0);
    assert_eq!(counter("travel_holds_expired_total"), 1.0);
}

#[tokio::test]
async fn room_nights_on_sale_are_the_free_rooms_of_the_next_thirty_nights() {
    // Arrange: tonight is the first night; four rooms.
    let svc = TestHotel::start().await;
    svc.clock.advance(TO_FIRST_NIGHT);
    let hotel = svc.create_hotel("Tivoli", "Lisbon").await;
    let room = svc.add_room_type(&hotel.id, 2, 4, 10_000).await;
    let on_sale = || async { svc.store.room_nights_available(svc.clock.now()).await.expect("count") };
    let before = on_sale().await;

    // Act: two rooms for nights 0 and 1; one room for nights 28 to 31, two of
    // them inside the thirty nights.
    svc.hold("h1", &room, 0, 2, 2).await.expect("hold");
    svc.hold("h2", &room, 28, 32, 1).await.expect("hold");
    let after = on_sale().await;

    // Assert
    assert_eq!(before, 4 * 30);
    assert_eq!(after, 4 * 30 - 2 * 2 - 2);
}
