//! Who may call what on the hotel service: searches and gets are open to
//! anonymous callers; catalog changes need the admin role; holds, confirms and
//! releases need a service account.

use tonic::Code;
use travel::jwt::Role;
use travel::pb::hotel::v1 as pb;

use crate::helpers::{TestHotel, hold_request, hotel_request, room_type_request, search_request};

#[tokio::test]
async fn anonymous_callers_can_search_and_get_hotels() {
    let svc = TestHotel::start().await;
    let hotel = svc.create_hotel("Grand", "Lisbon").await;
    svc.add_room_type(&hotel.id, 2, 3, 10_000).await;
    let mut anonymous = svc.client_as(None);

    let found = anonymous
        .search_hotels(search_request("Lisbon", 0, 2, 2))
        .await
        .expect("anonymous search");
    let got = anonymous.get_hotel(pb::GetHotelRequest { id: hotel.id.clone() }).await;

    assert_eq!(found.into_inner().offers.len(), 1);
    assert!(got.is_ok(), "{got:?}");
}

#[tokio::test]
async fn each_rpc_refuses_callers_without_the_role_it_needs() {
    let svc = TestHotel::start().await;
    let hotel = svc.create_hotel("Grand", "Lisbon").await;
    let room = svc.add_room_type(&hotel.id, 2, 3, 10_000).await;
    let anonymous = svc.client_as(None);
    let customer = svc.client_as(Some(Role::Customer));
    let admin = svc.admin();
    let service = svc.client();
    let hold = || hold_request("h-1", &room, 0, 2, 1, 2);

    let cases = [
        (
            "anonymous CreateHotel",
            anonymous.clone().create_hotel(hotel_request("X", "Porto")).await.err(),
            Code::Unauthenticated,
        ),
        (
            "customer CreateHotel",
            customer.clone().create_hotel(hotel_request("X", "Porto")).await.err(),
            Code::PermissionDenied,
        ),
        (
            "service AddRoomType",
            service
                .clone()
                .add_room_type(room_type_request(&hotel.id, 2, 1, 100))
                .await
                .err(),
            Code::PermissionDenied,
        ),
        (
            "anonymous HoldRooms",
            anonymous.clone().hold_rooms(hold()).await.err(),
            Code::Unauthenticated,
        ),
        (
            "customer HoldRooms",
            customer.clone().hold_rooms(hold()).await.err(),
            Code::PermissionDenied,
        ),
        (
            "admin HoldRooms",
            admin.clone().hold_rooms(hold()).await.err(),
            Code::PermissionDenied,
        ),
        (
            "customer ReleaseRooms",
            customer
                .clone()
                .release_rooms(pb::ReleaseRoomsRequest { hold_id: "h-1".into() })
                .await
                .err(),
            Code::PermissionDenied,
        ),
    ];

    for (name, err, code) in cases {
        assert_eq!(err.map(|s| s.code()), Some(code), "{name}");
    }
    let inv = svc.assert_conserved(&room.id, 0).await;
    assert_eq!(inv.available, 3, "no refused call took a room");
}

#[tokio::test]
async fn an_invalid_token_is_refused_even_for_a_search() {
    let svc = TestHotel::start().await;
    let forged = svc.client_with_token(Some("eyJhbGciOiJub25lIn0.e30."));

    let err = forged
        .clone()
        .search_hotels(search_request("Lisbon", 0, 2, 2))
        .await
        .expect_err("forged");

    assert_eq!(err.code(), Code::Unauthenticated);
}
