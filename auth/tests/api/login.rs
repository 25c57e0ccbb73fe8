//! Logging in: refusals that say nothing about the account, and the throttle
//! that delays an email, or a peer, after repeated failures.

use std::time::Duration;

use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::{PASSWORD, TestAuth};

const WINDOW: Duration = Duration::from_secs(15 * 60);
const FIRST_DELAY: Duration = Duration::from_secs(1);

#[tokio::test]
async fn an_unknown_email_and_a_wrong_password_get_the_same_answer() {
    let svc = TestAuth::start().await;
    svc.register("ana@example.com", PASSWORD).await.expect("register");

    let unknown = svc.login("nobody@example.com", PASSWORD).await.unwrap_err();
    let wrong = svc
        .login("ana@example.com", "not the password at all")
        .await
        .unwrap_err();

    assert_eq!(unknown.code(), Code::Unauthenticated);
    assert_eq!(wrong.code(), unknown.code());
    assert_eq!(wrong.message(), unknown.message());
    assert_eq!(wrong.message(), "invalid email or password");
    assert!(wrong.details().is_empty() && unknown.details().is_empty());
}

#[tokio::test]
async fn an_account_is_delayed_after_five_failures_even_for_the_right_password_until_the_delay_passes() {
    let svc = TestAuth::start().await;
    svc.register("ana@example.com", PASSWORD).await.expect("register");
    for attempt in 1..=5 {
        let err = svc.login("ana@example.com", "wrong password!").await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "attempt {attempt}");
    }

    let locked = svc.login("ana@example.com", PASSWORD).await.unwrap_err();
    let other_case = svc.login(" ANA@example.com", PASSWORD).await.unwrap_err();
    let someone_else = svc.signed_up("bo@example.com").await;
    let retry = locked.get_error_details().retry_info().and_then(|r| r.retry_delay);
    svc.clock.advance(FIRST_DELAY);
    let later = svc.login("ana@example.com", PASSWORD).await;

    assert_eq!(locked.code(), Code::ResourceExhausted, "{locked:?}");
    assert_eq!(other_case.code(), Code::ResourceExhausted, "the email is normalised");
    // Issue 7: a growing delay (first 1 s), not a 15-minute lockout.
    assert_eq!(retry, Some(FIRST_DELAY), "the answer says when to come back");
    assert!(!someone_else.access_token.is_empty(), "other accounts are not locked");
    assert!(later.is_ok(), "the lockout ends: {later:?}");
}

#[tokio::test]
async fn an_unknown_email_is_locked_out_alike_so_existence_is_not_revealed() {
    let svc = TestAuth::start_with(|c| c.max_failed_logins_per_account = 3).await;

    let mut codes = Vec::new();
    for _ in 0..4 {
        codes.push(svc.login("ghost@example.com", PASSWORD).await.unwrap_err().code());
    }

    use Code::{ResourceExhausted, Unauthenticated};
    assert_eq!(
        codes,
        [Unauthenticated, Unauthenticated, Unauthenticated, ResourceExhausted]
    );
}

#[tokio::test]
async fn a_success_resets_the_accounts_failures() {
    let svc = TestAuth::start_with(|c| c.max_failed_logins_per_account = 3).await;
    svc.register("ana@example.com", PASSWORD).await.expect("register");
    for _ in 0..2 {
        svc.login("ana@example.com", "wrong password!").await.unwrap_err();
    }
    svc.login("ana@example.com", PASSWORD).await.expect("login");

    for _ in 0..2 {
        let err = svc.login("ana@example.com", "wrong password!").await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "counting started again");
    }
    assert!(svc.login("ana@example.com", PASSWORD).await.is_ok());
}

#[tokio::test]
async fn a_peer_is_locked_out_after_its_limit_of_failures_across_emails() {
    let svc = TestAuth::start_with(|c| c.max_failed_logins_per_peer = 4).await;
    svc.register("ana@example.com", PASSWORD).await.expect("register");
    for i in 0..4 {
        let err = svc.login(&format!("guess{i}@example.com"), PASSWORD).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
    }

    let locked = svc.login("ana@example.com", PASSWORD).await.unwrap_err();
    svc.clock.advance(WINDOW + Duration::from_secs(1));
    let later = svc.login("ana@example.com", PASSWORD).await;

    assert_eq!(
        locked.code(),
        Code::ResourceExhausted,
        "even the right password, from that peer"
    );
    assert!(later.is_ok(), "{later:?}");
}

#[tokio::test]
async fn successful_logins_do_not_count_against_the_peer() {
    let svc = TestAuth::start_with(|c| c.max_failed_logins_per_peer = 3).await;
    svc.register("ana@example.com", PASSWORD).await.expect("register");

    for _ in 0..5 {
        svc.login("ana@example.com", PASSWORD).await.expect("login");
    }
    svc.login("bo@example.com", PASSWORD).await.unwrap_err();

    assert!(svc.login("ana@example.com", PASSWORD).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_guesses_cannot_slip_past_the_account_limit() {
    let svc = TestAuth::start_with(|c| c.max_failed_logins_per_account = 3).await;

    let guesses = (0..8).map(|i| {
        svc.login(
            "ana@example.com",
            if i % 2 == 0 { "guess one!!!" } else { "guess two!!!" },
        )
    });
    let results = futures::future::join_all(guesses).await;

    let checked = results
        .iter()
        .filter(|r| r.as_ref().is_err_and(|s| s.code() == Code::Unauthenticated))
        .count();
    let refused = results
        .iter()
        .filter(|r| r.as_ref().is_err_and(|s| s.code() == Code::ResourceExhausted))
        .count();
    assert_eq!((checked, refused), (3, 5), "only the limit is ever checked");
}
