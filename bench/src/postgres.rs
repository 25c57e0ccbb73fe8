//! PostgreSQL for the bench: a scratch database for each service on the server
//! `--postgres` names (dropped when the bench ends), and `pgbench -b
//! simple-update` against the same server, the yardstick of the checkout there.

use std::time::Duration;

use anyhow::{Context, bail};
use sqlx::{Connection as _, Executor as _};

/// The bench's databases on one PostgreSQL server.
#[derive(Debug)]
pub struct Databases {
    admin_url: String,
    base: String,
    prefix: String,
    names: Vec<String>,
}

impl Databases {
    /// Creates `travel_bench_<pid>_<service>` for each of `services` through `admin_url`.
    pub async fn create(admin_url: &str, services: &[&str]) -> anyhow::Result<Self> {
        let base = admin_url
            .split_once('?')
            .map_or(admin_url, |(url, _)| url)
            .rsplit_once('/')
            .map(|(base, _)| base.to_owned())
            .filter(|base| base.contains("://") && !base.ends_with('/'))
            .with_context(
                || "--postgres must be a URL with a database, e.g. postgres://postgres@127.0.0.1:5432/postgres",
            )?;
        let mut databases = Self {
            admin_url: admin_url.to_owned(),
            base,
            prefix: format!("travel_bench_{}", std::process::id()),
            names: Vec::new(),
        };
        let mut admin = databases.admin().await?;
        for service in services {
            let name = format!("{}_{service}", databases.prefix);
            admin
                .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                .await
                .with_context(|| format!("cannot create the database {name}"))?;
            databases.names.push(name);
        }
        Ok(databases)
    }

    /// The URL of `service`'s database.
    pub fn url(&self, service: &str) -> String {
        format!("{}/{}_{service}", self.base, self.prefix)
    }

    /// Drops every database this created (after the services are stopped).
    pub async fn drop_all(self) -> anyhow::Result<()> {
        let mut admin = self.admin().await?;
        for name in &self.names {
            admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .await
                .with_context(|| format!("cannot drop the database {name}"))?;
        }
        Ok(())
    }

    async fn admin(&self) -> anyhow::Result<sqlx::PgConnection> {
        sqlx::PgConnection::connect(&self.admin_url)
            .await
            .context("cannot connect to the --postgres URL")
    }
}

/// Runs `pgbench -b simple-update` with `clients` clients for `duration` on a
/// scratch database of the same server (initialised at scale 10, then dropped):
/// its transactions a second, excluding connection time.
pub async fn pgbench(admin_url: &str, clients: u16, duration: Duration) -> anyhow::Result<f64> {
    let databases = Databases::create(admin_url, &["pgbench"]).await?;
    let url = databases.url("pgbench");
    let result = async {
        run("pgbench", &["-i", "-q", "-s", "10", &url]).await?;
        let seconds = duration.as_secs().max(1).to_string();
        let clients = clients.to_string();
        let out = run(
            "pgbench",
            &[
                "-n",
                "-b",
                "simple-update",
                "-c",
                &clients,
                "-j",
                "2",
                "-T",
                &seconds,
                &url,
            ],
        )
        .await?;
        tps(&out).with_context(|| format!("no tps in pgbench's output:\n{out}"))
    }
    .await;
    databases.drop_all().await?;
    result
}

/// Runs `program` with `args`; its stdout, or an error with its stderr.
async fn run(program: &str, args: &[&str]) -> anyhow::Result<String> {
    let out = tokio::process::Command::new(program)
        .args(args)
        .output()
        .await
        .with_context(|| format!("cannot run {program} (is it on the PATH?)"))?;
    if !out.status.success() {
        bail!(
            "{program} {} failed ({}): {}",
            args.first().copied().unwrap_or_default(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The `tps = N` figure of pgbench's summary.
fn tps(out: &str) -> Option<f64> {
    out.lines()
        .find_map(|line| line.trim().strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::tps;

    #[test]
    fn reads_the_tps_of_a_pgbench_summary() {
        let out = "transaction type: <builtin: simple update>\nnumber of failed transactions: 0 (0.000%)\n\
                   latency average = 9.845 ms\ninitial connection time = 41.215 ms\n\
                   tps = 6500.123456 (without initial connection time)\n";
        assert_eq!(tps(out), Some(6500.123456));
        assert_eq!(tps("no summary here"), None);
    }
}
