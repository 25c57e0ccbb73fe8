//! A service under test on its own task, stopped on request or when dropped, and
//! the clients that call it as one role or another.

use std::net::SocketAddr;

use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::access::Bearer;
use crate::jwt::Role;
use crate::types::UnixMillis;

/// What a spawned service waits on: it completes when the test stops the service.
pub type Shutdown = WaitForCancellationFutureOwned;

/// A channel that sends a fixed bearer token, or none: what a generated client
/// built with `with_interceptor(channel, bearer)` runs on.
pub type Authed = InterceptedService<Channel, Bearer>;

/// A service spawned for one test, stopped when dropped (or awaited with [`TestServer::stop`]).
#[derive(Debug)]
pub struct TestServer {
    stop: CancellationToken,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    /// Spawns `run(shutdown)`, typically
    /// `TestServer::spawn(|shutdown| app.run_until_stopped(shutdown))` on an
    /// application already bound to `127.0.0.1:0`, so clients can connect at once.
    pub fn spawn<F>(run: impl FnOnce(Shutdown) -> F) -> Self
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(stop.clone().cancelled_owned()));
        Self { stop, task: Some(task) }
    }

    /// Stops the service and waits for it to finish draining.
    ///
    /// # Panics
    /// When the service's task panicked or the service did not stop cleanly.
    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server stopped cleanly");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// A connected channel to `url` (`http://host:port`).
///
/// # Panics
/// When the URL is malformed or nothing answers there: the test cannot go on.
pub async fn channel(url: &str) -> Channel {
    Channel::from_shared(url.to_owned())
        .expect("uri")
        .connect()
        .await
        .expect("connect")
}

/// A connected channel to a service listening on `addr`.
pub async fn connect(addr: SocketAddr) -> Channel {
    channel(&format!("http://{addr}")).await
}

/// How long the tokens of [`bearer_as`] last: a day, longer than any test.
pub const CLIENT_TOKEN_SECS: i64 = 86_400;

/// The credentials of a caller in `role` (none for `None`), signed at `now` by
/// the key the services' test suites trust.
pub fn bearer_as(role: Option<Role>, now: UnixMillis) -> Bearer {
    let token = role.map(|role| super::sign_token(&super::test_key(), now, role, CLIENT_TOKEN_SECS));
    Bearer::new(token.as_deref())
}
