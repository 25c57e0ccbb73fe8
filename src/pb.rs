//! Code generated from `proto/` by `build.rs`, one module per proto package, and the
//! encoded file descriptor set that server reflection publishes.
#![allow(missing_docs, clippy::all, clippy::pedantic)]

/// Every file of every contract, encoded, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/travel_descriptor.bin"));

/// One `pub mod $name { pub mod v1 { … } }` per proto package, holding its generated code.
macro_rules! packages {
    ($($(#[$doc:meta])* $name:ident => $package:literal,)*) => {
        $(
            $(#[$doc])*
            pub mod $name {
                /// Version 1.
                pub mod v1 {
                    tonic::include_proto!($package);
                }
            }
        )*
    };
}

packages! {
    /// `travel.common.v1`: types shared by the contracts.
    common => "travel.common.v1",
    /// `travel.flight.v1`: the flight service.
    flight => "travel.flight.v1",
    /// `travel.hotel.v1`: the hotel service.
    hotel => "travel.hotel.v1",
    /// `travel.auth.v1`: the auth service.
    auth => "travel.auth.v1",
    /// `travel.reservation.v1`: the reservation service.
    reservation => "travel.reservation.v1",
}
