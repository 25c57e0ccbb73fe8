//! The baseline: a bare tonic health server with nothing of the kit around it,
//! run as a process of its own (this binary, started again with
//! `--serve-ceiling`), so that it competes for the cores as a service does.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

use anyhow::Context;

/// The flag that makes this binary the ceiling server.
pub const SERVE_FLAG: &str = "--serve-ceiling";

/// The ceiling server, killed when dropped.
#[derive(Debug)]
pub struct Ceiling {
    pub url: String,
    child: Child,
}

impl Ceiling {
    /// Starts it and waits for the port it bound.
    pub fn start() -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("cannot find this binary")?;
        let mut child = Command::new(exe)
            .arg(SERVE_FLAG)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start the ceiling server")?;
        let stdout = child.stdout.take().context("no output from the ceiling server")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .context("cannot read the ceiling server's port")?;
        let port: u16 = line.trim().parse().context("the ceiling server printed no port")?;
        Ok(Self {
            url: format!("http://127.0.0.1:{port}"),
            child,
        })
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Ceiling {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Serves `grpc.health.v1.Health` (SERVING) on 127.0.0.1:0 until killed,
/// after printing the port on a line of its own.
pub async fn serve() -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{port}")?;
    stdout.flush()?;
    let (_reporter, health) = tonic_health::server::health_reporter();
    tonic::transport::Server::builder()
        .add_service(health)
        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
        .await?;
    Ok(())
}
