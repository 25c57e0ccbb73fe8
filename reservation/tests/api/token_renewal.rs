//! The service token is renewed in the background, off the request path:
//! against a fake auth service on 127.0.0.1:0 that counts IssueServiceToken
//! calls and can answer, stall or fail, with a manual clock deciding when the
//! tokens it issues expire. Bounds in these tests are liveness bounds (a call
//! that would otherwise wait forever, or behind a stalled renewal), never speed
//! assertions.

use std::sync::Arc;
use std::time::Duration;

use tonic::{Code, Status};
use travel::deadline::Deadline;
use travel::testing::{FAKE_TOKEN_LIFE, FakeAuth, TokenAnswer};
use travel_reservation::ServiceToken;
use travel_reservation::clients::TokenBackoff;

/// The life of the tokens the fake issues, as the real auth's default.
const LIFE: Duration = FAKE_TOKEN_LIFE;
/// A liveness bound: far longer than serving a cached token could take.
const LIVENESS: Duration = Duration::from_secs(3);

const ANSWER: TokenAnswer = TokenAnswer::Answer;
const STALL: TokenAnswer = TokenAnswer::Stall;
const FAIL: TokenAnswer = TokenAnswer::Fail;

/// The fake auth, answering token requests as `answer` from the start (the
/// renewal task asks for a token as soon as it is made), serving on a port
/// bound before it is spawned, and a service token from it on the same manual clock.
async fn fake_auth(answer: TokenAnswer) -> (Arc<FakeAuth>, ServiceToken) {
    fake_auth_with(answer, TokenBackoff::default()).await
}

/// [`fake_auth`], with the renewal task backing off by `backoff`.
async fn fake_auth_with(answer: TokenAnswer, backoff: TokenBackoff) -> (Arc<FakeAuth>, ServiceToken) {
    let (state, url) = FakeAuth::spawn_answering(answer).await;
    let clock = state.clock.clone();
    let token =
        ServiceToken::from_auth_with_backoff(&url, "reservation", Some("secret".into()), Arc::new(clock), backoff)
            .expect("token");
    (state, token)
}

async fn get(token: &ServiceToken) -> Result<String, Status> {
    get_within(token, Duration::from_secs(20)).await
}

async fn get_within(token: &ServiceToken, budget: Duration) -> Result<String, Status> {
    token.get(Deadline::after(budget)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_token_is_not_renewed_on_the_request_path() {
    // Arrange: a valid token, then auth stalls (accepts calls, never answers).
    let (auth, token) = fake_auth(ANSWER).await;
    assert_eq!(get(&token).await.expect("first token"), "t1");
    auth.set(STALL);

    // Act: in the token's last minute, many calls at once.
    auth.clock.advance(LIFE - Duration::from_secs(30));
    let calls = (0..20).map(|_| {
        let token = token.clone();
        tokio::spawn(async move { tokio::time::timeout(LIVENESS, get(&token)).await })
    });
    let results = futures::future::join_all(calls).await;

    // Assert: every call got the valid token at once, none queued behind the stalled renewal.
    for result in results {
        let got = result
            .expect("task")
            .expect("a call waited behind the renewal of a still-valid token");
        assert_eq!(got.expect("token"), "t1");
    }
    let renewing = tokio::time::timeout(Duration::from_secs(10), async {
        while auth.calls() < 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(renewing.is_ok(), "the renewal was asked for in the background");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_renewed_from_half_its_life_outlives_an_auth_outage() {
    // Arrange: a valid token; past half its life, auth still answers.
    let (auth, token) = fake_auth(ANSWER).await;
    assert_eq!(get(&token).await.expect("first token"), "t1");
    auth.clock.advance(LIFE / 2 + Duration::from_secs(1));

    // Act: the renewal happens in the background (polled, with a liveness bound).
    let renewed = tokio::time::timeout(Duration::from_secs(10), async {
        while get(&token).await.ok().as_deref() != Some("t2") {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(renewed.is_ok(), "the token was not renewed from half its life");
    // Then auth goes down for longer than the first token had left.
    auth.set(FAIL);
    auth.clock.advance(LIFE / 2 + Duration::from_secs(60));

    // Assert: checkouts keep their token.
    assert_eq!(get(&token).await.expect("a token while auth is down"), "t2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_valid_token_and_auth_stalled_calls_fail_unavailable_within_their_deadline() {
    // Arrange: auth accepts calls and never answers; no token yet.
    let (_auth, token) = fake_auth(STALL).await;

    // Act: many calls at once, each with a short deadline.
    let calls = (0..10).map(|_| {
        let token = token.clone();
        tokio::spawn(
            async move { tokio::time::timeout(LIVENESS, get_within(&token, Duration::from_millis(200))).await },
        )
    });
    let results = futures::future::join_all(calls).await;

    // Assert: each failed at its own deadline, none queued behind another's wait.
    for result in results {
        let got = result.expect("task").expect("a call outlived its deadline");
        assert_eq!(got.expect_err("no token can be had").code(), Code::Unavailable);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewals_that_fail_back_off_instead_of_asking_auth_on_every_call() {
    // Arrange: auth refuses; no token yet.
    let (auth, token) = fake_auth(FAIL).await;

    // Act: a burst of calls.
    for _ in 0..20 {
        let got = tokio::time::timeout(LIVENESS, get(&token))
            .await
            .expect("a call waited");
        assert!(got.is_err());
    }

    // Assert: a couple of calls to auth (the first, perhaps one retry), not one per call.
    assert!(auth.calls() <= 3, "{} calls to auth for 20 checkouts", auth.calls());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_a_service_refused_is_replaced_on_the_next_call() {
    // Arrange
    let (auth, token) = fake_auth(ANSWER).await;
    assert_eq!(get(&token).await.expect("first token"), "t1");

    // Act: flight or hotel answered UNAUTHENTICATED with it.
    token.invalidate("t1").await;

    // Assert: the next call waits (within its deadline) for a new one.
    let next = tokio::time::timeout(Duration::from_secs(10), get(&token)).await;
    assert_eq!(next.expect("a call outlived its deadline").expect("a new token"), "t2");
    assert_eq!(auth.calls(), 2);
}

/// A renewal that failed while a valid token served is retried an hour later,
/// unless no valid token is left: then at most `max_without_token` after it.
fn long_backoff_with_a_token() -> TokenBackoff {
    TokenBackoff {
        first: Duration::from_secs(3600),
        max: Duration::from_secs(3600),
        max_without_token: Duration::from_millis(200),
    }
}

/// Calls `get` until it answers with a token; `None` if it still does not
/// after a liveness bound (not a speed assertion).
async fn eventually_a_token(token: &ServiceToken) -> Option<String> {
    tokio::time::timeout(LIVENESS, async {
        loop {
            if let Ok(t) = get_within(token, Duration::from_secs(1)).await {
                return t;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .ok()
}

/// Auth fails the renewal of t1 from half its life (the task then backs off
/// for an hour, t1 still serving), then answers again.
async fn renewal_failed_while_t1_served(auth: &FakeAuth, token: &ServiceToken) {
    assert_eq!(get(token).await.expect("first token"), "t1");
    auth.set(FAIL);
    auth.clock.advance(LIFE / 2 + Duration::from_secs(1));
    assert_eq!(get(token).await.expect("t1 still serves"), "t1");
    tokio::time::timeout(LIVENESS, async {
        while auth.calls() < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the renewal was tried");
    auth.set(ANSWER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_the_token_expires_a_long_renewal_backoff_is_cut_short() {
    // Arrange
    let (auth, token) = fake_auth_with(ANSWER, long_backoff_with_a_token()).await;
    renewal_failed_while_t1_served(&auth, &token).await;

    // Act: t1 expires.
    auth.clock.advance(LIFE);

    // Assert: with auth back, calls get a new token soon, not after the hour.
    assert_eq!(
        eventually_a_token(&token).await.as_deref(),
        Some("t3"),
        "calls kept failing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_the_token_is_refused_a_long_renewal_backoff_is_cut_short() {
    // Arrange
    let (auth, token) = fake_auth_with(ANSWER, long_backoff_with_a_token()).await;
    renewal_failed_while_t1_served(&auth, &token).await;

    // Act: a service refused t1.
    token.invalidate("t1").await;

    // Assert
    assert_eq!(
        eventually_a_token(&token).await.as_deref(),
        Some("t3"),
        "calls kept failing"
    );
}
