//! A service on a Tokio runtime of its own, which a test can kill as the
//! operating system kills a process — every task, connection, pool and
//! listener of it gone at once, calls in flight cut off mid-way — or stop as
//! SIGTERM does, through its graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::Shutdown;

/// What a service runs until it stops: `app.run_until_stopped(shutdown)`, boxed.
pub type Serving = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// A service on its own runtime (one worker thread), killed when dropped.
#[derive(Debug)]
pub struct Killable {
    addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
    stop: CancellationToken,
    stopped: Option<oneshot::Receiver<anyhow::Result<()>>>,
}

impl Killable {
    /// Runs `start` on a new runtime: it builds the service (everything the
    /// service spawns lives on that runtime) and returns where it listens and
    /// how it serves until `shutdown` resolves. Returns once it is bound.
    ///
    /// # Panics
    /// When the runtime cannot be made, or `start` fails or panics: the test cannot go on.
    pub async fn start<S, F>(start: S) -> Self
    where
        S: FnOnce(Shutdown) -> F + Send + 'static,
        F: Future<Output = anyhow::Result<(SocketAddr, Serving)>> + Send + 'static,
    {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for the service");
        let stop = CancellationToken::new();
        let (bound, on_bound) = oneshot::channel();
        let (done, stopped) = oneshot::channel();
        let shutdown = stop.clone().cancelled_owned();
        runtime.spawn(async move {
            match start(shutdown).await {
                Ok((addr, serving)) => {
                    let _ = bound.send(Ok(addr));
                    let _ = done.send(serving.await);
                }
                Err(e) => {
                    let _ = bound.send(Err(e));
                }
            }
        });
        let addr = on_bound
            .await
            .expect("the service's start-up ended without an answer")
            .expect("the service starts");
        Self {
            addr,
            runtime: Some(runtime),
            stop,
            stopped: Some(stopped),
        }
    }

    /// Where the service listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://` and where it listens.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Kills the service: its runtime is shut down without waiting, so every
    /// task is dropped at its next await and every socket closed, as a
    /// `kill -9` would leave it.
    pub fn kill(mut self) {
        self.shut_down();
    }

    /// Stops the service as SIGTERM does and waits until it has drained and
    /// returned: its result.
    pub async fn terminate(mut self) -> anyhow::Result<()> {
        self.stop.cancel();
        let result = match self.stopped.take() {
            Some(stopped) => stopped
                .await
                .unwrap_or_else(|_| Err(anyhow::anyhow!("the service's task ended without a result"))),
            None => Ok(()),
        };
        self.shut_down();
        result
    }

    fn shut_down(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for Killable {
    fn drop(&mut self) {
        self.shut_down();
    }
}
