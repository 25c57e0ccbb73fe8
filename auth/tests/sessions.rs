//! Sessions: refresh-token rotation, reuse detection revoking the whole family,
//! expiry by the service's clock, and logout.

mod common;

use std::time::Duration;

use common::{REFRESH_TTL, TestAuth};
use tonic::Code;
use travel::Clock;
use travel::token::Role;

#[tokio::test]
async fn refresh_rotates_the_token_and_the_old_one_is_refused_afterwards() {
    let svc = TestAuth::start().await;
    let login = svc.signed_up("ana@example.com").await;
    svc.clock.advance(Duration::from_secs(60));

    let refreshed = svc.refresh(&login.refresh_token).await.expect("refresh");
    let claims = svc
        .verify(&refreshed.access_token)
        .await
        .expect("new access token verifies");

    assert_ne!(refreshed.refresh_token, login.refresh_token);
    assert_eq!(refreshed.token_type, "Bearer");
    assert_eq!(Some(claims.sub.as_str()), login.user.as_ref().map(|u| u.id.as_str()));
    assert_eq!(claims.role, Role::Customer);
    assert_eq!(refreshed.access_token_expires_at.map(|t| t.seconds), Some(claims.exp));
    let before = login.refresh_token_expires_at.map(|t| t.seconds).unwrap_or_default();
    let after = refreshed
        .refresh_token_expires_at
        .map(|t| t.seconds)
        .unwrap_or_default();
    assert_eq!(after - before, 60, "the new refresh token runs from now");
    let old = svc.refresh(&login.refresh_token).await.unwrap_err();
    assert_eq!(old.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn reusing_a_spent_refresh_token_revokes_its_whole_family() {
    let svc = TestAuth::start().await;
    let login = svc.signed_up("ana@example.com").await;
    let second = svc.refresh(&login.refresh_token).await.expect("first rotation");
    let third = svc.refresh(&second.refresh_token).await.expect("second rotation");
    let other_session = svc.login("ana@example.com", common::PASSWORD).await.expect("login");

    let reuse = svc.refresh(&login.refresh_token).await.unwrap_err();
    let newest = svc.refresh(&third.refresh_token).await.unwrap_err();

    assert_eq!(reuse.code(), Code::Unauthenticated);
    assert_eq!(
        newest.code(),
        Code::Unauthenticated,
        "the family's newest token is revoked too"
    );
    assert_eq!(newest.message(), reuse.message(), "one message for every refusal");
    let other = svc.refresh(&other_session.refresh_token).await;
    assert!(other.is_ok(), "another login's family is untouched: {other:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_two_concurrent_refreshes_of_one_token_at_most_one_wins_and_the_family_is_revoked() {
    let svc = TestAuth::start().await;
    let login = svc.signed_up("ana@example.com").await;

    let (a, b) = tokio::join!(svc.refresh(&login.refresh_token), svc.refresh(&login.refresh_token));

    let winners: Vec<_> = [&a, &b].into_iter().filter_map(|r| r.as_ref().ok()).collect();
    assert!(winners.len() <= 1, "both refreshes won: {a:?} {b:?}");
    for r in [&a, &b] {
        if let Err(status) = r {
            assert_eq!(status.code(), Code::Unauthenticated);
        }
    }
    for winner in winners {
        let after = svc.refresh(&winner.refresh_token).await.unwrap_err();
        assert_eq!(after.code(), Code::Unauthenticated, "the loser counted as reuse");
    }
}

#[tokio::test]
async fn an_expired_refresh_token_is_refused() {
    let svc = TestAuth::start().await;
    let login = svc.signed_up("ana@example.com").await;
    let fresh = svc.login("ana@example.com", common::PASSWORD).await.expect("login");

    svc.clock.advance(REFRESH_TTL - Duration::from_secs(1));
    let just_in_time = svc.refresh(&fresh.refresh_token).await;
    svc.clock.advance(Duration::from_secs(1));
    let expired = svc.refresh(&login.refresh_token).await.unwrap_err();

    assert!(just_in_time.is_ok(), "{just_in_time:?}");
    assert_eq!(expired.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn the_sweeper_deletes_only_expired_refresh_tokens() {
    let svc = TestAuth::start().await;
    let old = svc.signed_up("ana@example.com").await;
    svc.clock.advance(REFRESH_TTL / 2);
    let young = svc.login("ana@example.com", common::PASSWORD).await.expect("login");
    svc.clock.advance(REFRESH_TTL / 2);

    let deleted = svc.store.delete_expired_tokens(svc.clock.now()).await.unwrap();

    assert_eq!(deleted, 1);
    assert_eq!(
        svc.refresh(&old.refresh_token).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    assert!(svc.refresh(&young.refresh_token).await.is_ok());
}

#[tokio::test]
async fn logout_revokes_the_session_and_is_idempotent() {
    let svc = TestAuth::start().await;
    let login = svc.signed_up("ana@example.com").await;
    let rotated = svc.refresh(&login.refresh_token).await.expect("refresh");

    svc.logout(&rotated.refresh_token).await.expect("logout");
    svc.logout(&rotated.refresh_token).await.expect("logout again");
    svc.logout(&login.refresh_token)
        .await
        .expect("logout with a spent token");
    svc.logout("never-issued-by-this-service").await.expect("unknown token");

    let after = svc.refresh(&rotated.refresh_token).await.unwrap_err();
    assert_eq!(after.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn a_client_that_sends_its_expired_access_token_along_can_still_refresh() {
    let svc = TestAuth::start().await;
    let login = svc.signed_up("ana@example.com").await;
    svc.clock.advance(common::ACCESS_TTL + Duration::from_secs(120));
    let mut request = tonic::Request::new(travel::pb::auth::v1::RefreshRequest {
        refresh_token: login.refresh_token.clone(),
    });
    let bearer = format!("Bearer {}", login.access_token).parse().expect("ascii");
    request.metadata_mut().insert("authorization", bearer);

    let refreshed = svc.client.clone().refresh(request).await;

    assert!(refreshed.is_ok(), "{refreshed:?}");
}
