//! SearchHotels through the API: only room types free on every night of the
//! stay, priced for the whole stay, ordered and paginated with tokens bound to
//! their query.

use std::collections::HashSet;

use tonic::Code;
use travel::pb::hotel::v1 as pb;

use crate::helpers::{TestHotel, search_request, violated_fields};

/// Two Lisbon hotels (one spelt "LISBON") and one in Porto.
struct Catalog {
    svc: TestHotel,
    /// Grand, Lisbon: doubles, 2 rooms at 100.00.
    a1: pb::RoomType,
    /// Grand, Lisbon: a family room for 4, 1 room at 250.00.
    a2: pb::RoomType,
    /// Budget, LISBON: doubles, 5 rooms at 80.00.
    b1: pb::RoomType,
}

async fn catalog() -> Catalog {
    let svc = TestHotel::start().await;
    let grand = svc.create_hotel("Grand", "Lisbon").await;
    let budget = svc.create_hotel("Budget", "LISBON").await;
    let porto = svc.create_hotel("Porto Inn", "Porto").await;
    let a1 = svc.add_room_type(&grand.id, 2, 2, 10_000).await;
    let a2 = svc.add_room_type(&grand.id, 4, 1, 25_000).await;
    let b1 = svc.add_room_type(&budget.id, 2, 5, 8_000).await;
    svc.add_room_type(&porto.id, 2, 5, 5_000).await;
    Catalog { svc, a1, a2, b1 }
}

async fn search(svc: &TestHotel, request: pb::SearchHotelsRequest) -> pb::SearchHotelsResponse {
    svc.client().search_hotels(request).await.expect("search").into_inner()
}

/// (room type id, total price in minor units, available rooms) of each offer.
fn summary(response: &pb::SearchHotelsResponse) -> Vec<(String, i64, i32)> {
    response
        .offers
        .iter()
        .map(|o| {
            let room = o.room_type.as_ref().expect("room type");
            let total = o.total_price.as_ref().expect("total").amount_minor;
            (room.id.clone(), total, o.available_rooms)
        })
        .collect()
}

#[tokio::test]
async fn search_returns_only_room_types_free_on_every_night_of_the_stay() {
    // Arrange: both Grand doubles are held on night 1.
    let Catalog { svc, a1, a2, b1 } = catalog().await;
    svc.hold("full", &a1, 1, 2, 2).await.expect("hold");

    // Act
    let over_night_1 = search(&svc, search_request("lisbon", 0, 3, 2)).await;
    let after_night_1 = search(&svc, search_request("Lisbon", 2, 4, 2)).await;

    // Assert
    assert_eq!(
        summary(&over_night_1),
        [(b1.id.clone(), 24_000, 5), (a2.id.clone(), 75_000, 1)]
    );
    assert_eq!(
        summary(&after_night_1),
        [(b1.id, 16_000, 5), (a1.id, 20_000, 2), (a2.id, 50_000, 1)]
    );
    assert!(over_night_1.next_page_token.is_empty());
}

#[tokio::test]
async fn search_matches_the_city_ignoring_case_and_returns_it_as_given() {
    // Arrange
    let Catalog { svc, b1, .. } = catalog().await;

    // Act
    let response = search(&svc, search_request("  lIsBoN ", 0, 1, 1)).await;

    // Assert
    assert_eq!(response.offers.len(), 3, "both Lisbon hotels, not Porto");
    let budget = response
        .offers
        .iter()
        .find(|o| o.room_type.as_ref().map(|r| &r.id) == Some(&b1.id));
    let hotel = budget.and_then(|o| o.hotel.clone()).expect("Budget's offer");
    assert_eq!((hotel.name.as_str(), hotel.city.as_str()), ("Budget", "LISBON"));
    assert!(hotel.room_types.is_empty());
    assert!(response.offers.iter().all(|o| o.nights == 1));
}

#[tokio::test]
async fn search_offers_only_room_types_whose_rooms_sleep_the_guests() {
    // Arrange
    let Catalog { svc, a1, a2, b1 } = catalog().await;
    let mut two_rooms = search_request("Lisbon", 0, 2, 3);
    two_rooms.rooms = 2;

    // Act
    let one_room = search(&svc, search_request("Lisbon", 0, 2, 3)).await;
    let two_rooms = search(&svc, two_rooms).await;

    // Assert: one room for 3 is the family room; two doubles also sleep 3, and
    // the price counts both rooms. The family room has only one room.
    assert_eq!(summary(&one_room), [(a2.id, 50_000, 1)]);
    assert_eq!(summary(&two_rooms), [(b1.id, 32_000, 5), (a1.id, 40_000, 2)]);
}

#[tokio::test]
async fn available_rooms_is_the_fewest_free_on_any_night_of_the_stay() {
    // Arrange: 3 of Budget's 5 rooms are held on night 2 only.
    let Catalog { svc, b1, .. } = catalog().await;
    svc.hold("three", &b1, 2, 3, 3).await.expect("hold");
    let mut three_rooms = search_request("Lisbon", 0, 4, 2);
    three_rooms.rooms = 3;

    // Act
    let one_room = search(&svc, search_request("Lisbon", 0, 4, 2)).await;
    let three_rooms = search(&svc, three_rooms).await;

    // Assert
    let budget = summary(&one_room).into_iter().find(|(id, ..)| *id == b1.id);
    assert_eq!(budget, Some((b1.id.clone(), 32_000, 2)));
    assert!(summary(&three_rooms).iter().all(|(id, ..)| *id != b1.id));
}

#[tokio::test]
async fn paging_through_a_search_returns_every_offer_exactly_once_in_order() {
    // Arrange: 6 hotels × 2 room types, with many equal prices.
    let svc = TestHotel::start().await;
    let mut all = HashSet::new();
    for h in 0..6 {
        let hotel = svc.create_hotel(&format!("Hotel {h}"), "Faro").await;
        for r in 0..2 {
            let room = svc.add_room_type(&hotel.id, 2, 3, 5_000 + ((h + r) % 3) * 1_000).await;
            all.insert(room.id);
        }
    }

    // Act
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut request = search_request("Faro", 0, 2, 2);
    request.page_size = 5;
    loop {
        let page = search(&svc, request.clone()).await;
        pages.push(page.offers.len());
        seen.extend(page.offers.iter().map(|o| {
            let hotel = o.hotel.as_ref().expect("hotel").id.clone();
            let room = o.room_type.as_ref().expect("room").id.clone();
            (o.total_price.as_ref().expect("total").amount_minor, hotel, room)
        }));
        if page.next_page_token.is_empty() {
            break;
        }
        request.page_token = page.next_page_token;
    }

    // Assert
    assert_eq!(pages, [5, 5, 2]);
    let ids: HashSet<_> = seen.iter().map(|(_, _, room)| room.clone()).collect();
    assert_eq!(ids.len(), seen.len(), "no offer twice");
    assert_eq!(ids, all, "every offer once");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "ordered by total price, then hotel id, then room type id");
}

#[tokio::test]
async fn a_page_token_is_refused_by_another_search_but_not_by_another_page_size() {
    // Arrange
    let Catalog { svc, .. } = catalog().await;
    let mut first = search_request("Lisbon", 0, 2, 1);
    first.page_size = 1;
    let token = search(&svc, first.clone()).await.next_page_token;
    assert!(!token.is_empty());

    // Act
    let mut other_city = search_request("Porto", 0, 2, 1);
    other_city.page_token = token.clone();
    let mut other_guests = search_request("Lisbon", 0, 2, 2);
    other_guests.page_token = token.clone();
    let mut other_size = first;
    other_size.page_size = 10;
    other_size.page_token = token;
    let other_city = svc.client().search_hotels(other_city).await.expect_err("other city");
    let other_guests = svc
        .client()
        .search_hotels(other_guests)
        .await
        .expect_err("other guests");
    let rest = search(&svc, other_size).await;

    // Assert
    for status in [other_city, other_guests] {
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(violated_fields(&status), ["page_token"]);
    }
    assert_eq!(rest.offers.len(), 2, "the other two Lisbon offers");
}
