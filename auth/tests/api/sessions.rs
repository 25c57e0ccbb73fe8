//! Sessions: refresh-token rotation, reuse detection revoking the whole family,
//! the grace window for a retry of the token just rotated, expiry and the
//! absolute session lifetime by the service's clock, and logout.

use std::time::Duration;

/// The default --refresh-reuse-grace.
const GRACE: Duration = Duration::from_secs(30);
use tonic::Code;
use travel::Clock;
use travel::jwt::Role;

use crate::helpers;
use crate::helpers::{REFRESH_TTL, TestAuth};

#[tokio::test]
async fn refresh_rotates_the_token_and_the_old_one_is_refused_once_the_grace_window_is_over() {
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
    svc.clock.advance(GRACE);
    let old = svc.refresh(&login.refresh_token).await.unwrap_err();
    assert_eq!(old.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn reusing_a_spent_refresh_token_revokes_its_whole_family() {
    let svc = TestAuth::start().await;
    let login = svc.signed_up("ana@example.com").await;
    let second = svc.refresh(&login.refresh_token).await.expect("first rotation");
    let third = svc.refresh(&second.refresh_token).await.expect("second rotation");
    let other_session = svc.login("ana@example.com", helpers::PASSWORD).await.expect("login");

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
async fn without_a_grace_window_of_two_concurrent_refreshes_of_one_token_at_most_one_wins_and_the_family_is_revoked() {
    let svc = TestAuth::start_with(|c| c.refresh_reuse_grace = Duration::ZERO).await;
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
    let fresh = svc.login("ana@example.com", helpers::PASSWORD).await.expect("login");

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
    let young = svc.login("ana@example.com", helpers::PASSWORD).await.expect("login");
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
    svc.clock.advance(helpers::ACCESS_TTL + Duration::from_secs(120));
    let mut request = tonic::Request::new(travel::pb::auth::v1::RefreshRequest {
        refresh_token: login.refresh_token.clone(),
    });
    let bearer = format!("Bearer {}", login.access_token).parse().expect("ascii");
    request.metadata_mut().insert("authorization", bearer);

    let refreshed = svc.client.clone().refresh(request).await;

    assert!(refreshed.is_ok(), "{refreshed:?}");
}

/// One day, for session lifetimes.
const DAY: Duration = Duration::from_secs(24 * 3600);

#[tokio::test]
async fn a_retry_after_a_lost_refresh_response_keeps_the_session_and_sessions_have_an_absolute_lifetime() {
    // Refresh tokens that would outlive the default 30-day session.
    let svc = TestAuth::start_with(|c| c.refresh_token_ttl = DAY * 40).await;
    let login = svc.signed_up("ana@example.com").await;
    let session_end_s = helpers::START_MS / 1000 + (DAY * 30).as_secs() as i64;
    let _lost = svc.refresh(&login.refresh_token).await.expect("first refresh");
    svc.clock.advance(Duration::from_secs(5));

    let retried = svc.refresh(&login.refresh_token).await;
    svc.clock.advance(DAY * 29);
    let late = match &retried {
        Ok(r) => svc.refresh(&r.refresh_token).await,
        Err(e) => Err(e.clone()),
    };
    svc.clock.advance(DAY);
    let past_end = match &late {
        Ok(r) => svc.refresh(&r.refresh_token).await,
        Err(e) => Err(e.clone()),
    };

    assert!(
        retried.is_ok(),
        "a retry 5 s after a lost response is answered: {retried:?}"
    );
    let late = late.expect("a session refreshed within its lifetime goes on");
    assert_eq!(
        late.refresh_token_expires_at.map(|t| t.seconds),
        Some(session_end_s),
        "the refresh token expires with its session, 30 days after login"
    );
    let past_end = past_end.expect_err("30 days after login the session is over, whatever the rotations");
    assert_eq!(past_end.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn a_retry_within_the_grace_window_revokes_the_token_it_replaces_and_that_token_revokes_the_session() {
    // Also what a thief replaying the token just rotated gets: the holder's next
    // Refresh presents the superseded token, and the session ends for both.
    let svc = TestAuth::start().await;
    let login = svc.signed_up("ana@example.com").await;
    let lost = svc.refresh(&login.refresh_token).await.expect("first refresh");
    svc.clock.advance(GRACE - Duration::from_millis(1));

    let retried = svc
        .refresh(&login.refresh_token)
        .await
        .expect("retry within the window");
    let superseded = svc.refresh(&lost.refresh_token).await.unwrap_err();
    let after = svc.refresh(&retried.refresh_token).await.unwrap_err();

    assert_ne!(
        retried.refresh_token, lost.refresh_token,
        "no token is handed out twice"
    );
    assert_eq!(superseded.code(), Code::Unauthenticated);
    assert_eq!(
        after.code(),
        Code::Unauthenticated,
        "presenting a superseded token revokes the family"
    );
}

#[tokio::test]
async fn a_retry_after_the_grace_window_revokes_the_whole_family() {
    let svc = TestAuth::start().await;
    let login = svc.signed_up("ana@example.com").await;
    let next = svc.refresh(&login.refresh_token).await.expect("refresh");
    svc.clock.advance(GRACE);

    let late = svc.refresh(&login.refresh_token).await.unwrap_err();
    let newest = svc.refresh(&next.refresh_token).await.unwrap_err();

    assert_eq!(late.code(), Code::Unauthenticated);
    assert_eq!(newest.code(), Code::Unauthenticated, "the family is revoked");
}

#[tokio::test]
async fn with_the_grace_window_turned_off_any_retry_revokes_the_whole_family() {
    let svc = TestAuth::start_with(|c| c.refresh_reuse_grace = Duration::ZERO).await;
    let login = svc.signed_up("ana@example.com").await;
    let next = svc.refresh(&login.refresh_token).await.expect("refresh");

    let retry = svc.refresh(&login.refresh_token).await.unwrap_err();
    let newest = svc.refresh(&next.refresh_token).await.unwrap_err();

    assert_eq!(retry.code(), Code::Unauthenticated);
    assert_eq!(newest.code(), Code::Unauthenticated, "the family is revoked");
}

#[tokio::test]
async fn a_retry_within_the_grace_window_after_logout_is_refused() {
    let svc = TestAuth::start().await;
    let login = svc.signed_up("ana@example.com").await;
    let next = svc.refresh(&login.refresh_token).await.expect("refresh");
    svc.logout(&next.refresh_token).await.expect("logout");

    let retry = svc.refresh(&login.refresh_token).await.unwrap_err();

    assert_eq!(retry.code(), Code::Unauthenticated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_concurrent_refreshes_of_one_token_within_the_grace_window_leave_one_live_token() {
    let svc = TestAuth::start().await;
    let login = svc.signed_up("ana@example.com").await;

    let (a, b) = tokio::join!(svc.refresh(&login.refresh_token), svc.refresh(&login.refresh_token));

    let (a, b) = (a.expect("first of two"), b.expect("second of two"));
    assert_ne!(a.refresh_token, b.refresh_token);
    let first = svc.refresh(&a.refresh_token).await;
    let second = svc.refresh(&b.refresh_token).await;
    assert!(
        second.is_err(),
        "two live branches of one family: {first:?} then {second:?}"
    );
}

#[tokio::test]
async fn the_session_lifetime_counts_from_login_whatever_the_rotations() {
    let svc = TestAuth::start_with(|c| c.session_max_lifetime = Duration::from_secs(100 * 60)).await;
    let start_s = helpers::START_MS / 1000;
    let login = svc.signed_up("ana@example.com").await;
    svc.clock.advance(Duration::from_secs(50 * 60));
    let first = svc.refresh(&login.refresh_token).await.expect("at 50 minutes");
    svc.clock.advance(Duration::from_secs(49 * 60 + 40));
    let second = svc.refresh(&first.refresh_token).await.expect("at 99 minutes 40");
    svc.clock.advance(Duration::from_secs(20));

    let at_end = svc.refresh(&second.refresh_token).await.unwrap_err();
    let retry_at_end = svc.refresh(&first.refresh_token).await.unwrap_err();

    let expiry = |t: Option<prost_types::Timestamp>| t.map(|t| t.seconds - start_s);
    assert_eq!(expiry(login.refresh_token_expires_at), Some(3600), "its own TTL first");
    assert_eq!(
        expiry(first.refresh_token_expires_at),
        Some(100 * 60),
        "then the session's end"
    );
    assert_eq!(expiry(second.refresh_token_expires_at), Some(100 * 60));
    assert_eq!(at_end.code(), Code::Unauthenticated);
    assert_eq!(
        retry_at_end.code(),
        Code::Unauthenticated,
        "no grace past the session's end, 20 s after its rotation"
    );
}

#[tokio::test]
async fn a_login_token_never_outlives_a_session_shorter_than_the_refresh_ttl() {
    let svc = TestAuth::start_with(|c| c.session_max_lifetime = Duration::from_secs(600)).await;

    let login = svc.signed_up("ana@example.com").await;

    let expires = login.refresh_token_expires_at.map(|t| t.seconds);
    assert_eq!(expires, Some(helpers::START_MS / 1000 + 600));
}
