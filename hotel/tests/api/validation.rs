//! Bad input through the API: every malformed field is an INVALID_ARGUMENT
//! naming that field in `google.rpc.BadRequest`, an oversized message is
//! refused by the transport, and the server keeps serving afterwards.

use tonic::{Code, Status};
use travel::pb::common::v1::Date;
use travel::pb::hotel::v1 as pb;

use crate::helpers::{
    TestHotel, eur, hold_request, hotel_request, night, room_type_request, search_request, violated_fields,
};

/// One bad request: what it is, what the server answered, and the field it must name.
type Case = (&'static str, Result<(), Status>, &'static str);

fn done<T>(result: Result<tonic::Response<T>, Status>) -> Result<(), Status> {
    result.map(|_| ())
}

#[tokio::test]
async fn bad_requests_are_invalid_argument_naming_the_bad_field() {
    // Arrange
    let svc = TestHotel::start().await;
    let hotel = svc.create_hotel("Grand", "Lisbon").await;
    let room = svc.add_room_type(&hotel.id, 2, 3, 10_000).await;
    let mut c = svc.client();
    let mut a = svc.admin();
    let hotel_with = |f: fn(&mut pb::CreateHotelRequest)| {
        let mut r = hotel_request("Grand", "Lisbon");
        f(&mut r);
        r
    };
    let room_with = |f: fn(&mut pb::AddRoomTypeRequest)| {
        let mut r = room_type_request(&hotel.id, 2, 3, 10_000);
        f(&mut r);
        r
    };
    let search_with = |f: fn(&mut pb::SearchHotelsRequest)| {
        let mut r = search_request("Lisbon", 0, 2, 2);
        f(&mut r);
        r
    };
    let hold_with = |f: fn(&mut pb::HoldRoomsRequest)| {
        let mut r = hold_request("h-1", &room, 0, 2, 1, 2);
        f(&mut r);
        r
    };

    // Act
    let cases: Vec<Case> = vec![
        (
            "empty hotel name",
            done(a.create_hotel(hotel_with(|r| r.name.clear())).await),
            "name",
        ),
        (
            "blank hotel name",
            done(a.create_hotel(hotel_with(|r| r.name = "   ".into())).await),
            "name",
        ),
        (
            "long hotel name",
            done(a.create_hotel(hotel_with(|r| r.name = "x".repeat(201))).await),
            "name",
        ),
        (
            "empty city",
            done(a.create_hotel(hotel_with(|r| r.city.clear())).await),
            "city",
        ),
        (
            "long address",
            done(a.create_hotel(hotel_with(|r| r.address = "x".repeat(301))).await),
            "address",
        ),
        (
            "malformed request id",
            done(a.create_hotel(hotel_with(|r| r.request_id = "a b".into())).await),
            "request_id",
        ),
        (
            "empty hotel id",
            done(a.add_room_type(room_with(|r| r.hotel_id.clear())).await),
            "hotel_id",
        ),
        (
            "malformed hotel id",
            done(a.add_room_type(room_with(|r| r.hotel_id = "h/1".into())).await),
            "hotel_id",
        ),
        (
            "empty room name",
            done(a.add_room_type(room_with(|r| r.name.clear())).await),
            "name",
        ),
        (
            "zero max guests",
            done(a.add_room_type(room_with(|r| r.max_guests = 0)).await),
            "max_guests",
        ),
        (
            "eleven max guests",
            done(a.add_room_type(room_with(|r| r.max_guests = 11)).await),
            "max_guests",
        ),
        (
            "zero total rooms",
            done(a.add_room_type(room_with(|r| r.total_rooms = 0)).await),
            "total_rooms",
        ),
        (
            "negative total rooms",
            done(a.add_room_type(room_with(|r| r.total_rooms = -3)).await),
            "total_rooms",
        ),
        (
            "1001 total rooms",
            done(a.add_room_type(room_with(|r| r.total_rooms = 1001)).await),
            "total_rooms",
        ),
        (
            "no price",
            done(a.add_room_type(room_with(|r| r.nightly_price = None)).await),
            "nightly_price",
        ),
        (
            "negative price",
            done(a.add_room_type(room_with(|r| r.nightly_price = Some(eur(-1)))).await),
            "nightly_price",
        ),
        (
            "huge price",
            done(
                a.add_room_type(room_with(|r| r.nightly_price = Some(eur(i64::MAX))))
                    .await,
            ),
            "nightly_price",
        ),
        (
            "empty get id",
            done(c.get_hotel(pb::GetHotelRequest { id: String::new() }).await),
            "id",
        ),
        (
            "malformed get id",
            done(c.get_hotel(pb::GetHotelRequest { id: "a b".into() }).await),
            "id",
        ),
        (
            "empty search city",
            done(c.search_hotels(search_with(|r| r.city.clear())).await),
            "city",
        ),
        (
            "no check-in",
            done(c.search_hotels(search_with(|r| r.check_in = None)).await),
            "check_in",
        ),
        (
            "impossible check-in",
            done(
                c.search_hotels(search_with(|r| {
                    r.check_in = Some(Date {
                        year: 2030,
                        month: 2,
                        day: 30,
                    })
                }))
                .await,
            ),
            "check_in",
        ),
        (
            "check-in in 1999",
            done(
                c.search_hotels(search_with(|r| {
                    r.check_in = Some(Date {
                        year: 1999,
                        month: 12,
                        day: 31,
                    })
                }))
                .await,
            ),
            "check_in",
        ),
        (
            "check-out in 2101",
            done(
                c.search_hotels(search_with(|r| {
                    r.check_in = Some(Date {
                        year: 2100,
                        month: 12,
                        day: 31,
                    });
                    r.check_out = Some(Date {
                        year: 2101,
                        month: 1,
                        day: 1,
                    })
                }))
                .await,
            ),
            "check_out",
        ),
        (
            "check-out on check-in",
            done(c.search_hotels(search_with(|r| r.check_out = Some(night(0)))).await),
            "check_out",
        ),
        (
            "check-out before check-in",
            done(c.search_hotels(search_with(|r| r.check_in = Some(night(5)))).await),
            "check_out",
        ),
        (
            "31-night search",
            done(c.search_hotels(search_with(|r| r.check_out = Some(night(31)))).await),
            "check_out",
        ),
        (
            "zero guests",
            done(c.search_hotels(search_with(|r| r.guests = 0)).await),
            "guests",
        ),
        (
            "negative guests",
            done(c.search_hotels(search_with(|r| r.guests = -1)).await),
            "guests",
        ),
        (
            "21 guests",
            done(c.search_hotels(search_with(|r| r.guests = 21)).await),
            "guests",
        ),
        (
            "negative rooms",
            done(c.search_hotels(search_with(|r| r.rooms = -1)).await),
            "rooms",
        ),
        (
            "ten rooms",
            done(c.search_hotels(search_with(|r| r.rooms = 10)).await),
            "rooms",
        ),
        (
            "page size 101",
            done(c.search_hotels(search_with(|r| r.page_size = 101)).await),
            "page_size",
        ),
        (
            "page size -1",
            done(c.search_hotels(search_with(|r| r.page_size = -1)).await),
            "page_size",
        ),
        (
            "garbage page token",
            done(c.search_hotels(search_with(|r| r.page_token = "garbage!".into())).await),
            "page_token",
        ),
        (
            "empty hold id",
            done(c.hold_rooms(hold_with(|r| r.hold_id.clear())).await),
            "hold_id",
        ),
        (
            "malformed hold id",
            done(c.hold_rooms(hold_with(|r| r.hold_id = "a b".into())).await),
            "hold_id",
        ),
        (
            "long hold id",
            done(c.hold_rooms(hold_with(|r| r.hold_id = "h".repeat(129))).await),
            "hold_id",
        ),
        (
            "empty room type id",
            done(c.hold_rooms(hold_with(|r| r.room_type_id.clear())).await),
            "room_type_id",
        ),
        (
            "empty hold hotel id",
            done(c.hold_rooms(hold_with(|r| r.hotel_id.clear())).await),
            "hotel_id",
        ),
        (
            "hold check-out on check-in",
            done(c.hold_rooms(hold_with(|r| r.check_out = Some(night(0)))).await),
            "check_out",
        ),
        (
            "31-night hold",
            done(c.hold_rooms(hold_with(|r| r.check_out = Some(night(31)))).await),
            "check_out",
        ),
        (
            "no hold check-out",
            done(c.hold_rooms(hold_with(|r| r.check_out = None)).await),
            "check_out",
        ),
        (
            "zero rooms held",
            done(c.hold_rooms(hold_with(|r| r.rooms = 0)).await),
            "rooms",
        ),
        (
            "negative rooms held",
            done(c.hold_rooms(hold_with(|r| r.rooms = -2)).await),
            "rooms",
        ),
        (
            "ten rooms held",
            done(c.hold_rooms(hold_with(|r| r.rooms = 10)).await),
            "rooms",
        ),
        (
            "zero guests held",
            done(c.hold_rooms(hold_with(|r| r.guests = 0)).await),
            "guests",
        ),
        (
            "negative guests held",
            done(c.hold_rooms(hold_with(|r| r.guests = -1)).await),
            "guests",
        ),
        (
            "empty confirm id",
            done(
                c.confirm_rooms(pb::ConfirmRoomsRequest { hold_id: String::new() })
                    .await,
            ),
            "hold_id",
        ),
        (
            "long release id",
            done(
                c.release_rooms(pb::ReleaseRoomsRequest {
                    hold_id: "r".repeat(129),
                })
                .await,
            ),
            "hold_id",
        ),
    ];

    // Assert
    for (what, result, field) in cases {
        let status = result.expect_err(what);
        assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
        assert!(
            violated_fields(&status).iter().any(|f| f == field),
            "{what}: expected a violation of `{field}`, got {:?}",
            violated_fields(&status)
        );
    }
    assert_eq!(
        svc.assert_conserved(&room.id, 0).await.available,
        3,
        "no bad hold took a room"
    );
}

#[tokio::test]
async fn every_bad_field_of_a_request_is_reported_at_once() {
    // Arrange
    let svc = TestHotel::start().await;
    let request = pb::HoldRoomsRequest {
        hold_id: String::new(),
        room_type_id: String::new(),
        check_in: None,
        check_out: None,
        rooms: 0,
        hotel_id: String::new(),
        guests: 0,
    };

    // Act
    let status = svc.client().hold_rooms(request).await.expect_err("all bad");

    // Assert
    assert_eq!(status.code(), Code::InvalidArgument);
    let mut fields = violated_fields(&status);
    fields.sort();
    assert_eq!(
        fields,
        [
            "check_in",
            "check_out",
            "guests",
            "hold_id",
            "hotel_id",
            "room_type_id",
            "rooms"
        ]
    );
}

#[tokio::test]
async fn an_oversized_message_is_out_of_range_and_the_server_keeps_serving() {
    // Arrange: a 2 MiB hotel name, over the 1 MiB limit.
    let svc = TestHotel::start().await;
    let hotel = svc.create_hotel("Grand", "Lisbon").await;
    assert!(svc.config.host.server.max_message_bytes < 2 * 1024 * 1024);
    let huge = hotel_request(&"x".repeat(2 * 1024 * 1024), "Lisbon");

    // Act
    let status = svc.admin().create_hotel(huge).await.expect_err("too large");
    let after = svc
        .client()
        .get_hotel(pb::GetHotelRequest { id: hotel.id.clone() })
        .await;

    // Assert
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    assert_eq!(
        after.expect("still serving").into_inner().hotel.map(|h| h.id),
        Some(hotel.id)
    );
}

#[tokio::test]
async fn searches_may_name_past_stays_inside_the_2000_to_2100_window() {
    let svc = TestHotel::start().await;
    let mut c = svc.client();
    let date = |year, month, day| Some(Date { year, month, day });
    for (check_in, check_out) in [
        (date(2000, 1, 1), date(2000, 1, 3)),
        (date(2029, 6, 1), date(2029, 6, 3)),
        (date(2100, 12, 30), date(2100, 12, 31)),
    ] {
        let mut req = search_request("Lisbon", 0, 1, 1);
        req.check_in = check_in;
        req.check_out = check_out;
        let found = c.search_hotels(req).await;
        assert!(found.is_ok(), "search {check_in:?}..{check_out:?}: {found:?}");
    }
}
