//! Issue 7: "Register is a memory bomb" — each Register runs argon2 (~7 MiB; 19 MiB then),
//! and hundreds at once used to exhaust memory. This runs the real
//! `travel-auth` binary (its own process, so its peak RSS is its own) on a temp
//! SQLite database, fires 500 concurrent Registers, and checks that its peak
//! resident memory (VmHWM) stays under 128 MiB and that every call gets either
//! OK or RESOURCE_EXHAUSTED with a retry delay, never INTERNAL.
//!
//! The binary binds `127.0.0.1:0` itself and logs the address it got (no port
//! race); readiness is the gRPC health check, tried a bounded number of times.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use tonic::Code;
use tonic_types::StatusExt;
use travel::pb::auth::v1 as pb;
use travel::pb::auth::v1::auth_service_client::AuthServiceClient;

const REGISTERS: usize = 500;
/// The process at rest (~15 MiB) plus two argon2 memories (7 MiB each) and room to spare.
const BOUND_MIB: u64 = 128;

/// The child process, killed when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary and reads the address it logs once it has bound.
fn start(db: &std::path::Path) -> (Running, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_travel-auth"))
        .args(["--listen", "127.0.0.1:0", "--log-format", "json"])
        .arg("--database-url")
        .arg(format!("sqlite://{}?mode=rwc", db.display()))
        // The hashing pool is what is under test, not the Register throttle; two
        // hashing threads whatever the machine, so that the bound is the same everywhere.
        .env("AUTH_MAX_REGISTERS_PER_PEER", "100000")
        .env("AUTH_HASHING_THREADS", "2")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn travel-auth");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let parsed: Option<serde_json::Value> = serde_json::from_str(&line).ok();
            let fields = parsed.as_ref().and_then(|v| v.get("fields"));
            if fields.and_then(|f| f.get("message")).and_then(|m| m.as_str()) == Some("auth service listening")
                && let Some(addr) = fields.and_then(|f| f.get("addr")).and_then(|a| a.as_str())
            {
                let _ = tx.send(addr.to_owned());
            }
        }
    });
    let running = Running(child);
    let addr = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the binary logs its address")
        .parse()
        .expect("a socket address");
    (running, addr)
}

/// Waits until the health check says SERVING, trying a bounded number of times.
async fn ready(addr: SocketAddr) {
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};
    for _ in 0..200 {
        let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).expect("endpoint");
        if let Ok(channel) = endpoint.connect().await {
            let mut health = HealthClient::new(channel);
            let request = HealthCheckRequest {
                service: "travel.auth.v1.AuthService".into(),
            };
            if let Ok(r) = health.check(request).await
                && r.into_inner().status() == ServingStatus::Serving
            {
                return;
            }
        }
        tokio::task::yield_now().await;
    }
    panic!("travel-auth never became ready");
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn register_is_not_a_memory_bomb() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (running, addr) = start(&dir.path().join("auth.db"));
    ready(addr).await;
    let mut channels = Vec::new();
    for _ in 0..4 {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .expect("endpoint")
            .connect()
            .await
            .expect("connect");
        channels.push(AuthServiceClient::new(channel));
    }

    let calls = (0..REGISTERS).map(|i| {
        let mut client = channels[i % channels.len()].clone();
        async move {
            client
                .register(pb::RegisterRequest {
                    email: format!("user{i}@example.com"),
                    password: "correct horse battery staple".into(),
                    request_id: String::new(),
                })
                .await
        }
    });
    let results = futures::future::join_all(calls).await;
    let peak_mib = peak_rss_kib(running.0.id()) / 1024;

    let mut ok = 0;
    let mut busy = 0;
    for result in &results {
        match result {
            Ok(_) => ok += 1,
            Err(s) if s.code() == Code::ResourceExhausted => {
                assert!(s.get_error_details().retry_info().is_some(), "a retry delay: {s:?}");
                busy += 1;
            }
            Err(s) => panic!("only OK or RESOURCE_EXHAUSTED: {s:?}"),
        }
    }
    assert_eq!(ok + busy, REGISTERS);
    assert!(ok > 0, "some are served");
    eprintln!("{ok} registered, {busy} told to retry; peak RSS {peak_mib} MiB");
    assert!(peak_mib < BOUND_MIB, "peak RSS {peak_mib} MiB, bound {BOUND_MIB} MiB");
}
