//! The task behind a balanced channel: it asks a [`Resolve`]r for the
//! replicas' URLs, probes each — a gRPC health check of its readiness (`""`) on
//! a connection of its own — and tells the balancer which to add and which to
//! take out. A replica that refuses connections, does not answer, or answers
//! NOT_SERVING (it is stopping, in its pre-stop delay, or its database is
//! down) is out until it is SERVING again; one without a health service counts
//! as ready while it accepts connections. If none is ready, all stay, so that
//! calls fail fast instead of waiting for an endpoint. It looks again every
//! interval, sooner after a failure, and ends when the channel is dropped.

use std::collections::HashSet;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use http::Uri;
use tokio::sync::Notify;
use tokio::sync::mpsc::Sender;
use tokio::task::JoinSet;
use tonic::transport::Endpoint;
use tonic::transport::channel::Change;
use tonic_health::ServingStatus;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// Wait before looking again after a lookup failed or a replica refused (at most the interval).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);
/// Shortest time between two looks asked for by callers ([`super::Refresh`]).
pub const MIN_GAP: Duration = Duration::from_millis(100);
/// Longest a probe waits for a replica to accept a connection, and then for its health answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Where the replicas are now: a DNS lookup in production, a list the test
/// changes in tests.
pub trait Resolve: Send + Sync + 'static {
    /// The URL of every replica now.
    fn resolve(&self) -> impl Future<Output = io::Result<Vec<Uri>>> + Send;
}

/// Every address a name resolves to, as `http://address:port`.
#[derive(Debug, Clone)]
pub struct Dns {
    /// `name:port`, as `lookup_host` takes it.
    name_port: String,
}

impl Dns {
    pub fn new(host: &str, port: u16) -> Self {
        Self {
            name_port: format!("{host}:{port}"),
        }
    }
}

impl Resolve for Dns {
    async fn resolve(&self) -> io::Result<Vec<Uri>> {
        tokio::net::lookup_host(&self.name_port)
            .await?
            .map(|addr| format!("http://{addr}").parse().map_err(io::Error::other))
            .collect()
    }
}

/// The same URLs every time (a comma-separated list).
#[derive(Debug, Clone)]
pub struct Fixed(pub Vec<Uri>);

impl Resolve for Fixed {
    async fn resolve(&self) -> io::Result<Vec<Uri>> {
        Ok(self.0.clone())
    }
}

/// Any closure that returns the current URLs (tests).
impl<F> Resolve for F
where
    F: Fn() -> io::Result<Vec<Uri>> + Send + Sync + 'static,
{
    async fn resolve(&self) -> io::Result<Vec<Uri>> {
        self()
    }
}

/// What one look at the replicas found.
enum Look {
    /// The replicas to balance over; `all_answer` is false when some refused.
    Found { live: HashSet<Uri>, all_answer: bool },
    /// The lookup failed or named nobody: the current set stays.
    Failed,
}

/// Keeps the balancer's endpoints (sent on `changes`) those `resolver` names
/// and that accept connections, until the balancer is dropped.
pub(super) async fn follow<R, F>(
    name: String,
    resolver: R,
    changes: Sender<Change<Uri, Endpoint>>,
    interval: Duration,
    asked: Arc<Notify>,
    configure: F,
) where
    R: Resolve,
    F: Fn(Endpoint) -> Endpoint + Send + Sync + 'static,
{
    let retry = RETRY_AFTER_FAILURE.min(interval);
    let mut current = HashSet::new();
    loop {
        let look = tokio::select! {
            () = changes.closed() => return,
            look = look(&name, &resolver) => look,
        };
        let wait = match look {
            Look::Found { live, all_answer } => {
                if update(&name, &changes, &mut current, live, &configure).await.is_err() {
                    return;
                }
                if all_answer { interval } else { retry }
            }
            Look::Failed => retry,
        };
        tokio::select! {
            () = changes.closed() => return,
            () = tokio::time::sleep(wait) => {}
            () = async {
                tokio::time::sleep(MIN_GAP.min(wait)).await;
                asked.notified().await;
            } => {}
        }
    }
}

/// Resolves, then probes every replica at once.
async fn look(name: &str, resolver: &impl Resolve) -> Look {
    let named: HashSet<Uri> = match resolver.resolve().await {
        Ok(uris) if !uris.is_empty() => uris.into_iter().collect(),
        Ok(_) => {
            tracing::warn!(dependency = name, "the target names no replica; keeping the ones known");
            return Look::Failed;
        }
        Err(e) => {
            tracing::warn!(dependency = name, error = %e, "cannot look the replicas up; keeping the ones known");
            return Look::Failed;
        }
    };
    let mut probes: JoinSet<(Uri, bool)> = named
        .iter()
        .map(|uri| {
            let uri = uri.clone();
            async move {
                let ready = ready(&uri).await;
                (uri, ready)
            }
        })
        .collect();
    let mut live = HashSet::new();
    while let Some(probed) = probes.join_next().await {
        // A probe cannot panic; one that did counts as a refusal.
        let Ok((uri, ready)) = probed else { continue };
        if ready {
            live.insert(uri);
        } else {
            tracing::debug!(dependency = name, replica = %uri, "a replica is not ready");
        }
    }
    let all_answer = live.len() == named.len();
    if live.is_empty() {
        // Nobody is ready: keep them all, so calls fail at once rather than wait for one.
        live = named;
    }
    Look::Found { live, all_answer }
}

/// Whether the replica at `uri` is ready: it accepts a connection and its
/// health service answers SERVING for `""` (or it has none), within
/// [`PROBE_TIMEOUT`] each.
async fn ready(uri: &Uri) -> bool {
    let endpoint = Endpoint::from(uri.clone())
        .connect_timeout(PROBE_TIMEOUT)
        .timeout(PROBE_TIMEOUT);
    let Ok(channel) = endpoint.connect().await else {
        return false;
    };
    let mut health = HealthClient::new(channel);
    let check = health.check(HealthCheckRequest { service: String::new() });
    match tokio::time::timeout(PROBE_TIMEOUT, check).await {
        Ok(Ok(answer)) => answer.into_inner().status == ServingStatus::Serving as i32,
        // Reachable, but no health service to ask: accepting calls is all it says.
        Ok(Err(status)) => status.code() == tonic::Code::Unimplemented,
        Err(_) => false,
    }
}

/// Sends the balancer what changed from `current` to `live`; an error when the
/// balancer is gone.
async fn update<F>(
    name: &str,
    changes: &Sender<Change<Uri, Endpoint>>,
    current: &mut HashSet<Uri>,
    live: HashSet<Uri>,
    configure: &F,
) -> Result<(), ()>
where
    F: Fn(Endpoint) -> Endpoint,
{
    let removed: Vec<Uri> = current.difference(&live).cloned().collect();
    let added: Vec<Uri> = live.difference(current).cloned().collect();
    if removed.is_empty() && added.is_empty() {
        return Ok(());
    }
    tracing::info!(dependency = name, ?added, ?removed, "the replicas changed");
    for uri in removed {
        changes.send(Change::Remove(uri)).await.map_err(|_| ())?;
    }
    for uri in added {
        let endpoint = configure(Endpoint::from(uri.clone()));
        changes.send(Change::Insert(uri, endpoint)).await.map_err(|_| ())?;
    }
    *current = live;
    Ok(())
}
