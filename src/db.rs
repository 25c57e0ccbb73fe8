//! Database connection by URL — SQLite (one file per service, WAL) or PostgreSQL —
//! with the service's embedded migrations for that dialect run at start-up, and
//! write transactions that do not fail under SQLite's one-writer rule: on
//! SQLite they take turns on one writer connection, with group commit
//! ([`writer`]).

mod writer;

use std::path::Path;
use std::str::FromStr;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyConnection, AnyPool, Executor, Transaction};

use crate::config::DatabaseArgs;

/// Which SQL dialect the pool speaks; store code branches on it only where the two differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite 3.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// What [`Database::ping`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reachability {
    /// The database answered.
    Up,
    /// Every pooled connection was in use for the whole busy timeout: the
    /// database is busy, which says nothing of whether it is up.
    Busy,
    /// The database did not answer (unreachable, refused, broken connection).
    Down,
}

/// A service's migrations, one set per dialect (`sqlx::migrate!("migrations/sqlite")` …).
#[derive(Debug)]
pub struct Migrations {
    /// Migrations for SQLite.
    pub sqlite: &'static Migrator,
    /// Migrations for PostgreSQL.
    pub postgres: &'static Migrator,
}

/// Times a SQLite migration is run again after it failed.
const SQLITE_MIGRATION_RETRIES: u32 = 5;

/// Runs the SQLite migrations. sqlx takes no lock on SQLite, so a second
/// process starting on the same file at the same moment may apply a migration
/// first, and this one's copy of it then fails on what the other created (its
/// transaction rolls back). Run again, it skips what is recorded as applied; a
/// migration that is really broken fails every time and is reported.
async fn migrate_sqlite(migrator: &Migrator, pool: &AnyPool) -> Result<(), sqlx::migrate::MigrateError> {
    let mut retries = 0;
    loop {
        match migrator.run(pool).await {
            Err(e) if retries < SQLITE_MIGRATION_RETRIES => {
                retries += 1;
                tracing::info!(error = %e, retries, "a migration failed; another process may be migrating the same file: trying again");
                tokio::time::sleep(std::time::Duration::from_millis(50 * u64::from(retries))).await;
            }
            done => return done,
        }
    }
}

/// A migrated connection pool, and on SQLite the one connection that writes.
#[derive(Debug, Clone)]
pub struct Database {
    pool: AnyPool,
    dialect: Dialect,
    /// SQLite: the writer connection every write transaction takes turns on.
    writer: Option<writer::Writer>,
    /// How long [`Database::begin_write`] waited (the host registers it).
    write_wait: prometheus::Histogram,
    /// Write transactions committed, and the `COMMIT`s that made them durable.
    write_metrics: writer::Metrics,
}

/// A write transaction from [`Database::begin_write`]: run statements on
/// `&mut *tx`, then [`WriteTx::commit`]; dropped without committing, it rolls back.
#[derive(Debug)]
pub struct WriteTx(Inner);

#[derive(Debug)]
enum Inner {
    /// PostgreSQL: a transaction on a pooled connection.
    Pooled(Transaction<'static, Any>, writer::Metrics),
    /// SQLite: a member of a group on the writer connection.
    Grouped(writer::Member),
}

impl WriteTx {
    /// Commits; when it returns `Ok`, the writes are durable.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self.0 {
            Inner::Pooled(tx, metrics) => {
                tx.commit().await?;
                metrics.transactions.inc();
                metrics.commits.inc();
                Ok(())
            }
            Inner::Grouped(member) => member.commit().await,
        }
    }

    /// Rolls back this transaction's writes.
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self.0 {
            Inner::Pooled(tx, _) => tx.rollback().await,
            Inner::Grouped(member) => member.rollback().await,
        }
    }
}

impl std::ops::Deref for WriteTx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match &self.0 {
            Inner::Pooled(tx, _) => tx,
            Inner::Grouped(member) => member.conn_ref(),
        }
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match &mut self.0 {
            Inner::Pooled(tx, _) => tx,
            Inner::Grouped(member) => member.conn(),
        }
    }
}

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL is neither `sqlite:` nor `postgres:`/`postgresql:`.
    #[error("unsupported database URL (expected sqlite:… or postgres://…)")]
    UnsupportedUrl,
    /// The directory for the SQLite file could not be created.
    #[error("cannot create the database directory: {0}")]
    Directory(#[source] std::io::Error),
    /// Connecting failed.
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    /// A migration failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The pool's metrics could not be made (a bug).
    #[error("cannot make the database metrics: {0}")]
    Metrics(#[source] prometheus::Error),
}

impl Database {
    /// Connects to `url` and brings the schema up to date.
    pub async fn connect(url: &str, args: &DatabaseArgs, migrations: &Migrations) -> Result<Self, ConnectError> {
        sqlx::any::install_default_drivers();
        let dialect = if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Dialect::Postgres
        } else {
            return Err(ConnectError::UnsupportedUrl);
        };
        if dialect == Dialect::Sqlite {
            create_sqlite_dir(url).map_err(ConnectError::Directory)?;
        }
        let options = AnyConnectOptions::from_str(url).map_err(ConnectError::Connect)?;
        let busy_ms = args.database_busy_timeout.as_millis();
        let pool = AnyPoolOptions::new()
            .max_connections(args.database_max_connections.max(1))
            // A SQLite connection is a file handle in this process: it cannot have
            // dropped the way a network connection can, so the round trip to its
            // worker thread that checks it before each use is saved.
            .test_before_acquire(dialect == Dialect::Postgres)
            .acquire_timeout(args.database_busy_timeout)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if conn.backend_name().eq_ignore_ascii_case("sqlite") {
                        // WAL lets readers run beside the one writer; the busy timeout makes
                        // a second writer wait instead of failing with SQLITE_BUSY. The
                        // default synchronous=FULL keeps every acknowledged commit on disk.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute(sqlx::AssertSqlSafe(format!("PRAGMA busy_timeout = {busy_ms}")))
                            .await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        // The writer's savepoints keep their copies of changed pages in
                        // memory, not in temporary files (durability is the WAL's job).
                        conn.execute("PRAGMA temp_store = MEMORY").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(ConnectError::Connect)?;
        match dialect {
            Dialect::Sqlite => migrate_sqlite(migrations.sqlite, &pool).await?,
            // sqlx holds an advisory lock while it migrates: replicas starting together take turns.
            Dialect::Postgres => migrations.postgres.run(&pool).await?,
        }
        let write_wait = prometheus::Histogram::with_opts(
            prometheus::HistogramOpts::new(
                "travel_db_write_wait_seconds",
                "Time a write transaction waited to begin: for a pooled connection and, on SQLite, the write lock.",
            )
            .buckets(crate::metrics::LATENCY_BUCKETS.to_vec()),
        )
        .map_err(ConnectError::Metrics)?;
        let counter = |name: &str, help: &str| prometheus::IntCounter::new(name, help).map_err(ConnectError::Metrics);
        let write_metrics = writer::Metrics {
            transactions: counter("travel_db_write_transactions_total", "Write transactions committed.")?,
            commits: counter(
                "travel_db_commits_total",
                "COMMITs that made write transactions durable: on SQLite one may cover several (group commit).",
            )?,
        };
        let writer = match dialect {
            // Taken out of the pool for good: the pool's other connections read.
            Dialect::Sqlite => Some(writer::Writer::new(
                pool.acquire().await.map_err(ConnectError::Connect)?.detach(),
                write_metrics.clone(),
            )),
            Dialect::Postgres => None,
        };
        Ok(Self {
            pool,
            dialect,
            writer,
            write_wait,
            write_metrics,
        })
    }

    /// The pool, for reads. Writes go through [`Database::begin_write`] (on
    /// SQLite a write on the pool would wait for the writer's lock).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The dialect of this database.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Starts a transaction that will write. On SQLite it waits for its turn on
    /// the writer connection, first come first served, and joins the group in
    /// progress there (see [`writer`]); the group holds the write lock from its
    /// `BEGIN IMMEDIATE`, so it never fails with SQLITE_BUSY within the process.
    pub async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        self.begin(false).await
    }

    /// [`Database::begin_write`]; `one_statement`: the transaction is exactly
    /// one statement ([`Write`]), which on SQLite joins a group without a
    /// savepoint of its own.
    async fn begin(&self, one_statement: bool) -> Result<WriteTx, sqlx::Error> {
        let _waiting = self.write_wait.start_timer();
        match &self.writer {
            Some(writer) => Ok(WriteTx(Inner::Grouped(writer.begin(one_statement).await?))),
            None => Ok(WriteTx(Inner::Pooled(
                self.pool.begin().await?,
                self.write_metrics.clone(),
            ))),
        }
    }

    /// Whether the database answers: one trivial query. A pool that is busy
    /// (no connection free within the busy timeout) is `Busy`, not down.
    pub async fn ping(&self) -> Reachability {
        match sqlx::query("SELECT 1").execute(&self.pool).await {
            Ok(_) => Reachability::Up,
            Err(sqlx::Error::PoolTimedOut) => Reachability::Busy,
            Err(e) => {
                tracing::warn!(error = %e, "the database does not answer");
                Reachability::Down
            }
        }
    }

    /// The name of the database system, as the semantic conventions'
    /// `db.system` attribute of a span names it.
    pub fn system(&self) -> &'static str {
        match self.dialect {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgresql",
        }
    }

    /// The span of one store operation on this database, named `operation`
    /// (`flight.hold_seats`): a `client` span with the semantic conventions'
    /// `db.system` and `db.operation.name`. Stores wrap each operation in one:
    /// `async { … }.instrument(self.db.span("flight.hold_seats")).await`.
    pub fn span(&self, operation: &'static str) -> tracing::Span {
        tracing::info_span!(
            "db",
            otel.name = operation,
            otel.kind = "client",
            db.system = self.system(),
            db.operation.name = operation,
        )
    }

    /// Registers the pool's metrics in `registry`: the connections in use and
    /// idle, the most it opens, and how long write transactions waited.
    pub fn register_metrics(&self, registry: &crate::metrics::Registry) -> crate::metrics::Result<()> {
        let max = self.pool.options().get_max_connections();
        registry.register(Box::new(crate::metrics::PoolMetrics::new(self.pool.clone(), max)?))?;
        registry.register(Box::new(self.write_wait.clone()))?;
        registry.register(Box::new(self.write_metrics.transactions.clone()))?;
        registry.register(Box::new(self.write_metrics.commits.clone()))
    }

    /// Commits what is pending and closes every connection.
    pub async fn close(&self) {
        if let Some(writer) = &self.writer {
            writer.close().await;
        }
        self.pool.close().await;
    }
}

/// One writing statement run in a write transaction of its own, committed:
/// `sqlx::query("UPDATE …").bind(…).write(&db).await?` where a read would be
/// `.fetch_one(db.pool())`.
pub trait Write<'q> {
    /// Runs the statement and commits it.
    fn write(self, db: &Database) -> impl Future<Output = Result<sqlx::any::AnyQueryResult, sqlx::Error>> + Send;
}

impl<'q> Write<'q> for sqlx::query::Query<'q, Any, sqlx::any::AnyArguments> {
    async fn write(self, db: &Database) -> Result<sqlx::any::AnyQueryResult, sqlx::Error> {
        let mut tx = db.begin(true).await?;
        let done = self.execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(done)
    }
}

/// Creates the directory that will hold a SQLite file named by `url`.
fn create_sqlite_dir(url: &str) -> std::io::Result<()> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.starts_with(':') {
        return Ok(()); // in-memory database
    }
    match Path::new(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir),
        _ => Ok(()),
    }
}
