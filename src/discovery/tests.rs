//! Targets as flags give them, and balanced channels over real tonic servers on
//! 127.0.0.1:0: fake auth replicas (which count the calls each one gets) behind
//! a resolver the test changes, and health servers the test kills.

use std::future::Future;
use std::io;
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use super::*;
use crate::pb::auth::v1::GetSigningKeysRequest;
use crate::pb::auth::v1::auth_service_client::AuthServiceClient;
use crate::testing::FakeAuth;

/// How often the balanced channels under test look again.
const INTERVAL: Duration = Duration::from_millis(50);
/// Liveness bound of the polling loops (not a speed assertion).
const BOUND: Duration = Duration::from_secs(10);

fn uri(url: &str) -> Uri {
    url.parse().expect("uri")
}

#[test]
fn targets_parse_from_urls_lists_and_dns_names() {
    assert_eq!(
        "http://127.0.0.1:50051".parse(),
        Ok(Target::Url(uri("http://127.0.0.1:50051")))
    );
    assert_eq!(
        "dns:///flight.travel.svc:50052".parse(),
        Ok(Target::Dns {
            host: "flight.travel.svc".into(),
            port: 50052
        })
    );
    assert_eq!(
        "http://a:1, http://b:2".parse(),
        Ok(Target::List(vec![uri("http://a:1"), uri("http://b:2")]))
    );
    let dns: Target = "dns:///[::1]:50052".parse().expect("an IPv6 address");
    assert_eq!(dns.to_string(), "dns:///[::1]:50052");
}

#[test]
fn bad_targets_are_refused_with_the_reason() {
    assert_eq!("  ".parse::<Target>(), Err(TargetError::Empty));
    for bad in [
        "flight:50052",
        "ftp://a:1",
        "http://a:1/api",
        "http://a:1?x=1",
        "http://a:1,,http://b:2",
        "http://a:1,",
    ] {
        assert!(
            matches!(bad.parse::<Target>(), Err(TargetError::BadUrl(_))),
            "{bad} was accepted"
        );
    }
    for bad in [
        "dns://8.8.8.8/flight:50052",
        "dns:///flight",
        "dns:///:50052",
        "dns:///flight:0",
        "dns:///flight:x",
    ] {
        assert!(
            matches!(bad.parse::<Target>(), Err(TargetError::BadDns(_))),
            "{bad} was accepted"
        );
    }
    let message = target_flag("dns:///flight").expect_err("no port").to_string();
    assert!(message.contains("dns:///name:port"), "{message}");
}

/// The replicas a test's resolver answers with, which the test changes.
#[derive(Clone, Default)]
struct Replicas(Arc<Mutex<Vec<Uri>>>);

impl Replicas {
    fn set(&self, urls: &[&str]) {
        *self.0.lock().expect("lock") = urls.iter().map(|u| uri(u)).collect();
    }

    fn resolver(&self) -> impl Fn() -> io::Result<Vec<Uri>> + Send + Sync + 'static {
        let replicas = self.0.clone();
        move || Ok(replicas.lock().expect("lock").clone())
    }
}

fn auth_client(replicas: &Replicas) -> AuthServiceClient<Channel> {
    let channel = balanced("auth".into(), replicas.resolver(), INTERVAL, |e| {
        e.timeout(Duration::from_secs(5))
    });
    AuthServiceClient::new(channel)
}

async fn fetch_keys(client: &AuthServiceClient<Channel>, times: usize) {
    for _ in 0..times {
        client
            .clone()
            .get_signing_keys(GetSigningKeysRequest {})
            .await
            .expect("a replica answers");
    }
}

/// Polls `condition` (after `step`) until it holds, within [`BOUND`].
async fn eventually<F, Fut>(mut step: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    tokio::time::timeout(BOUND, async {
        while !step().await {
            tokio::time::sleep(INTERVAL / 5).await;
        }
    })
    .await
    .is_ok()
}

#[tokio::test]
async fn calls_are_spread_over_every_replica() {
    // Arrange
    let ((a, a_url), (b, b_url)) = (FakeAuth::spawn().await, FakeAuth::spawn().await);
    let replicas = Replicas::default();
    replicas.set(&[&a_url, &b_url]);
    let client = auth_client(&replicas);

    // Act
    fetch_keys(&client, 60).await;

    // Assert: both get calls (the chance that random choices skip one is 2^-59).
    assert_eq!(a.fetches() + b.fetches(), 60);
    assert!(a.fetches() > 0 && b.fetches() > 0, "{} / {}", a.fetches(), b.fetches());
}

#[tokio::test]
async fn a_replica_added_to_the_answer_receives_calls_within_the_interval() {
    // Arrange: one replica.
    let ((a, a_url), (b, b_url)) = (FakeAuth::spawn().await, FakeAuth::spawn().await);
    let replicas = Replicas::default();
    replicas.set(&[&a_url]);
    let client = auth_client(&replicas);
    fetch_keys(&client, 10).await;
    assert_eq!((a.fetches(), b.fetches()), (10, 0));

    // Act
    replicas.set(&[&a_url, &b_url]);

    // Assert
    let reached = eventually(|| async {
        fetch_keys(&client, 5).await;
        b.fetches() > 0
    })
    .await;
    assert!(reached, "the added replica gets no calls");
}

#[tokio::test]
async fn a_replica_removed_from_the_answer_stops_receiving_calls() {
    // Arrange: two replicas, both busy.
    let ((a, a_url), (b, b_url)) = (FakeAuth::spawn().await, FakeAuth::spawn().await);
    let replicas = Replicas::default();
    replicas.set(&[&a_url, &b_url]);
    let client = auth_client(&replicas);
    fetch_keys(&client, 40).await;
    assert!(b.fetches() > 0);

    // Act
    replicas.set(&[&a_url]);

    // Assert: once a batch of calls misses it (2^-20 by chance while it is still in)…
    let gone = eventually(|| async {
        let before = b.fetches();
        fetch_keys(&client, 20).await;
        b.fetches() == before
    })
    .await;
    assert!(gone, "the removed replica keeps getting calls");
    // …it gets none, and calls keep succeeding on the other.
    let (before_a, before_b) = (a.fetches(), b.fetches());
    fetch_keys(&client, 50).await;
    assert_eq!((a.fetches() - before_a, b.fetches()), (50, before_b));
}

/// A health server on 127.0.0.1:0 that stops when `stop` is cancelled; its
/// URL, and the task serving it (which ends once it has stopped).
async fn health_replica(stop: CancellationToken) -> (String, Serving) {
    health_replica_on("127.0.0.1:0", stop).await
}

type Serving = tokio::task::JoinHandle<Result<(), tonic::transport::Error>>;

/// A health server on `addr`.
async fn health_replica_on(addr: &str, stop: CancellationToken) -> (String, Serving) {
    let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (_reporter, service) = tonic_health::server::health_reporter();
    let serving = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener),
                stop.cancelled_owned(),
            ),
    );
    (url, serving)
}

/// Stops the server `stop` cancels and waits until it no longer listens.
async fn kill(stop: &CancellationToken, serving: Serving) {
    stop.cancel();
    let stopped = tokio::time::timeout(BOUND, serving).await;
    assert!(stopped.is_ok(), "the replica does not stop");
}

#[tokio::test]
async fn a_killed_replica_still_named_is_taken_out_and_calls_succeed_on_the_other() {
    // Arrange: two replicas that a list names for good.
    let (keep, kill) = (CancellationToken::new(), CancellationToken::new());
    let ((a_url, _), (b_url, b_serving)) = (health_replica(keep.clone()).await, health_replica(kill.clone()).await);
    let replicas = Replicas::default();
    replicas.set(&[&a_url, &b_url]);
    let channel = balanced("health".into(), replicas.resolver(), INTERVAL, |e| {
        e.timeout(Duration::from_secs(2))
            .connect_timeout(Duration::from_secs(2))
    });
    let client = HealthClient::new(channel);
    let check = || async { client.clone().check(HealthCheckRequest::default()).await.is_ok() };
    assert!(check().await);

    // Act: one replica goes away; its address stays in the answer.
    self::kill(&kill, b_serving).await;

    // Assert: once 20 calls in a row succeed, the dead one is out, and calls keep succeeding.
    let out = eventually(|| async {
        for _ in 0..20 {
            if !check().await {
                return false;
            }
        }
        true
    })
    .await;
    assert!(out, "calls keep going to the killed replica");
    for _ in 0..50 {
        assert!(check().await, "a call failed after the dead replica was taken out");
    }
    keep.cancel();
}

#[tokio::test]
async fn the_resolver_task_ends_when_the_channel_is_dropped() {
    // Arrange: the task holds the resolver, which holds `alive`.
    let alive = Arc::new(());
    let held = alive.clone();
    let channel = balanced(
        "nothing".into(),
        move || {
            let _ = &held;
            Ok(vec![uri("http://127.0.0.1:1")])
        },
        INTERVAL,
        |e| e,
    );

    // Act
    drop(channel);

    // Assert
    let ended = eventually(|| async { Arc::strong_count(&alive) == 1 }).await;
    assert!(ended, "the resolver task outlived its channel");
}

#[tokio::test]
async fn a_dns_target_reaches_the_replica_behind_the_name() {
    // Arrange: `localhost` may also name ::1, where nothing listens: that address is probed out.
    let (auth, url) = FakeAuth::spawn().await;
    let port = uri(&url).port_u16().expect("port");
    let target: Target = format!("dns:///localhost:{port}").parse().expect("target");
    let client = AuthServiceClient::new(connect(&target, INTERVAL, |e| e.timeout(Duration::from_secs(5))));

    // Act
    fetch_keys(&client, 3).await;

    // Assert
    assert_eq!(auth.fetches(), 3);
}

#[tokio::test]
async fn a_replica_that_accepts_connections_again_is_put_back() {
    // Arrange: two replicas; one is killed and taken out.
    let (stop_a, stop_b) = (CancellationToken::new(), CancellationToken::new());
    let ((a_url, a_serving), (b_url, b_serving)) = (
        health_replica(stop_a.clone()).await,
        health_replica(stop_b.clone()).await,
    );
    let replicas = Replicas::default();
    replicas.set(&[&a_url, &b_url]);
    let channel = balanced("health".into(), replicas.resolver(), INTERVAL, |e| {
        e.timeout(Duration::from_secs(2))
            .connect_timeout(Duration::from_secs(2))
    });
    let client = HealthClient::new(channel);
    let check = || async { client.clone().check(HealthCheckRequest::default()).await.is_ok() };
    let twenty_in_a_row = || async {
        for _ in 0..20 {
            if !check().await {
                return false;
            }
        }
        true
    };
    kill(&stop_b, b_serving).await;
    assert!(
        eventually(twenty_in_a_row).await,
        "the killed replica is never taken out"
    );

    // Act: it comes back on its address, and the other one goes.
    let b_addr = b_url.trim_start_matches("http://");
    let back = CancellationToken::new();
    health_replica_on(b_addr, back.clone()).await;
    kill(&stop_a, a_serving).await;

    // Assert: calls succeed again, so they reach the replica that came back.
    assert!(
        eventually(twenty_in_a_row).await,
        "the replica that came back gets no calls"
    );
    back.cancel();
}

/// A health server on 127.0.0.1:0 whose readiness (`""`) the test sets: its
/// URL, the reporter, and the stop signal.
async fn reporting_replica() -> (String, tonic_health::server::HealthReporter, CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (reporter, service) = tonic_health::server::health_reporter();
    let stop = CancellationToken::new();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener),
                stop.clone().cancelled_owned(),
            ),
    );
    (url, reporter, stop)
}

/// Whether the next `n` readiness answers through `client` are all SERVING.
async fn all_serving(client: &HealthClient<Channel>, n: usize) -> bool {
    for _ in 0..n {
        let answer = client.clone().check(HealthCheckRequest::default()).await;
        let serving = tonic_health::pb::health_check_response::ServingStatus::Serving as i32;
        if !answer.is_ok_and(|a| a.into_inner().status == serving) {
            return false;
        }
    }
    true
}

#[tokio::test]
async fn a_replica_that_answers_not_serving_is_taken_out_until_it_serves_again() {
    // Arrange: two replicas, both ready; one turns NOT_SERVING (stopping, or its
    // database down) while it still accepts connections.
    let ((a_url, a, stop_a), (b_url, b, stop_b)) = (reporting_replica().await, reporting_replica().await);
    let replicas = Replicas::default();
    replicas.set(&[&a_url, &b_url]);
    let client = HealthClient::new(balanced("health".into(), replicas.resolver(), INTERVAL, |e| e));
    b.set_service_status("", tonic_health::ServingStatus::NotServing).await;

    // Assert: once it is out, every answer comes from the ready one.
    assert!(
        eventually(|| all_serving(&client, 20)).await,
        "the NOT_SERVING replica keeps getting calls"
    );

    // Act: it serves again, and the other one stops serving.
    b.set_service_status("", tonic_health::ServingStatus::Serving).await;
    a.set_service_status("", tonic_health::ServingStatus::NotServing).await;

    // Assert: the calls go to the one that came back.
    assert!(
        eventually(|| all_serving(&client, 20)).await,
        "the replica that serves again gets no calls"
    );
    stop_a.cancel();
    stop_b.cancel();
}

#[tokio::test]
async fn a_failed_call_reported_makes_the_resolver_look_again_at_once() {
    // Arrange: two replicas, a resolve interval far longer than the test.
    let ((a_url, _a, stop_a), (b_url, _b, stop_b)) = (reporting_replica().await, reporting_replica().await);
    let (channel, refresh) = dial(
        &Target::List(vec![uri(&a_url), uri(&b_url)]),
        Duration::from_secs(3600),
        |e| e.timeout(Duration::from_secs(2)),
    );
    let client = HealthClient::new(channel);
    assert!(
        eventually(|| all_serving(&client, 5)).await,
        "both replicas start ready"
    );

    // Act: one goes away; callers report their failures, as the saga's do.
    stop_b.cancel();
    let out = eventually(|| async {
        let ok = all_serving(&client, 20).await;
        if !ok {
            refresh.now();
        }
        ok
    })
    .await;

    // Assert: taken out long before the interval would have ended.
    assert!(out, "the replica that went away is still called");
    stop_a.cancel();
}
