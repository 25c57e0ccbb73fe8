//! Issue 7's auth bullets, each as a test named after it: the throttle cannot be
//! turned against others, correct logins are never refused for being parallel,
//! Register is neither a password oracle nor an email oracle, and service
//! secrets cannot be guessed without limit.

use std::time::Duration;

use tonic::Code;
use tonic_types::StatusExt;
use travel::pb::auth::v1 as pb;

use crate::helpers::{PASSWORD, TestAuth, violated_fields};

const SECRET: &str = "reservation secret 123";

fn retry_delay(status: &tonic::Status) -> Option<Duration> {
    status.get_error_details().retry_info().and_then(|r| r.retry_delay)
}

#[tokio::test]
async fn one_client_cannot_lock_everyone_out() {
    let svc = TestAuth::start_with(|c| c.service_client_secret = Some(SECRET.into())).await;
    svc.signed_up("bo@example.com").await; // bo has logged in from this address before

    for i in 0..25 {
        let err = svc.login(&format!("guess{i}@example.com"), "wrong password!").await;
        assert!(err.is_err(), "guess {i}");
    }
    let bo = svc.login("bo@example.com", PASSWORD).await;
    let service = svc.service_token("reservation", SECRET).await;

    assert!(bo.is_ok(), "a known client with the right password gets in: {bo:?}");
    assert!(
        service.is_ok(),
        "customer failures never throttle IssueServiceToken: {service:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn correct_logins_are_never_refused_under_concurrency() {
    let svc = TestAuth::start_with(|c| c.max_registers_per_peer = 100).await;
    let emails: Vec<String> = (0..25).map(|i| format!("user{i}@example.com")).collect();
    for email in &emails {
        svc.register(email, PASSWORD).await.expect("register");
    }

    let same_account = futures::future::join_all((0..6).map(|_| svc.login("user0@example.com", PASSWORD))).await;
    let many_accounts = futures::future::join_all(emails.iter().map(|e| svc.login(e, PASSWORD))).await;

    let refused = |results: &[Result<pb::LoginResponse, tonic::Status>]| {
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .map(|s| s.code())
            .collect::<Vec<_>>()
    };
    assert_eq!(refused(&same_account), [], "six parallel correct logins to one account");
    assert_eq!(
        refused(&many_accounts),
        [],
        "25 parallel correct logins from one address"
    );
}

#[tokio::test]
async fn register_is_not_an_unthrottled_password_oracle() {
    let svc = TestAuth::start().await;
    let mut client = svc.client.clone();
    let victim = pb::RegisterRequest {
        email: "ana@example.com".into(),
        password: PASSWORD.into(),
        request_id: "signup-1".into(),
    };
    let first = client
        .register(victim.clone())
        .await
        .expect("register")
        .into_inner()
        .user;

    for i in 0..10 {
        let guess = pb::RegisterRequest {
            password: format!("guessed password {i}"),
            ..victim.clone()
        };
        let answer = client.register(guess).await;
        if let Ok(r) = &answer {
            assert_ne!(r.get_ref().user, first, "a wrong guess never returns the account");
        }
    }
    let right_guess = client.register(victim.clone()).await.unwrap_err();
    // The request id is scoped per email: another person may use the same one.
    let other = client
        .register(pb::RegisterRequest {
            email: "bo@example.com".into(),
            ..victim
        })
        .await;

    assert_eq!(
        right_guess.code(),
        Code::ResourceExhausted,
        "replayed guesses are throttled like logins: {right_guess:?}"
    );
    assert!(retry_delay(&right_guess).is_some(), "{right_guess:?}");
    let other = other.expect("request_id is scoped per email").into_inner().user;
    assert_eq!(other.map(|u| u.email).as_deref(), Some("bo@example.com"));
    assert!(svc.login("bo@example.com", PASSWORD).await.is_ok());
}

#[tokio::test]
async fn register_does_not_tell_which_emails_have_accounts() {
    let svc = TestAuth::start().await;
    svc.register("ana@example.com", PASSWORD).await.expect("register");

    let taken = svc.register(" ANA@example.com", "another good password").await;
    let fresh = svc.register("zoe@example.com", "another good password").await;
    let sneaky = [
        "ana\u{202e}moc.elpmaxe@x.io", // right-to-left override
        "ana\u{200b}@example.com",     // zero-width space
        "ana\u{2066}@example.com",     // left-to-right isolate
        "ana\u{0007}@example.com",     // a control character
        "\u{feff}ana@example.com",     // byte-order mark
    ];
    let mut refused = Vec::new();
    for email in sneaky {
        refused.push(svc.register(email, PASSWORD).await.unwrap_err());
    }

    let (taken, fresh) = (taken.expect("same answer as a new email"), fresh.expect("register"));
    assert_eq!(
        (taken.email.as_str(), fresh.email.as_str()),
        ("ana@example.com", "zoe@example.com")
    );
    assert_eq!(
        (taken.role(), taken.create_time.is_some()),
        (fresh.role(), fresh.create_time.is_some())
    );
    assert_eq!(taken.id.len(), fresh.id.len());
    assert!(
        svc.login("ana@example.com", "another good password").await.is_err(),
        "the existing account is untouched"
    );
    assert!(svc.login("ana@example.com", PASSWORD).await.is_ok());
    for (email, status) in sneaky.iter().zip(&refused) {
        assert_eq!(status.code(), Code::InvalidArgument, "{email:?}: {status:?}");
        assert_eq!(violated_fields(status), ["email"], "{email:?}");
    }
}

#[tokio::test]
async fn a_service_secret_cannot_be_guessed_without_limit() {
    let svc = TestAuth::start_with(|c| c.service_client_secret = Some(SECRET.into())).await;

    for i in 0..6 {
        let err = svc
            .service_token("reservation", &format!("guess {i}"))
            .await
            .unwrap_err();
        assert!(
            [Code::Unauthenticated, Code::ResourceExhausted].contains(&err.code()),
            "guess {i}: {err:?}"
        );
    }
    let at_once = svc.service_token("reservation", SECRET).await.unwrap_err();
    let delay = retry_delay(&at_once).expect("RetryInfo");
    svc.clock.advance(delay);
    let after_the_delay = svc.service_token("reservation", SECRET).await;

    assert_eq!(at_once.code(), Code::ResourceExhausted, "{at_once:?}");
    assert!(
        delay <= Duration::from_secs(15 * 60),
        "a delay, not a long lockout: {delay:?}"
    );
    assert!(
        after_the_delay.is_ok(),
        "the right secret once the delay has passed: {after_the_delay:?}"
    );
}

#[tokio::test]
async fn registers_are_throttled_per_email_and_per_address() {
    let svc = TestAuth::start_with(|c| {
        c.max_registers_per_email = 2;
        c.max_registers_per_peer = 3;
    })
    .await;
    svc.register("ana@example.com", PASSWORD).await.expect("first");
    svc.register("ana@example.com", PASSWORD)
        .await
        .expect("second: the uniform answer");

    let third = svc.register("ana@example.com", PASSWORD).await.unwrap_err();
    svc.register("bo@example.com", PASSWORD).await.expect("bo");
    let carl = svc.register("carl@example.com", PASSWORD).await.unwrap_err();
    svc.clock.advance(Duration::from_secs(1));
    let later = svc.register("carl@example.com", PASSWORD).await;

    assert_eq!(third.code(), Code::ResourceExhausted, "per email: {third:?}");
    assert!(retry_delay(&third).is_some());
    assert_eq!(carl.code(), Code::ResourceExhausted, "per address: {carl:?}");
    assert!(later.is_ok(), "after the delay: {later:?}");
}

#[tokio::test]
async fn a_register_for_an_email_whose_logins_are_delayed_is_refused_whether_or_not_it_exists() {
    let svc = TestAuth::start_with(|c| c.max_failed_logins_per_account = 2).await;
    let mut client = svc.client.clone();
    let request = |email: &str| pb::RegisterRequest {
        email: email.into(),
        password: PASSWORD.into(),
        request_id: "signup-1".into(),
    };
    client.register(request("ana@example.com")).await.expect("register");
    for email in ["ana@example.com", "ghost@example.com"] {
        for _ in 0..2 {
            svc.login(email, "wrong password!").await.unwrap_err();
        }
    }

    let existing = client.register(request("ana@example.com")).await.unwrap_err();
    let missing = client.register(request("ghost@example.com")).await.unwrap_err();

    assert_eq!(
        (existing.code(), missing.code()),
        (Code::ResourceExhausted, Code::ResourceExhausted)
    );
    assert_eq!(existing.message(), missing.message());
}
