//! The four services as child processes of the bench, each with a SQLite file
//! in a temporary directory (or a database of its own on PostgreSQL), on ports
//! the system gave out; killed with the bench.
//! And reading a process's memory.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

/// Where each service answers (`http://host:port`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Endpoints {
    pub auth: String,
    pub flight: String,
    pub hotel: String,
    pub reservation: String,
}

/// The services the bench started, killed when dropped.
#[derive(Debug)]
pub struct Services {
    pub endpoints: Endpoints,
    children: Vec<(&'static str, Child)>,
    logs: PathBuf,
    _dir: tempfile::TempDir,
}

/// The accounts the started auth service creates.
#[derive(Debug, Clone)]
pub struct Accounts {
    pub admin_email: String,
    pub admin_password: String,
    pub service_client_id: String,
    pub service_client_secret: String,
}

/// A port the system gives out now (let go at once, for a child to bind).
fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The directory of the running binary: where cargo puts the service binaries too.
pub fn own_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find this binary")?;
    Ok(exe.parent().map(Path::to_path_buf).unwrap_or_default())
}

impl Services {
    /// Starts auth, then flight and hotel, then reservation, from `bin_dir`,
    /// each once it is SERVING, on SQLite or on `postgres`' databases; each
    /// one's log goes to `travel-<name>.log` in `logs`.
    pub async fn start(
        bin_dir: &Path,
        logs: &Path,
        accounts: &Accounts,
        postgres: Option<&crate::postgres::Databases>,
    ) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("cannot make a temporary directory")?;
        std::fs::create_dir_all(logs).with_context(|| format!("cannot create {}", logs.display()))?;
        let mut services = Self {
            logs: logs.to_path_buf(),
            endpoints: Endpoints {
                auth: String::new(),
                flight: String::new(),
                hotel: String::new(),
                reservation: String::new(),
            },
            children: Vec::new(),
            _dir: dir,
        };
        let db = |name: &str| match postgres {
            Some(databases) => databases.url(name),
            None => format!(
                "sqlite://{}?mode=rwc",
                services._dir.path().join(format!("{name}.db")).display()
            ),
        };
        let (auth_db, flight_db, hotel_db, reservation_db) = (db("auth"), db("flight"), db("hotel"), db("reservation"));

        let auth = services
            .spawn(
                bin_dir,
                "auth",
                &[
                    ("AUTH_DATABASE_URL", auth_db),
                    ("AUTH_ADMIN_EMAIL", accounts.admin_email.clone()),
                    ("AUTH_ADMIN_PASSWORD", accounts.admin_password.clone()),
                    ("AUTH_SERVICE_CLIENT_ID", accounts.service_client_id.clone()),
                    ("AUTH_SERVICE_CLIENT_SECRET", accounts.service_client_secret.clone()),
                    // The bench registers its customers from one address.
                    ("AUTH_MAX_REGISTERS_PER_PEER", "100000".into()),
                ],
            )
            .await?;
        let auth_url = [("AUTH_URL", auth.clone())];
        let flight = services
            .spawn(
                bin_dir,
                "flight",
                &[&auth_url[..], &[("FLIGHT_DATABASE_URL", flight_db)]].concat(),
            )
            .await?;
        let hotel = services
            .spawn(
                bin_dir,
                "hotel",
                &[&auth_url[..], &[("HOTEL_DATABASE_URL", hotel_db)]].concat(),
            )
            .await?;
        let reservation = services
            .spawn(
                bin_dir,
                "reservation",
                &[
                    ("AUTH_URL", auth.clone()),
                    ("RESERVATION_DATABASE_URL", reservation_db),
                    ("RESERVATION_FLIGHT_URL", flight.clone()),
                    ("RESERVATION_HOTEL_URL", hotel.clone()),
                    ("RESERVATION_SERVICE_CLIENT_ID", accounts.service_client_id.clone()),
                    (
                        "RESERVATION_SERVICE_CLIENT_SECRET",
                        accounts.service_client_secret.clone(),
                    ),
                ],
            )
            .await?;
        services.endpoints = Endpoints {
            auth,
            flight,
            hotel,
            reservation,
        };
        Ok(services)
    }

    /// Starts `travel-<name>` with `env` on fresh ports; its URL once it serves.
    async fn spawn(&mut self, bin_dir: &Path, name: &'static str, env: &[(&str, String)]) -> anyhow::Result<String> {
        let binary = bin_dir.join(format!("travel-{name}"));
        let (port, metrics_port) = (free_port()?, free_port()?);
        let upper = name.to_uppercase();
        let log_path = self.logs.join(format!("travel-{name}.log"));
        let log = std::fs::File::create(&log_path).with_context(|| format!("cannot create {}", log_path.display()))?;
        let child = Command::new(&binary)
            .env(format!("{upper}_LISTEN_ADDR"), format!("127.0.0.1:{port}"))
            .env(
                format!("{upper}_METRICS_LISTEN_ADDR"),
                format!("127.0.0.1:{metrics_port}"),
            )
            .env("RUST_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| {
                format!(
                    "cannot start {} (build it first: cargo build --release)",
                    binary.display()
                )
            })?;
        self.children.push((name, child));
        let url = format!("http://127.0.0.1:{port}");
        wait_serving(name, &url).await?;
        Ok(url)
    }

    /// Each service's process id.
    pub fn pids(&self) -> Vec<(&'static str, u32)> {
        self.children.iter().map(|(name, child)| (*name, child.id())).collect()
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits until the service at `url` answers SERVING, for at most 30 s.
async fn wait_serving(name: &str, url: &str) -> anyhow::Result<()> {
    for _ in 0..300 {
        if let Ok(channel) = tonic::transport::Endpoint::from_shared(url.to_owned())?.connect().await {
            let answer = HealthClient::new(channel)
                .check(HealthCheckRequest { service: String::new() })
                .await;
            if answer.is_ok_and(|a| a.into_inner().status == ServingStatus::Serving as i32) {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the {name} service did not start serving at {url} within 30 s")
}

/// A process's resident memory now and at its peak, in KiB (Linux `/proc`).
pub fn memory(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}
