//! Accounts through the API: registering and logging in, the access token's
//! claims verified the way the other services verify them, unique emails,
//! request idempotency, the stored password hash, the bootstrapped admin, and
//! refusals of bad input.

use tonic::Code;
use travel::jwt::Role;
use travel::pb::auth::v1 as pb;
use travel_auth::domain::Email;

use crate::helpers;
use crate::helpers::{ACCESS_TTL, PASSWORD, START_MS, TestAuth, violated_fields};

#[tokio::test]
async fn a_registered_customer_logs_in_with_a_token_the_services_can_verify() {
    let svc = TestAuth::start().await;

    let user = svc.register("  Ana@Example.COM ", PASSWORD).await.expect("register");
    let login = svc.login("ana@example.com", PASSWORD).await.expect("login");

    assert_eq!(user.email, "ana@example.com", "the email is normalised");
    assert_eq!(user.role(), pb::Role::Customer);
    assert_eq!(user.create_time.map(|t| t.seconds), Some(START_MS / 1000));
    assert_eq!(login.user.as_ref(), Some(&user));
    assert_eq!(login.token_type, "Bearer");
    let claims = svc.verify(&login.access_token).await.expect("the token verifies");
    assert_eq!(claims.sub, user.id);
    assert_eq!(claims.role, Role::Customer);
    assert_eq!((claims.iss.as_str(), claims.aud.as_str()), ("travel-auth", "travel"));
    assert_eq!(claims.iat, START_MS / 1000);
    assert_eq!(claims.exp, claims.iat + ACCESS_TTL.as_secs() as i64);
    assert_eq!(login.access_token_expires_at.map(|t| t.seconds), Some(claims.exp));
    assert!(!login.refresh_token.is_empty());
    assert_eq!(
        login.refresh_token_expires_at.map(|t| t.seconds),
        Some(START_MS / 1000 + helpers::REFRESH_TTL.as_secs() as i64)
    );
}

#[tokio::test]
async fn an_email_is_one_account_whatever_its_case_or_surrounding_space() {
    let svc = TestAuth::start_with(|c| c.max_registers_per_email = 4).await;
    let first = svc.register("ana@example.com", PASSWORD).await.expect("register");

    for email in ["ana@example.com", "ANA@Example.com", "  ana@example.com\t"] {
        // Issue 7: the same answer as for a new email (no ALREADY_EXISTS), and nothing changes.
        let again = svc.register(email, "another good password").await.expect(email);
        assert_eq!(again.email, "ana@example.com", "{email}");
        assert_ne!(again.id, first.id, "{email}: a stand-in, not the account");
        let err = svc.login("ana@example.com", "another good password").await.unwrap_err();
        assert_eq!(
            err.code(),
            Code::Unauthenticated,
            "{email}: the account keeps its password"
        );
    }
    let login = svc.login("ana@example.com", PASSWORD).await.expect("login");
    assert_eq!(login.user.map(|u| u.id), Some(first.id));
}

#[tokio::test]
async fn a_register_retried_with_its_request_id_returns_the_first_user() {
    let svc = TestAuth::start().await;
    let mut client = svc.client.clone();
    let request = pb::RegisterRequest {
        email: "ana@example.com".into(),
        password: PASSWORD.into(),
        request_id: "signup-1".into(),
    };

    let first = client.register(request.clone()).await.unwrap().into_inner().user;
    let retry = client.register(request.clone()).await.unwrap().into_inner().user;
    let other_password = client
        .register(pb::RegisterRequest {
            password: "a different password".into(),
            ..request.clone()
        })
        .await
        .unwrap()
        .into_inner()
        .user;
    let other_email = client
        .register(pb::RegisterRequest {
            email: "bo@example.com".into(),
            ..request
        })
        .await
        .unwrap()
        .into_inner()
        .user;

    assert!(first.is_some());
    assert_eq!(first, retry);
    // Issue 7: a different request under the key gets the uniform answer for a
    // taken email (not ALREADY_EXISTS), and keys are scoped per email.
    assert_ne!(other_password.map(|u| u.id), first.as_ref().map(|u| u.id.clone()));
    let bo = other_email.expect("bo registered under the same request id");
    assert_eq!(bo.email, "bo@example.com");
    let login = svc
        .login("bo@example.com", PASSWORD)
        .await
        .expect("bo's account exists");
    assert_eq!(login.user.map(|u| u.id), Some(bo.id));
}

#[tokio::test]
async fn the_stored_password_is_an_argon2id_phc_string() {
    let svc = TestAuth::start().await;
    svc.register("ana@example.com", PASSWORD).await.expect("register");

    let email = Email::parse("ana@example.com").unwrap();
    let stored = svc.store.password_hash(&email).await.unwrap().expect("a stored hash");

    assert!(stored.starts_with("$argon2id$v=19$m="), "{stored}");
    assert!(!stored.contains(PASSWORD));
    assert_eq!(
        stored.split('$').count(),
        6,
        "$argon2id$v=19$params$salt$hash: {stored}"
    );
}

#[tokio::test]
async fn the_configured_admin_logs_in_with_the_admin_role() {
    let svc = TestAuth::start_with(|c| {
        c.admin_email = Some("Root@Example.com".into());
        c.admin_password = Some("admin password 123".into());
    })
    .await;

    let login = svc
        .login("root@example.com", "admin password 123")
        .await
        .expect("login");

    assert_eq!(login.user.as_ref().map(|u| u.role()), Some(pb::Role::Admin));
    let claims = svc.verify(&login.access_token).await.expect("verifies");
    assert_eq!(claims.role, Role::Admin);
    let register = svc
        .register("root@example.com", PASSWORD)
        .await
        .expect("the uniform answer");
    assert_eq!(register.role(), pb::Role::Customer);
    assert_ne!(Some(register.id), login.user.map(|u| u.id), "a stand-in, not the admin");
    let taken = svc.login("root@example.com", PASSWORD).await.unwrap_err();
    assert_eq!(
        taken.code(),
        Code::Unauthenticated,
        "nobody can register the admin's email"
    );
    assert!(svc.login("root@example.com", "admin password 123").await.is_ok());
}

#[tokio::test]
async fn a_restart_with_a_new_admin_password_updates_it_and_ends_old_sessions() {
    let mut svc = TestAuth::start_with(|c| {
        c.admin_email = Some("root@example.com".into());
        c.admin_password = Some("admin password 123".into());
    })
    .await;
    svc.register("ana@example.com", PASSWORD).await.expect("register");
    let session = svc.login("root@example.com", "admin password 123").await.unwrap();
    svc.set_config(|c| c.admin_password = Some("a brand new password".into()));
    let svc = svc.restart().await;

    let old = svc.login("root@example.com", "admin password 123").await.unwrap_err();
    let new = svc.login("root@example.com", "a brand new password").await;
    let refresh = svc.refresh(&session.refresh_token).await.unwrap_err();

    assert_eq!(old.code(), Code::Unauthenticated);
    assert!(new.is_ok(), "{new:?}");
    assert_eq!(
        refresh.code(),
        Code::Unauthenticated,
        "sessions of the old password end"
    );
    assert!(
        svc.login("ana@example.com", PASSWORD).await.is_ok(),
        "customers are untouched"
    );
}

#[tokio::test]
async fn bad_input_is_invalid_argument_naming_the_field() {
    let svc = TestAuth::start().await;
    let mut client = svc.client.clone();
    let register = |email: &str, password: &str, request_id: &str| pb::RegisterRequest {
        email: email.into(),
        password: password.into(),
        request_id: request_id.into(),
    };
    let login = |email: &str, password: &str| pb::LoginRequest {
        email: email.into(),
        password: password.into(),
    };
    let service = |id: &str, secret: &str| pb::IssueServiceTokenRequest {
        client_id: id.into(),
        client_secret: secret.into(),
    };
    let long_email = format!("{}@example.com", "a".repeat(250));
    let mut cases = Vec::new();
    for (name, req, field) in [
        ("empty email", register("", PASSWORD, ""), "email"),
        ("no at sign", register("ana.example.com", PASSWORD, ""), "email"),
        ("two at signs", register("ana@b@example.com", PASSWORD, ""), "email"),
        ("no local part", register("@example.com", PASSWORD, ""), "email"),
        ("domain without a dot", register("ana@localhost", PASSWORD, ""), "email"),
        ("overlong email", register(&long_email, PASSWORD, ""), "email"),
        ("short password", register("ana@example.com", "short", ""), "password"),
        (
            "11 characters",
            register("ana@example.com", "ééééééééééé", ""),
            "password",
        ),
        (
            "overlong password",
            register("ana@example.com", &"x".repeat(129), ""),
            "password",
        ),
        (
            "bad request id",
            register("ana@example.com", PASSWORD, "a b"),
            "request_id",
        ),
    ] {
        cases.push((name, client.register(req).await.unwrap_err(), field));
    }
    let padded_email = format!("{}ana@example.com", " ".repeat(1002));
    for (name, req, field) in [
        ("login without email", login("", PASSWORD), "email"),
        ("login with a malformed email", login("ana", PASSWORD), "email"),
        ("login without password", login("ana@example.com", ""), "password"),
        // Valid once trimmed, but longer than 4 × 254 bytes raw: refused before NFKC runs.
        (
            "login with a raw email past 1016 bytes",
            login(&padded_email, PASSWORD),
            "email",
        ),
    ] {
        cases.push((name, client.login(req).await.unwrap_err(), field));
    }
    let refresh = pb::RefreshRequest::default();
    cases.push((
        "empty refresh token",
        client.refresh(refresh).await.unwrap_err(),
        "refresh_token",
    ));
    let logout = pb::LogoutRequest {
        refresh_token: "x".repeat(300),
    };
    cases.push((
        "overlong refresh token",
        client.logout(logout).await.unwrap_err(),
        "refresh_token",
    ));
    for (name, req, field) in [
        ("empty client id", service("", "secret"), "client_id"),
        ("bad client id", service("a/b", "secret"), "client_id"),
        ("empty client secret", service("reservation", ""), "client_secret"),
    ] {
        cases.push((name, client.issue_service_token(req).await.unwrap_err(), field));
    }

    for (name, status, field) in &cases {
        assert_eq!(status.code(), Code::InvalidArgument, "{name}: {status:?}");
        assert!(
            violated_fields(status).iter().any(|f| f == field),
            "{name}: expected a violation on {field}, got {status:?}"
        );
    }
    let short = &cases[6].1;
    assert!(
        short.message().contains("12 and 128 characters"),
        "a clear message: {short:?}"
    );
    assert!(svc.register("ana@example.com", PASSWORD).await.is_ok(), "still serving");
}
