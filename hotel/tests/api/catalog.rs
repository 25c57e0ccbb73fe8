//! The catalog through the API: hotels and room types, request-id idempotency
//! (AIP-155), and GetHotel.

use tonic::Code;
use travel::pb::hotel::v1 as pb;

use crate::helpers;
use crate::helpers::{TestHotel, hotel_request, room_type_request};

#[tokio::test]
async fn create_hotel_returns_the_hotel_as_given_without_room_types() {
    // Arrange
    let svc = TestHotel::start().await;

    // Act
    let hotel = svc.create_hotel("  Grand Hotel ", "São Paulo").await;

    // Assert
    assert!(!hotel.id.is_empty());
    assert_eq!(hotel.name, "Grand Hotel", "names are trimmed");
    assert_eq!(hotel.city, "São Paulo", "the city keeps its spelling");
    assert_eq!(hotel.address, "Rua Augusta 1");
    assert!(hotel.room_types.is_empty());
}

#[tokio::test]
async fn create_hotel_with_the_same_request_id_and_request_returns_the_first_hotel() {
    // Arrange
    let svc = TestHotel::start().await;
    let mut request = hotel_request("Grand", "Lisbon");
    request.request_id = "create-grand-1".into();
    let first = svc
        .admin()
        .create_hotel(request.clone())
        .await
        .expect("create")
        .into_inner();

    // Act
    let retry = svc.admin().create_hotel(request).await.expect("retry").into_inner();

    // Assert
    assert_eq!(retry.hotel, first.hotel);
    let offers = svc
        .admin()
        .search_hotels(helpers::search_request("Lisbon", 0, 1, 1))
        .await
        .expect("search")
        .into_inner()
        .offers;
    assert!(offers.is_empty(), "no room types yet, and no second hotel");
}

#[tokio::test]
async fn create_hotel_with_a_request_id_used_for_another_request_is_already_exists() {
    // Arrange
    let svc = TestHotel::start().await;
    let mut request = hotel_request("Grand", "Lisbon");
    request.request_id = "create-1".into();
    svc.admin().create_hotel(request.clone()).await.expect("create");
    request.name = "Other".into();

    // Act
    let status = svc.admin().create_hotel(request).await.expect_err("different request");

    // Assert
    assert_eq!(status.code(), Code::AlreadyExists);
}

#[tokio::test]
async fn create_hotel_without_a_request_id_creates_a_new_hotel_each_time() {
    // Arrange
    let svc = TestHotel::start().await;

    // Act
    let first = svc.create_hotel("Grand", "Lisbon").await;
    let second = svc.create_hotel("Grand", "Lisbon").await;

    // Assert
    assert_ne!(first.id, second.id);
}

#[tokio::test]
async fn add_room_type_with_the_same_request_id_returns_the_first_room_type() {
    // Arrange
    let svc = TestHotel::start().await;
    let hotel = svc.create_hotel("Grand", "Lisbon").await;
    let mut request = room_type_request(&hotel.id, 2, 10, 12_000);
    request.request_id = "add-double".into();
    let first = svc
        .admin()
        .add_room_type(request.clone())
        .await
        .expect("add")
        .into_inner();

    // Act
    let retry = svc
        .admin()
        .add_room_type(request.clone())
        .await
        .expect("retry")
        .into_inner();
    request.total_rooms = 11;
    let different = svc.admin().add_room_type(request).await.expect_err("different request");

    // Assert
    assert_eq!(retry.room_type, first.room_type);
    assert_eq!(different.code(), Code::AlreadyExists);
    let got = svc.get_hotel(&hotel.id).await;
    assert_eq!(got.room_types.len(), 1);
}

#[tokio::test]
async fn add_room_type_to_an_unknown_hotel_is_not_found() {
    // Arrange
    let svc = TestHotel::start().await;

    // Act
    let status = svc
        .admin()
        .add_room_type(room_type_request("no-such-hotel", 2, 10, 12_000))
        .await
        .expect_err("unknown hotel");

    // Assert
    assert_eq!(status.code(), Code::NotFound);
}

#[tokio::test]
async fn get_hotel_lists_room_types_in_the_order_they_were_added() {
    // Arrange
    let svc = TestHotel::start().await;
    let hotel = svc.create_hotel("Grand", "Lisbon").await;
    let mut added = Vec::new();
    for (max_guests, price) in [(4, 30_000), (1, 8_000), (2, 12_000), (3, 20_000)] {
        added.push(svc.add_room_type(&hotel.id, max_guests, 5, price).await);
    }

    // Act
    let got = svc.get_hotel(&hotel.id).await;

    // Assert
    assert_eq!(got.id, hotel.id);
    assert_eq!(got.room_types, added);
    let first = &got.room_types[0];
    assert_eq!((first.max_guests, first.total_rooms), (4, 5));
    assert_eq!(first.nightly_price, Some(helpers::eur(30_000)));
    assert_eq!(first.hotel_id, hotel.id);
}

#[tokio::test]
async fn get_hotel_of_an_unknown_id_is_not_found() {
    // Arrange
    let svc = TestHotel::start().await;

    // Act
    let status = svc
        .admin()
        .get_hotel(pb::GetHotelRequest { id: "nope".into() })
        .await
        .expect_err("unknown hotel");

    // Assert
    assert_eq!(status.code(), Code::NotFound);
}
