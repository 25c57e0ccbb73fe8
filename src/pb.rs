//! Code generated from `proto/` by `build.rs`, one module per proto package, and the
//! encoded file descriptor set that server reflection publishes.
#![allow(missing_docs, clippy::all, clippy::pedantic)]

/// Every file of every contract, encoded, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/travel_descriptor.bin"));

/// `travel.common.v1`: types shared by the contracts.
pub mod common {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("travel.common.v1");
    }
}

/// `travel.flight.v1`: the flight service.
pub mod flight {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("travel.flight.v1");
    }
}

/// `travel.hotel.v1`: the hotel service.
pub mod hotel {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("travel.hotel.v1");
    }
}

/// `travel.auth.v1`: the auth service.
pub mod auth {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("travel.auth.v1");
    }
}

/// `travel.reservation.v1`: the reservation service.
pub mod reservation {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("travel.reservation.v1");
    }
}
