//! The reviewer's findings on issue 7's auth service, each as a test that failed
//! before its fix: cancelled logins are counted, a service account cannot be
//! locked out from elsewhere, concurrent refreshes never end a session, and
//! emails stored before the NFKC rule still log in.

use std::time::Duration;

use tonic::Code;
use travel_auth::domain::refresh::token_hash;

use crate::helpers::{PASSWORD, TestAuth};

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
    assert_eq!(
        guesser.unwrap_err().code(),
        Code::ResourceExhausted,
        "still delayed there"
    );
}

/// What the grace rules promise for N concurrent refreshes of one live token
/// (all within the grace window): they are serialised, never taken for reuse.
/// Every call is answered OK; the presented token is spent, not revoked (no
/// family revocation); every other token of the family was handed to one of
/// the calls; exactly one of them is live — it refreshes again — and the others
/// were superseded by the later calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_of_one_live_token_never_end_the_session() {
    let svc = TestAuth::start().await;
    let mut logins = Vec::new();
    for i in 0..10 {
        logins.push(svc.signed_up(&format!("ana{i}@example.com")).await);
    }

    let calls = logins.iter().flat_map(|login| {
        (0..4).map(|_| async { (login.refresh_token.clone(), svc.refresh(&login.refresh_token).await) })
    });
    let results = futures::future::join_all(calls).await;

    for login in &logins {
        let presented = token_hash(&login.refresh_token);
        let answers: Vec<_> = results
            .iter()
            .filter(|(token, _)| *token == login.refresh_token)
            .map(|(_, answer)| answer.as_ref().map(|r| token_hash(&r.refresh_token)))
            .collect();
        let family = svc.store.family_of(&presented).await.unwrap();
        let codes: Vec<_> = answers
            .iter()
            .map(|a| a.as_ref().map(|_| "ok").map_err(|s| s.code()))
            .collect();
        let live: Vec<_> = family
            .iter()
            .filter(|t| t.used_ms.is_none() && t.revoked_ms.is_none())
            .map(|t| t.token_hash.clone())
            .collect();
        assert!(answers.iter().all(Result::is_ok), "every refresh answered: {codes:?}");
        assert_eq!(
            live.len(),
            1,
            "one live token, not a revoked session: {codes:?} {family:?}"
        );
        let first = family.iter().find(|t| t.token_hash == presented).expect("stored");
        assert!(
            first.used_ms.is_some() && first.revoked_ms.is_none(),
            "spent, not revoked: {first:?}"
        );
        let handed: Vec<_> = answers.iter().flatten().cloned().collect();
        assert_eq!(family.len(), 1 + handed.len(), "{family:?}");
        for token in family.iter().filter(|t| t.token_hash != presented) {
            assert!(handed.contains(&token.token_hash), "a token no call got: {token:?}");
            assert_eq!(token.parent_hash.as_deref(), Some(presented.as_str()));
        }
        let keeper = results
            .iter()
            .filter_map(|(_, a)| a.as_ref().ok())
            .find(|r| token_hash(&r.refresh_token) == live[0])
            .expect("the live token was handed out");
        let next = svc.refresh(&keeper.refresh_token).await;
        assert!(next.is_ok(), "the session goes on: {next:?}");
    }
}

/// Plants what the rule before NFKC (trimmed and lower-cased only) stored.
async fn store_as_before_nfkc(svc: &TestAuth, email: &str, stored: &str) {
    let pool = sqlx::AnyPool::connect(svc.database_url()).await.expect("connect");
    let updated = sqlx::query("UPDATE users SET email = $1 WHERE email = $2")
        .bind(stored)
        .bind(email)
        .execute(&pool)
        .await
        .expect("plant an email");
    assert_eq!(updated.rows_affected(), 1);
    pool.close().await;
}

async fn stored_emails(svc: &TestAuth) -> Vec<String> {
    let pool = sqlx::AnyPool::connect(svc.database_url()).await.expect("connect");
    let mut emails: Vec<String> = sqlx::query_scalar("SELECT email FROM users")
        .fetch_all(&pool)
        .await
        .expect("read the emails");
    pool.close().await;
    emails.sort();
    emails
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emails_stored_before_the_nfkc_rule_are_renormalised_at_start_up() {
    sqlx::any::install_default_drivers();
    let svc = TestAuth::start().await;
    let andre = svc.register("andre@example.com", PASSWORD).await.unwrap();
    svc.register("jose@example.com", PASSWORD).await.unwrap();
    svc.register("jos\u{e9}@example.com", PASSWORD).await.unwrap();
    // "andré" and "josé" in NFD, as the older rule kept them; an NFC "josé" exists.
    store_as_before_nfkc(&svc, "andre@example.com", "andre\u{301}@example.com").await;
    store_as_before_nfkc(&svc, "jose@example.com", "jose\u{301}@example.com").await;

    let svc = svc.restart().await;
    let nfc = svc.login("andr\u{e9}@example.com", PASSWORD).await;
    let nfd = svc.login("andre\u{301}@example.com", PASSWORD).await;
    svc.register("andre\u{301}@example.com", PASSWORD).await.unwrap();
    let emails = stored_emails(&svc).await;
    let svc = svc.restart().await;

    assert_eq!(nfc.expect("logs in under the NFKC form").user.unwrap().id, andre.id);
    assert!(nfd.is_ok(), "and as typed before: {nfd:?}");
    assert_eq!(
        emails,
        [
            "andr\u{e9}@example.com",
            "jose\u{301}@example.com",
            "jos\u{e9}@example.com",
        ],
        "no second account; the colliding row is left as it is"
    );
    assert_eq!(stored_emails(&svc).await, emails, "a second start-up changes nothing");
}
