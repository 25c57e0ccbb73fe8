//! Issue 7's "it is done when": a spray of 1,000 wrong logins from one address
//! leaves the correct logins of other accounts, and the service account,
//! working. The service sits behind a trusted proxy (127.0.0.1, the test's own
//! address), which names each client in `x-forwarded-for`.
//!
//! Kept fast and honest: all 1,000 are real Login calls, but the throttle
//! refuses most of them unchecked, so only a few dozen cost an argon2
//! verification (the test asserts how many were checked).

use futures::StreamExt;
use tonic::Code;

use crate::helpers::{PASSWORD, TestAuth};

const SECRET: &str = "reservation secret 123";
const ATTACKER: &str = "203.0.113.66";
const ANA: &str = "198.51.100.1";
const CARL: &str = "198.51.100.2";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_spray_of_1000_wrong_logins_from_one_address_leaves_other_accounts_and_the_service_account_working() {
    let svc = TestAuth::start_with(|c| {
        c.service_client_secret = Some(SECRET.into());
        c.trusted_proxies = vec!["127.0.0.1/32".parse().expect("cidr")];
    })
    .await;
    for email in ["ana@example.com", "carl@example.com", "dora@example.com"] {
        svc.register(email, PASSWORD).await.expect("register");
    }
    svc.login_from(ANA, "ana@example.com", PASSWORD)
        .await
        .expect("ana logs in from home");
    // Dora shares the attacker's address (one NAT) and has logged in from it before.
    svc.login_from(ATTACKER, "dora@example.com", PASSWORD)
        .await
        .expect("dora logs in");

    let spray = futures::stream::iter(0..1000)
        .map(|i| {
            let email = if i % 2 == 0 {
                "ana@example.com".to_owned()
            } else {
                format!("someone{i}@example.com")
            };
            let svc = &svc;
            async move { svc.login_from(ATTACKER, &email, "wrong password!").await }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;

    let ana = svc.login_from(ANA, "ana@example.com", PASSWORD).await;
    let carl = svc.login_from(CARL, "carl@example.com", PASSWORD).await;
    let dora = svc.login_from(ATTACKER, "dora@example.com", PASSWORD).await;
    let service = svc.service_token_from(ATTACKER, "reservation", SECRET).await;
    let direct = svc.service_token("reservation", SECRET).await;
    let attacker_on_ana = svc.login_from(ATTACKER, "ana@example.com", PASSWORD).await;

    let codes = |code| {
        spray
            .iter()
            .filter(|r| r.as_ref().is_err_and(|s| s.code() == code))
            .count()
    };
    let (checked, refused) = (codes(Code::Unauthenticated), codes(Code::ResourceExhausted));
    assert_eq!(checked + refused, 1000, "every guess fails one way or the other");
    assert!(checked <= 5 + 20 + 2, "only the allowances are ever checked: {checked}");
    assert!(
        ana.is_ok(),
        "the sprayed account, from the address its owner used: {ana:?}"
    );
    assert!(carl.is_ok(), "another account, first login from elsewhere: {carl:?}");
    assert!(dora.is_ok(), "a known client behind the attacker's address: {dora:?}");
    assert!(
        service.is_ok(),
        "the service account, even from the attacker's address: {service:?}"
    );
    assert!(direct.is_ok(), "{direct:?}");
    assert_eq!(
        attacker_on_ana.map(|_| ()).unwrap_err().code(),
        Code::ResourceExhausted,
        "the attacker itself stays delayed, even with the right password"
    );
}
