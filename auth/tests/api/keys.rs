//! Signing keys and service accounts: the published key set, keys from
//! configuration and their rotation, the generated key surviving a restart,
//! and the client-credentials exchange.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use tonic::Code;
use travel::Clock;
use travel::jwt::{self, Claims, KeyPair, Role};

use crate::helpers;
use crate::helpers::{PASSWORD, START_MS, TestAuth, expectations};

fn key_line(kid: &str, seed: u8) -> String {
    format!("{kid}={}", B64.encode([seed; 32]))
}

#[tokio::test]
async fn get_signing_keys_publishes_okp_ed25519_keys_to_anyone() {
    let svc = TestAuth::start().await;

    let keys = svc.signing_keys().await;

    assert_eq!(keys.len(), 1, "one generated key");
    let key = &keys[0];
    assert!(key.kid.starts_with("local-"), "{}", key.kid);
    assert_eq!(
        (key.kty.as_str(), key.crv.as_str(), key.alg.as_str()),
        ("OKP", "Ed25519", "EdDSA")
    );
    assert_eq!(key.public_key.len(), 32);
    assert_eq!(
        B64.decode(&key.x).unwrap(),
        key.public_key,
        "x is the key in base64url without padding"
    );
}

#[tokio::test]
async fn with_two_configured_keys_both_are_published_and_the_first_signs() {
    let new = KeyPair::from_seed("2030-02", [2; 32]);
    let old = KeyPair::from_seed("2030-01", [1; 32]);
    let svc = TestAuth::start_with(|c| {
        c.signing_keys = Some(format!("{},{}", key_line("2030-02", 2), key_line("2030-01", 1)).into());
    })
    .await;

    let published = svc.published_keys().await;
    let login = svc.signed_up("ana@example.com").await;
    let user_id = login.user.as_ref().map(|u| u.id.clone()).unwrap_or_default();
    let now = START_MS / 1000;
    let by_old_key = old.sign(&Claims {
        iss: "travel-auth".into(),
        aud: "travel".into(),
        sub: user_id,
        role: Role::Customer,
        iat: now,
        exp: now + 300,
    });

    assert_eq!(published, [new.public(), old.public()]);
    assert_eq!(
        jwt::key_id(&login.access_token).unwrap(),
        "2030-02",
        "the first key signs"
    );
    assert!(svc.verify(&login.access_token).await.is_ok());
    let claims = svc
        .verify(&by_old_key)
        .await
        .expect("a token of the retiring key still verifies");
    assert_eq!(claims.role, Role::Customer);
}

#[tokio::test]
async fn signing_keys_can_come_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("signing-keys");
    std::fs::write(&path, format!("{}\n{}\n", key_line("file-1", 7), key_line("file-0", 6))).unwrap();
    let svc = TestAuth::start_with(|c| c.signing_keys_file = Some(path.clone())).await;

    let kids: Vec<_> = svc.published_keys().await.into_iter().map(|k| k.kid).collect();
    let login = svc.signed_up("ana@example.com").await;

    assert_eq!(kids, ["file-1", "file-0"]);
    assert_eq!(jwt::key_id(&login.access_token).unwrap(), "file-1");
}

#[tokio::test]
async fn the_generated_key_survives_a_restart_so_earlier_tokens_still_verify() {
    let svc = TestAuth::start().await;
    let login = svc.signed_up("ana@example.com").await;
    let before = svc.published_keys().await;

    let svc = svc.restart().await;
    let after = svc.published_keys().await;
    let key = after
        .iter()
        .find(|k| k.kid == jwt::key_id(&login.access_token).unwrap());

    assert_eq!(before, after, "the same key is published after the restart");
    let key = key.expect("the kid is published");
    let claims = jwt::verify(&login.access_token, key, &expectations(), svc.clock.now());
    assert!(claims.is_ok(), "{claims:?}");
    assert!(
        svc.refresh(&login.refresh_token).await.is_ok(),
        "the session survives too"
    );
}

#[tokio::test]
async fn a_service_account_gets_a_service_token_for_its_secret_only() {
    let svc = TestAuth::start_with(|c| c.service_client_secret = Some("reservation secret 123".into())).await;

    let issued = svc
        .service_token("reservation", "reservation secret 123")
        .await
        .expect("service token");
    let wrong = svc.service_token("reservation", "not the secret!").await.unwrap_err();
    let unknown = svc
        .service_token("billing", "reservation secret 123")
        .await
        .unwrap_err();

    let claims = svc.verify(&issued.access_token).await.expect("verifies");
    assert_eq!(claims.role, Role::Service);
    assert_eq!(claims.sub, "service:reservation");
    assert_eq!(claims.exp, claims.iat + helpers::ACCESS_TTL.as_secs() as i64);
    assert_eq!(issued.token_type, "Bearer");
    assert_eq!(wrong.code(), Code::Unauthenticated);
    assert_eq!((unknown.code(), unknown.message()), (wrong.code(), wrong.message()));
}

#[tokio::test]
async fn without_a_configured_secret_there_is_no_service_account() {
    let svc = TestAuth::start().await;
    let err = svc.service_token("reservation", PASSWORD).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn repeated_bad_client_secrets_for_one_client_id_are_throttled() {
    let svc = TestAuth::start_with(|c| {
        c.service_client_secret = Some("reservation secret 123".into());
        c.max_failed_service_logins = 3;
    })
    .await;
    for _ in 0..3 {
        let err = svc.service_token("reservation", "guess guess guess").await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
    }

    let err = svc
        .service_token("reservation", "reservation secret 123")
        .await
        .unwrap_err();

    assert_eq!(err.code(), Code::ResourceExhausted);
}
