//! A fresh database per test: a SQLite file in a temporary directory, or, when
//! `TRAVEL_TEST_POSTGRES_URL` names a PostgreSQL server, a new database on it
//! that is dropped afterwards.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{Connection, Executor};

/// Environment variable naming a PostgreSQL admin URL (for example
/// `postgres://postgres@127.0.0.1:5432/postgres`); when set, tests use PostgreSQL.
pub const POSTGRES_ENV: &str = "TRAVEL_TEST_POSTGRES_URL";

/// A database that exists for one test.
#[derive(Debug)]
pub struct TestDatabase {
    /// The URL to hand to the service under test.
    pub url: String,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    /// The directory is removed when the database is dropped.
    Sqlite {
        _dir: tempfile::TempDir,
    },
    Postgres {
        admin_url: String,
        name: String,
    },
}

impl TestDatabase {
    /// A new, empty database for one test, of the kind the environment selects.
    ///
    /// # Panics
    /// When the temporary directory or the PostgreSQL database cannot be created:
    /// a test cannot run without its database.
    pub async fn new(service: &str) -> Self {
        match std::env::var(POSTGRES_ENV) {
            Ok(admin_url) if !admin_url.is_empty() => Self::postgres(service, admin_url).await,
            _ => Self::sqlite(service),
        }
    }

    /// The PostgreSQL server's address, or `None` on SQLite.
    pub fn postgres_address(&self) -> Option<std::net::SocketAddr> {
        if !self.is_postgres() {
            return None;
        }
        let authority = self.url.split_once('@')?.1.split('/').next()?;
        let (host, port) = authority.rsplit_once(':').unwrap_or((authority, "5432"));
        let host = if host == "localhost" { "127.0.0.1" } else { host };
        format!("{host}:{port}").parse().ok()
    }

    /// This database's URL with its server at `addr` (a proxy), on PostgreSQL.
    pub fn url_at(&self, addr: std::net::SocketAddr) -> Option<String> {
        let (user, rest) = self.url.split_once('@')?;
        let (_, path) = rest.split_once('/')?;
        Some(format!("{user}@{addr}/{path}"))
    }

    /// True when this database is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self.cleanup, Cleanup::Postgres { .. })
    }

    fn sqlite(service: &str) -> Self {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let url = format!("sqlite://{}/{service}.db?mode=rwc", dir.path().display());
        Self {
            url,
            cleanup: Cleanup::Sqlite { _dir: dir },
        }
    }

    async fn postgres(service: &str, admin_url: String) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let name = format!(
            "travel_test_{service}_{}_{}_{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .expect("connect to the PostgreSQL admin URL");
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .await
            .expect("create the test database");
        let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(base, _)| base);
        let url = format!("{base}/{name}");
        Self {
            url,
            cleanup: Cleanup::Postgres { admin_url, name },
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Cleanup::Postgres { admin_url, name } = &self.cleanup {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Best effort, on a thread of its own: Drop cannot await, and the test's
            // runtime may be shutting down.
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                    return;
                };
                rt.block_on(async move {
                    if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                        let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                        let _ = admin.execute(sqlx::AssertSqlSafe(drop)).await;
                    }
                });
            })
            .join();
        }
    }
}
