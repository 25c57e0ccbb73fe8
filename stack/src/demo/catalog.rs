//! What the demo catalog holds: its flight routes and its hotels with their room types.

/// A demo route: flights every `every_days` days at `hour` UTC.
pub(super) struct Route {
    pub(super) number_prefix: &'static str,
    pub(super) origin: &'static str,
    pub(super) destination: &'static str,
    pub(super) every_days: i64,
    pub(super) hour: u64,
    pub(super) hours: u64,
    pub(super) price_cents: i64,
    pub(super) seats: i32,
}

pub(super) const ROUTES: &[Route] = &[
    Route {
        number_prefix: "TP2",
        origin: "LIS",
        destination: "JFK",
        every_days: 1,
        hour: 10,
        hours: 8,
        price_cents: 44_900,
        seats: 180,
    },
    Route {
        number_prefix: "TP2",
        origin: "JFK",
        destination: "LIS",
        every_days: 1,
        hour: 22,
        hours: 7,
        price_cents: 42_900,
        seats: 180,
    },
    Route {
        number_prefix: "TP1",
        origin: "LIS",
        destination: "LHR",
        every_days: 2,
        hour: 7,
        hours: 3,
        price_cents: 12_900,
        seats: 150,
    },
    Route {
        number_prefix: "TP4",
        origin: "LIS",
        destination: "CDG",
        every_days: 2,
        hour: 9,
        hours: 3,
        price_cents: 11_900,
        seats: 150,
    },
    Route {
        number_prefix: "IB3",
        origin: "MAD",
        destination: "LIS",
        every_days: 3,
        hour: 15,
        hours: 1,
        price_cents: 6_900,
        seats: 120,
    },
    Route {
        number_prefix: "BA1",
        origin: "LHR",
        destination: "JFK",
        every_days: 2,
        hour: 11,
        hours: 8,
        price_cents: 52_900,
        seats: 220,
    },
];

/// (name, city, address, currency, [(room type, guests, rooms, nightly price in minor units)])
pub(super) type HotelSpec = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, i32, i32, i64)],
);
pub(super) const HOTELS: &[HotelSpec] = &[
    (
        "Hotel Alfama Terrace",
        "Lisbon",
        "Rua de São Miguel 12",
        "EUR",
        &[("Double room", 2, 20, 14_900), ("Family suite", 4, 6, 22_900)],
    ),
    (
        "Baixa Boutique Rooms",
        "Lisbon",
        "Rua Augusta 80",
        "EUR",
        &[("Single room", 1, 10, 8_900), ("Double room", 2, 15, 11_900)],
    ),
    (
        "Belém Riverside Hotel",
        "Lisbon",
        "Avenida da Índia 5",
        "EUR",
        &[("Double room, river view", 2, 20, 13_900), ("Suite", 3, 5, 25_900)],
    ),
    (
        "Midtown Grand",
        "New York",
        "200 W 44th St",
        "EUR",
        &[("King room", 2, 40, 32_900), ("Twin room", 2, 30, 29_900)],
    ),
    (
        "Brooklyn Loft Hotel",
        "New York",
        "55 Wythe Ave",
        "USD",
        &[("Loft", 3, 12, 42_900), ("Studio", 2, 8, 35_900)],
    ),
    (
        "Covent Garden Inn",
        "London",
        "14 Long Acre",
        "EUR",
        &[("Double room", 2, 25, 21_900), ("Single room", 1, 10, 15_900)],
    ),
    (
        "Le Marais Petit Hôtel",
        "Paris",
        "8 Rue des Archives",
        "EUR",
        &[("Double room", 2, 12, 17_900), ("Triple room", 3, 4, 23_900)],
    ),
    (
        "Gran Vía Suites",
        "Madrid",
        "Gran Vía 30",
        "EUR",
        &[("Double room", 2, 18, 10_900), ("Suite", 4, 6, 18_900)],
    ),
];
