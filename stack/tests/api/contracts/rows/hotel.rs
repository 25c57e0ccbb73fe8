//! The documented boundaries of the hotel service's requests.

use travel::pb::common::v1::{Date, Money};
use travel::pb::hotel::v1::{
    AddRoomTypeRequest, ConfirmRoomsRequest, CreateHotelRequest, GetHotelRequest, HoldRoomsRequest,
    ReleaseRoomsRequest, SearchHotelsRequest,
};

use super::flight::{date, eur};
use super::{CHECK_OUT, DATE, HOLD_ID, ID, KEY, PAGE_SIZE, Row, fresh, ints, longest, row, times, token};
use crate::contracts::calls::Call;

const P: &str = "travel.hotel.v1.";
const NAME: &str = "1 to 200 characters (Unicode code points) once white space at either end is \
     trimmed; no control characters (Unicode Cc).";
const CITY: &str = "1 to 100 characters (Unicode code points) once white space at either end is \
     trimmed; no control characters (Unicode Cc).";
const ADDRESS: &str = "0 to 300 characters (Unicode code points) once white space at either end is \
     trimmed; no control characters (Unicode Cc).";
const NIGHTLY_PRICE: &str = "a valid Money (see Money) with amount_minor at most 1000000000000000 \
     (10^15); required.";
const PAGE_TOKEN: &str = "empty (the first page), or the next_page_token of a previous response to the same search.";
const ROOMS_SEARCH: &str = "0 to 9; 0 means 1.";

/// The nights from 2030-03-01.
pub fn stay(nights: i32) -> (Option<Date>, Option<Date>) {
    let out = if nights <= 30 {
        date(2030, 3, 1 + nights)
    } else {
        date(2030, 4, nights - 30)
    };
    (date(2030, 3, 1), out)
}

fn create() -> CreateHotelRequest {
    CreateHotelRequest {
        name: "Hotel Boundary".into(),
        city: "Lisbon".into(),
        address: String::new(),
        request_id: String::new(),
    }
}

fn room_type() -> AddRoomTypeRequest {
    AddRoomTypeRequest {
        hotel_id: "no-such-hotel".into(),
        name: "Double".into(),
        max_guests: 2,
        total_rooms: 10,
        nightly_price: eur(10_000),
        request_id: String::new(),
    }
}

fn search() -> SearchHotelsRequest {
    let (check_in, check_out) = stay(2);
    SearchHotelsRequest {
        city: "Lisbon".into(),
        check_in,
        check_out,
        guests: 2,
        rooms: 1,
        page_size: 0,
        page_token: String::new(),
    }
}

fn hold() -> HoldRoomsRequest {
    let (check_in, check_out) = stay(2);
    HoldRoomsRequest {
        hold_id: fresh(16),
        room_type_id: "no-such-room-type".into(),
        check_in,
        check_out,
        rooms: 1,
        hotel_id: "no-such-hotel".into(),
        guests: 2,
    }
}

/// The rows of a trimmed text field of `max` characters (`min` 0 or 1).
fn text(
    field: &str,
    rule: &'static str,
    violation: &'static str,
    min: usize,
    max: usize,
    build: impl Fn(String) -> Call,
) -> Vec<Row> {
    let shortest = if min == 0 {
        row(field, rule, violation, build(String::new()), build("a\u{7}".into()))
    } else {
        row(field, rule, violation, build("x".into()), build(" \t ".into()))
    };
    vec![
        longest(field, rule, violation, max, |n| times('\u{e9}', n), &build),
        row(
            field,
            rule,
            violation,
            build(format!("  {}  ", times('x', max))),
            build(times('x', max + 1)),
        ),
        shortest,
        row(field, rule, violation, build("a b".into()), build("a\u{0}b".into())),
        row(field, rule, violation, build("a-b".into()), build("a\nb".into())),
    ]
}

/// The rows of a message's `check_in` and `check_out`, whose violations name `(in_v, out_v)`.
pub fn dates(
    message: &str,
    (in_v, out_v): (&'static str, &'static str),
    build: impl Fn(Option<Date>, Option<Date>) -> Call,
) -> Vec<Row> {
    let (check_in, check_out) = stay(1);
    let out = format!("{message}.check_out");
    let at = |n: i32| {
        let (i, o) = stay(n);
        build(i, o)
    };
    vec![
        row(
            format!("{message}.check_in"),
            DATE,
            in_v,
            build(check_in, check_out),
            build(None, check_out),
        ),
        row(out.clone(), CHECK_OUT, out_v, at(1), at(0)),
        row(out.clone(), CHECK_OUT, out_v, at(30), at(31)),
        row(out, CHECK_OUT, out_v, build(check_in, check_out), build(check_in, None)),
    ]
}

fn create_rows() -> Vec<Row> {
    let f = |name: &str| format!("{P}CreateHotelRequest.{name}");
    let r = |name: &str| format!("{P}AddRoomTypeRequest.{name}");
    let mut rows = Vec::new();
    rows.extend(text(&f("name"), NAME, "name", 1, 200, |name| {
        Call::CreateHotel(CreateHotelRequest { name, ..create() })
    }));
    rows.extend(text(&f("city"), CITY, "city", 1, 100, |city| {
        Call::CreateHotel(CreateHotelRequest { city, ..create() })
    }));
    rows.extend(text(&f("address"), ADDRESS, "address", 0, 300, |address| {
        Call::CreateHotel(CreateHotelRequest { address, ..create() })
    }));
    rows.extend(token(&f("request_id"), KEY, "request_id", |request_id| {
        Call::CreateHotel(CreateHotelRequest { request_id, ..create() })
    }));
    let add = Call::AddRoomType;
    rows.extend(token(&r("hotel_id"), ID, "hotel_id", |hotel_id| {
        add(AddRoomTypeRequest {
            hotel_id,
            ..room_type()
        })
    }));
    rows.extend(text(&r("name"), NAME, "name", 1, 200, |name| {
        add(AddRoomTypeRequest { name, ..room_type() })
    }));
    rows.extend(ints(
        &r("max_guests"),
        "1 to 10.",
        "max_guests",
        (1, 10),
        |max_guests| {
            add(AddRoomTypeRequest {
                max_guests,
                ..room_type()
            })
        },
    ));
    rows.extend(ints(
        &r("total_rooms"),
        "1 to 1000.",
        "total_rooms",
        (1, 1000),
        |total_rooms| {
            add(AddRoomTypeRequest {
                total_rooms,
                ..room_type()
            })
        },
    ));
    let priced = |amount: Option<Money>| {
        add(AddRoomTypeRequest {
            nightly_price: amount,
            ..room_type()
        })
    };
    let top = 1_000_000_000_000_000;
    rows.push(row(
        r("nightly_price"),
        NIGHTLY_PRICE,
        "nightly_price",
        priced(eur(top)),
        priced(eur(top + 1)),
    ));
    rows.push(row(
        r("nightly_price"),
        NIGHTLY_PRICE,
        "nightly_price",
        priced(eur(0)),
        priced(None),
    ));
    rows.extend(token(&r("request_id"), KEY, "request_id", |request_id| {
        add(AddRoomTypeRequest {
            request_id,
            ..room_type()
        })
    }));
    rows
}

fn search_rows() -> Vec<Row> {
    let s = |name: &str| format!("{P}SearchHotelsRequest.{name}");
    let call = Call::SearchHotels;
    let mut rows = text(&s("city"), CITY, "city", 1, 100, |city| {
        call(SearchHotelsRequest { city, ..search() })
    });
    rows.extend(dates(
        &format!("{P}SearchHotelsRequest"),
        ("check_in", "check_out"),
        |check_in, check_out| {
            call(SearchHotelsRequest {
                check_in,
                check_out,
                ..search()
            })
        },
    ));
    rows.extend(ints(&s("guests"), "1 to 20.", "guests", (1, 20), |guests| {
        call(SearchHotelsRequest { guests, ..search() })
    }));
    rows.extend(ints(&s("rooms"), ROOMS_SEARCH, "rooms", (0, 9), |rooms| {
        call(SearchHotelsRequest { rooms, ..search() })
    }));
    rows.extend(ints(&s("page_size"), PAGE_SIZE, "page_size", (0, 100), |page_size| {
        call(SearchHotelsRequest { page_size, ..search() })
    }));
    rows.push(row(
        s("page_token"),
        PAGE_TOKEN,
        "page_token",
        call(search()),
        call(SearchHotelsRequest {
            page_token: "bm90IGEgdG9rZW4".into(),
            ..search()
        }),
    ));
    rows
}

fn hold_rows() -> Vec<Row> {
    let h = |name: &str| format!("{P}HoldRoomsRequest.{name}");
    let call = Call::HoldRooms;
    let mut rows = token(&h("hold_id"), HOLD_ID, "hold_id", |hold_id| {
        call(HoldRoomsRequest { hold_id, ..hold() })
    });
    rows.extend(token(&h("hotel_id"), ID, "hotel_id", |hotel_id| {
        call(HoldRoomsRequest { hotel_id, ..hold() })
    }));
    rows.extend(token(&h("room_type_id"), ID, "room_type_id", |room_type_id| {
        call(HoldRoomsRequest { room_type_id, ..hold() })
    }));
    rows.extend(dates(
        &format!("{P}HoldRoomsRequest"),
        ("check_in", "check_out"),
        |check_in, check_out| {
            call(HoldRoomsRequest {
                check_in,
                check_out,
                ..hold()
            })
        },
    ));
    rows.extend(ints(&h("rooms"), "1 to 9.", "rooms", (1, 9), |rooms| {
        call(HoldRoomsRequest { rooms, ..hold() })
    }));
    rows.extend(ints(&h("guests"), "1 to 20.", "guests", (1, 20), |guests| {
        call(HoldRoomsRequest { guests, ..hold() })
    }));
    rows
}

pub fn rows() -> Vec<Row> {
    let mut rows = create_rows();
    rows.extend(token(&format!("{P}GetHotelRequest.id"), ID, "id", |id| {
        Call::GetHotel(GetHotelRequest { id })
    }));
    rows.extend(search_rows());
    rows.extend(hold_rows());
    rows.extend(token(
        &format!("{P}ConfirmRoomsRequest.hold_id"),
        HOLD_ID,
        "hold_id",
        |hold_id| Call::ConfirmRooms(ConfirmRoomsRequest { hold_id }),
    ));
    rows.extend(token(
        &format!("{P}ReleaseRoomsRequest.hold_id"),
        HOLD_ID,
        "hold_id",
        |hold_id| Call::ReleaseRooms(ReleaseRoomsRequest { hold_id }),
    ));
    rows
}
