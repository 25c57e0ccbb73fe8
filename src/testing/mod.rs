//! Test support shared by the services' test suites (feature `testing`): a fresh
//! database per test, the manual clock they start from, the key and tokens the
//! services trust, a service spawned on 127.0.0.1:0 and its clients per role,
//! the BadRequest fields of a refusal, the inventory rule, a fake auth service,
//! a hotel to book, a service a test can kill or terminate, and the spans and
//! metric values a test asserts on.

mod catalog;
mod database;
mod fake_auth;
mod killable;
pub mod metrics;
pub mod proxy;
mod server;
pub mod traces;

pub use catalog::hotel_with_one_room_type;
pub use database::{POSTGRES_ENV, TestDatabase};
pub use fake_auth::{FAKE_TOKEN_LIFE, FakeAuth, TokenAnswer};
pub use killable::{Killable, Serving};
pub use server::{Authed, CLIENT_TOKEN_SECS, Shutdown, TestServer, bearer_as, channel, connect};

use crate::ManualClock;
pub use crate::access::Bearer;
use crate::types::UnixMillis;

/// Where the tests' manual clocks start: 2030-01-01T00:00:00Z.
pub const START_MS: i64 = 1_893_456_000_000;

/// A manual clock at [`START_MS`].
pub fn manual_clock() -> ManualClock {
    ManualClock::new(UnixMillis::from_unix_millis(START_MS))
}

/// The key id of [`test_key`].
pub const TEST_KID: &str = "test-key";

/// The signing key the services' test suites trust.
pub fn test_key() -> crate::jwt::KeyPair {
    crate::jwt::KeyPair::from_seed(TEST_KID, [42; 32])
}

/// A key ring that trusts exactly [`test_key`].
pub fn test_keys() -> std::sync::Arc<crate::key_ring::KeyRing> {
    std::sync::Arc::new(crate::key_ring::KeyRing::fixed([test_key().public()]))
}

/// A token for `role` signed by `key`, issued at `now` and valid for
/// `valid_secs` (negative: already expired), with the default issuer and audience.
pub fn sign_token(
    key: &crate::jwt::KeyPair,
    now: crate::types::UnixMillis,
    role: crate::jwt::Role,
    valid_secs: i64,
) -> String {
    let now = now.unix_millis().div_euclid(1000);
    key.sign(&crate::jwt::Claims {
        iss: "travel-auth".into(),
        aud: "travel".into(),
        sub: format!("test-{}", role.as_str()),
        role,
        iat: now,
        exp: now + valid_secs,
    })
}

/// The fields named in a status's BadRequest field violations.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|f| f.field.clone()).collect())
        .unwrap_or_default()
}

/// Asserts that `to_status` turns a storage failure into a bare INTERNAL whose
/// message does not show the failure (here, the SQL it names): every service's
/// error mapping is held to this.
pub fn assert_storage_failure_hidden(to_status: impl FnOnce(sqlx::Error) -> tonic::Status) {
    let status = to_status(sqlx::Error::Protocol("SELECT secret FROM x".into()));
    assert_eq!(status.code(), tonic::Code::Internal);
    assert!(!status.message().contains("SELECT"), "{}", status.message());
}

/// Asserts the inventory rule for an inventory of `total` seats or rooms:
/// `total = available + held + confirmed` and `0 <= available <= total`. A
/// failure names `place` (empty, or for example " on night 3") and shows `inventory`.
pub fn assert_conserved(
    total: i64,
    [available, held, confirmed]: [i64; 3],
    place: &str,
    inventory: &impl std::fmt::Debug,
) {
    assert_eq!(
        total,
        available + held + confirmed,
        "conservation broken{place}: {inventory:?}"
    );
    assert!(
        (0..=total).contains(&available),
        "availability out of range{place}: {inventory:?}"
    );
}
