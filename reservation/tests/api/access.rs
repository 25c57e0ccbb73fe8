//! Who may do what: customers see, list and cancel only their own reservations
//! (anyone else's is NOT_FOUND), admins see everyone's, anonymous callers are
//! UNAUTHENTICATED and service accounts PERMISSION_DENIED; bad input is
//! INVALID_ARGUMENT naming the fields.

use tonic::Code;
use travel::pb::reservation::v1 as pb;
use travel::pb::reservation::v1::ReservationState::Confirmed;

use crate::helpers;
use crate::helpers::{World, cancel, checkout, flight_only, get, hotel_only, state, violated_fields};

async fn list(client: &helpers::Client) -> Result<Vec<String>, tonic::Status> {
    let page = client
        .clone()
        .list_reservations(pb::ListReservationsRequest::default())
        .await?
        .into_inner();
    Ok(page.reservations.into_iter().map(|r| r.id).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_customer_cannot_get_list_or_cancel_another_customers_reservation() {
    // Arrange
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let res = world.reservations().await;
    let (alice, bob) = (res.customer("user-a"), res.customer("user-b"));
    let mine = checkout(&alice, flight_only("req-1", &flight, 1)).await.unwrap();

    // Act
    let got = get(&bob, &mine.id).await.unwrap_err();
    let cancelled = cancel(&bob, &mine.id).await.unwrap_err();
    let listed = list(&bob).await.unwrap();

    // Assert
    assert_eq!(got.code(), Code::NotFound);
    assert_eq!(cancelled.code(), Code::NotFound);
    assert!(listed.is_empty());
    assert_eq!(state(&get(&alice, &mine.id).await.unwrap()), Confirmed, "still booked");
    assert_eq!(list(&alice).await.unwrap(), vec![mine.id.clone()]);
    assert_eq!(world.flight.inventory(&flight).await, (9, 0, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_request_id_of_two_customers_makes_two_reservations() {
    // Arrange
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let res = world.reservations().await;

    // Act
    let a = checkout(&res.customer("user-a"), flight_only("same", &flight, 1))
        .await
        .unwrap();
    let b = checkout(&res.customer("user-b"), flight_only("same", &flight, 1))
        .await
        .unwrap();

    // Assert
    assert_ne!(a.id, b.id);
    assert_eq!(world.flight.inventory(&flight).await, (8, 0, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_admin_sees_every_reservation() {
    // Arrange
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let room_type = world.hotel.create(5, "EUR").await;
    let res = world.reservations().await;
    let a = checkout(&res.customer("user-a"), flight_only("req-1", &flight, 1))
        .await
        .unwrap();
    let b = checkout(&res.customer("user-b"), hotel_only("req-1", &room_type, 1, 1))
        .await
        .unwrap();
    let admin = res.admin("admin-1");

    // Act
    let got = get(&admin, &a.id).await.unwrap();
    let listed = list(&admin).await.unwrap();

    // Assert
    assert_eq!(got.user_id, "user-a");
    assert_eq!(listed, [b.id.clone(), a.id.clone()], "everyone's, newest first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn anonymous_callers_and_service_accounts_are_refused() {
    // Arrange
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let res = world.reservations().await;

    // Act
    let anonymous = checkout(&res.anonymous(), flight_only("req-1", &flight, 1))
        .await
        .unwrap_err();
    let anonymous_list = list(&res.anonymous()).await.unwrap_err();
    let service = checkout(&res.service(), flight_only("req-1", &flight, 1))
        .await
        .unwrap_err();
    let service_list = list(&res.service()).await.unwrap_err();

    // Assert
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    assert_eq!(anonymous_list.code(), Code::Unauthenticated);
    assert_eq!(service.code(), Code::PermissionDenied);
    assert_eq!(service_list.code(), Code::PermissionDenied);
    assert_eq!(world.flight.inventory(&flight).await, (10, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_is_refused_naming_the_fields() {
    // Arrange
    let world = World::start().await;
    let room_type = world.hotel.create(5, "EUR").await;
    let res = world.reservations().await;
    let alice = res.customer("user-a");
    let mut stay_backwards = hotel_only("req-1", &room_type, 1, 2);
    if let Some(h) = stay_backwards.hotel.as_mut() {
        std::mem::swap(&mut h.check_in, &mut h.check_out);
    }
    let cases = [
        (flight_only("req-1", "f1", 0), vec!["flight.seats"]),
        (flight_only("req-1", "f1", 10), vec!["flight.seats"]),
        (flight_only("", "f1", 1), vec!["request_id"]),
        (flight_only("bad id!", "", 1), vec!["request_id", "flight.flight_id"]),
        (stay_backwards, vec!["hotel.check_out"]),
        (
            pb::CheckoutRequest {
                request_id: "req-1".into(),
                flight: None,
                hotel: None,
            },
            vec!["flight", "hotel"],
        ),
    ];

    for (request, fields) in cases {
        // Act
        let status = checkout(&alice, request.clone()).await.unwrap_err();

        // Assert
        assert_eq!(status.code(), Code::InvalidArgument, "{request:?}");
        assert_eq!(violated_fields(&status), fields, "{request:?}");
    }
    let bad_id = get(&alice, "").await.unwrap_err();
    assert_eq!(violated_fields(&bad_id), ["id"]);
    let bad_page = alice
        .clone()
        .list_reservations(pb::ListReservationsRequest {
            page_size: 101,
            page_token: "nonsense".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&bad_page), ["page_size", "page_token"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_page_token_is_valid_only_for_the_caller_it_was_issued_to() {
    // Arrange
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let res = world.reservations().await;
    let alice = res.customer("user-a");
    for i in 0..3 {
        checkout(&alice, flight_only(&format!("req-{i}"), &flight, 1))
            .await
            .unwrap();
    }
    let page = alice
        .clone()
        .list_reservations(pb::ListReservationsRequest {
            page_size: 2,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.reservations.len(), 2);

    // Act
    let stolen = res
        .customer("user-b")
        .list_reservations(pb::ListReservationsRequest {
            page_size: 2,
            page_token: page.next_page_token,
        })
        .await
        .unwrap_err();

    // Assert
    assert_eq!(violated_fields(&stolen), ["page_token"]);
}
