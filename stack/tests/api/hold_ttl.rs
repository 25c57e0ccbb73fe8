//! The stack refuses to start with a hold TTL too short for the reservation
//! service to be sure of confirming a booking past its pivot.

use std::time::Duration;

use travel_stack::{Stack, StackConfig};

use crate::helpers::stack_config;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hold_ttl_shorter_than_recovery_needs_is_refused_at_start_up() {
    // Arrange: holds of one minute; recovery may take 60 s + 5 s to retry a confirm.
    let dir = tempfile::tempdir().unwrap();
    let config = StackConfig {
        hold_ttl: Duration::from_secs(60),
        ..stack_config(dir.path())
    };

    // Act
    let started = Stack::start(&config).await;

    // Assert
    let refused = started.expect_err("the stack does not start with 1-minute holds");
    let message = format!("{refused:#}");
    assert!(message.contains("--hold-ttl"), "{message}");
}
