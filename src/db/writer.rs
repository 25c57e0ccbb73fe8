//! SQLite's one writer per process, with group commit: write transactions
//! take turns on one connection (in the order they asked, without SQLite's
//! busy handler sleeping between them), and those that finish while others
//! wait are made durable together, by one `COMMIT` and so one fsync.
//!
//! How: the first transaction of a group runs `BEGIN IMMEDIATE`. When it
//! commits while another is waiting for the connection, the `COMMIT` is left
//! to a later one: the next transaction runs inside the same SQLite
//! transaction, under a savepoint of its own (so that it can roll back its own
//! work only). The last of the group — the one that commits with no one
//! waiting, or the [`MAX_GROUP`]th — runs `COMMIT`, and only then does each
//! member's `commit()` return, with the result of that `COMMIT`. A member that
//! is dropped without committing (an error, a cancelled call) is rolled back to
//! its savepoint, and whoever comes next, or a task of its own, carries on.
//! `synchronous=FULL` stays: nothing is acknowledged before it is on disk.
//!
//! Every statement is a round trip to the connection's worker thread, and the
//! connection is the process's one writer, so the bookkeeping is kept to the
//! fewest: a single-statement write (`one_statement` in [`Writer::begin`]) opens no
//! savepoint, since SQLite undoes a failed statement by itself (the group is
//! then committed at once, as only the `COMMIT` tells whether SQLite rolled the
//! whole transaction back instead).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::Executor as _;
use sqlx::{AnyConnection, Connection as _};
use tokio::sync::{Mutex, OwnedMutexGuard, oneshot};

/// Most transactions one `COMMIT` makes durable: a bound on how long the first
/// of a busy group waits for its acknowledgement, and on how long the write
/// lock is held against other processes on the same file.
pub const MAX_GROUP: usize = 32;

/// The writer connection of one SQLite database, shared by the pool's clones.
#[derive(Debug, Clone)]
pub(super) struct Writer {
    state: Arc<Mutex<State>>,
    /// Transactions waiting for the connection: while any are, a commit is left
    /// to the group's last member.
    waiting: Arc<AtomicUsize>,
    metrics: Metrics,
}

/// How many transactions committed, and in how many `COMMIT`s.
#[derive(Debug, Clone)]
pub(super) struct Metrics {
    pub(super) transactions: prometheus::IntCounter,
    pub(super) commits: prometheus::IntCounter,
}

/// The connection and the group in progress on it.
#[derive(Debug)]
struct State {
    /// `None` once the database is closed.
    conn: Option<AnyConnection>,
    /// A SQLite transaction is open (a group is in progress).
    in_group: bool,
    /// What the current holder of the connection opened, until it commits.
    open: Open,
    /// The members that committed and wait for the group's `COMMIT`.
    pending: Vec<oneshot::Sender<Result<(), String>>>,
    /// Counts the `COMMIT`s.
    commits: prometheus::IntCounter,
}

/// What the holder of the connection has open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    /// Nothing (it committed, or no one holds it).
    Nothing,
    /// The group's transaction, which it began: undoing its work is `ROLLBACK`.
    Transaction,
    /// A savepoint in a group others are members of.
    Savepoint,
    /// One statement in a group others are members of, without a savepoint:
    /// a statement that fails is undone by SQLite, and one that ran is kept
    /// even if its caller gave up before committing (for one statement that
    /// is the same as giving up just after the commit). Either way the group
    /// is committed at once (see `State::settle`).
    Statement,
}

/// One write transaction on the writer connection; `commit` or drop it.
#[derive(Debug)]
pub(super) struct Member {
    guard: Option<OwnedMutexGuard<State>>,
    writer: Writer,
}

/// Counts a caller waiting for the connection, for as long as it waits; if it
/// gives up (its call was cancelled), a group that was left to it is committed.
struct Waiting<'a>(&'a Writer);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if self.0.waiting.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.flush_in_background(None);
        }
    }
}

impl Writer {
    /// The writer over `conn`, counting into `metrics`.
    pub(super) fn new(conn: AnyConnection, metrics: Metrics) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                conn: Some(conn),
                in_group: false,
                open: Open::Nothing,
                pending: Vec::new(),
                commits: metrics.commits.clone(),
            })),
            waiting: Arc::new(AtomicUsize::new(0)),
            metrics,
        }
    }

    /// Waits for the connection (first come, first served) and starts a write
    /// transaction on it: a new group, or a savepoint in the one in progress —
    /// none if it is `one_statement` (one round trip fewer).
    pub(super) async fn begin(&self, one_statement: bool) -> Result<Member, sqlx::Error> {
        let member = if one_statement {
            Open::Statement
        } else {
            Open::Savepoint
        };
        self.waiting.fetch_add(1, Ordering::AcqRel);
        let waiting = Waiting(self);
        let mut guard = self.state.clone().lock_owned().await;
        // Still counted as waiting while it starts: a member committing meanwhile
        // cannot be, as it no longer holds the connection.
        let started = guard.start(member).await;
        // Counted out without the cancellation path: it holds the connection now.
        std::mem::forget(waiting);
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        match started {
            Ok(()) => Ok(Member {
                guard: Some(guard),
                writer: self.clone(),
            }),
            Err(e) => {
                if guard.in_group {
                    // The savepoint did not open: the group's state is unknown.
                    guard.abort("a write could not start").await;
                } else if self.waiting.load(Ordering::Acquire) == 0 {
                    guard.flush().await;
                }
                Err(e)
            }
        }
    }

    /// Takes the connection, commits what is pending, and closes it; later
    /// transactions fail with `PoolClosed`.
    pub(super) async fn close(&self) {
        let mut state = self.state.lock().await;
        state.flush().await;
        if let Some(conn) = state.conn.take()
            && let Err(e) = conn.close().await
        {
            tracing::warn!(error = %e, "closing the database's writer connection failed");
        }
    }

    /// Commits the group in progress if no one is waiting to continue it, on a
    /// task of its own (from `Drop`, which cannot wait). `guard`: the
    /// connection, when the caller holds it.
    fn flush_in_background(&self, guard: Option<OwnedMutexGuard<State>>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return; // shutting down: nothing runs any more, nothing was acknowledged
        };
        let writer = self.clone();
        runtime.spawn(async move {
            let mut guard = match guard {
                Some(guard) => guard,
                None => writer.state.clone().lock_owned().await,
            };
            guard.settle(writer.waiting.load(Ordering::Acquire) == 0).await;
        });
    }
}

impl State {
    fn conn(&mut self) -> Result<&mut AnyConnection, sqlx::Error> {
        self.conn.as_mut().ok_or(sqlx::Error::PoolClosed)
    }

    /// Opens the holder's transaction: the group's, or (`member`) a savepoint
    /// or a bare statement in it.
    async fn start(&mut self, member: Open) -> Result<(), sqlx::Error> {
        self.settle(false).await;
        if self.in_group {
            if member == Open::Savepoint {
                self.conn()?.execute("SAVEPOINT member").await?;
            }
            self.open = member;
        } else {
            self.conn()?.execute("BEGIN IMMEDIATE").await?;
            self.in_group = true;
            self.open = Open::Transaction;
        }
        Ok(())
    }

    /// Undoes what a holder that did not commit left open; then, if `flush`,
    /// commits the group.
    async fn settle(&mut self, flush: bool) {
        let undone = match self.open {
            Open::Nothing => Ok(()),
            Open::Statement => {
                // A statement without a savepoint that did not commit: it failed (or
                // its caller gave up). SQLite undid it alone, or — on a few errors (a
                // full disk, an I/O error) — rolled the whole transaction back. Only
                // the COMMIT can tell which: end the group now, so that its members
                // hear the truth.
                self.open = Open::Nothing;
                self.flush().await;
                return;
            }
            Open::Savepoint => self.undo("ROLLBACK TO member; RELEASE member").await,
            Open::Transaction => {
                // It began the group, so nothing else is in it.
                let undone = self.undo("ROLLBACK").await;
                self.in_group = false;
                undone
            }
        };
        self.open = Open::Nothing;
        if let Err(e) = undone {
            // The group's transaction is in an unknown state: end it, and tell
            // every member waiting for its commit that it failed.
            tracing::warn!(error = %e, "rolling back a write failed; the writes of its group are undone");
            self.abort("the transaction was rolled back").await;
        } else if flush {
            self.flush().await;
        }
    }

    async fn undo(&mut self, sql: &'static str) -> Result<(), sqlx::Error> {
        self.conn()?.execute(sql).await.map(drop)
    }

    /// Commits the group in progress and answers its members.
    async fn flush(&mut self) {
        if !self.in_group {
            return;
        }
        let committed = match self.conn() {
            Ok(conn) => conn.execute("COMMIT").await.map(drop),
            Err(e) => Err(e),
        };
        match committed {
            Ok(()) => {
                self.in_group = false;
                self.commits.inc();
                for member in self.pending.drain(..) {
                    let _ = member.send(Ok(()));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "a group commit failed");
                self.abort("the commit failed").await;
            }
        }
    }

    /// Rolls the group back, if SQLite has not already, and fails its members.
    async fn abort(&mut self, why: &str) {
        if let Ok(conn) = self.conn() {
            // "no transaction is active" when SQLite rolled back itself: fine.
            let _ = conn.execute("ROLLBACK").await;
        }
        self.in_group = false;
        self.open = Open::Nothing;
        for member in self.pending.drain(..) {
            let _ = member.send(Err(why.to_owned()));
        }
    }
}

impl Member {
    fn state(&mut self) -> &mut State {
        // Set from `begin` until `commit`, `rollback` or drop take it.
        self.guard
            .as_mut()
            .expect("a member holds the connection until it ends")
    }

    /// Commits: returns once the group's `COMMIT` has made this transaction
    /// durable, with that `COMMIT`'s result.
    pub(super) async fn commit(mut self) -> Result<(), sqlx::Error> {
        let writer = self.writer.clone();
        let Some(mut guard) = self.guard.take() else {
            return Err(sqlx::Error::PoolClosed);
        };
        let alone = writer.waiting.load(Ordering::Acquire) == 0;
        let (done, acknowledged) = oneshot::channel();
        guard.pending.push(done);
        if alone || guard.pending.len() >= MAX_GROUP {
            // COMMIT ends any savepoint too: no RELEASE needed.
            guard.open = Open::Nothing;
            guard.flush().await;
        } else if guard.open == Open::Savepoint {
            // Released, not left open: every open savepoint makes SQLite keep a
            // copy of each page the group's later members change (measured: leaving
            // them open slowed hold-release by a quarter).
            if let Err(e) = guard.undo("RELEASE member").await {
                guard.open = Open::Nothing;
                tracing::warn!(error = %e, "releasing a savepoint failed; the writes of its group are undone");
                guard.abort("the transaction could not be kept").await;
            }
            guard.open = Open::Nothing;
        } else {
            guard.open = Open::Nothing;
        }
        writer.metrics.transactions.inc();
        drop(guard);
        match acknowledged.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(why)) => Err(sqlx::Error::Io(std::io::Error::other(why))),
            // The writer went away before committing (the process is stopping).
            Err(_) => Err(sqlx::Error::PoolClosed),
        }
    }

    /// Rolls this transaction back (its own writes only). What it read
    /// included the writes of the group's other members, not yet durable: a
    /// refusal decided on them (no seats left, say) is only given once they
    /// are, so this too returns after the group's `COMMIT`.
    pub(super) async fn rollback(mut self) -> Result<(), sqlx::Error> {
        let writer = self.writer.clone();
        let Some(mut guard) = self.guard.take() else {
            return Ok(());
        };
        guard.settle(false).await;
        if !guard.in_group {
            return Ok(()); // it was alone: nothing it saw is waiting
        }
        let (done, acknowledged) = oneshot::channel();
        guard.pending.push(done);
        if writer.waiting.load(Ordering::Acquire) == 0 || guard.pending.len() >= MAX_GROUP {
            guard.flush().await;
        }
        drop(guard);
        match acknowledged.await {
            // Rolled back either way; an error here is the others' commit failing.
            Ok(_) => Ok(()),
            Err(_) => Err(sqlx::Error::PoolClosed),
        }
    }

    /// The connection, to read what it is.
    pub(super) fn conn_ref(&self) -> &AnyConnection {
        self.guard
            .as_ref()
            .and_then(|state| state.conn.as_ref())
            .expect("begin checked that the database is open, and close waits for the connection")
    }

    /// The connection, to run statements on.
    pub(super) fn conn(&mut self) -> &mut AnyConnection {
        self.state()
            .conn
            .as_mut()
            .expect("begin checked that the database is open, and close waits for the connection")
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        if let Some(guard) = self.guard.take() {
            // Neither committed nor rolled back: undo it on a task, holding the
            // connection until then; commit the group if no one else will.
            self.writer.flush_in_background(Some(guard));
        }
    }
}

#[cfg(test)]
mod tests {
    //! Group commit on a real SQLite file: members of one group share a
    //! `COMMIT`, and a member that fails or rolls back undoes only its own work.
    //! Groups are formed deterministically: the second writer is known to be
    //! waiting (the `waiting` counter) before the first commits.

    use sqlx::Row as _;

    use super::super::{Database, Migrations, Write as _, WriteTx};
    use crate::config::DatabaseArgs;

    static NONE: sqlx::migrate::Migrator = sqlx::migrate::Migrator::DEFAULT;

    async fn database(dir: &tempfile::TempDir) -> Database {
        let url = format!("sqlite://{}/w.db?mode=rwc", dir.path().display());
        let migrations = Migrations {
            sqlite: &NONE,
            postgres: &NONE,
        };
        let db = Database::connect(&url, &DatabaseArgs::default(), &migrations)
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (id TEXT PRIMARY KEY)")
            .write(&db)
            .await
            .unwrap();
        db
    }

    async fn insert(tx: &mut WriteTx, id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO t (id) VALUES ($1)")
            .bind(id.to_owned())
            .execute(&mut **tx)
            .await
            .map(drop)
    }

    /// The ids in the table, as a reader on the pool sees them (committed only).
    async fn ids(db: &Database) -> Vec<String> {
        sqlx::query("SELECT id FROM t ORDER BY id")
            .fetch_all(db.pool())
            .await
            .unwrap()
            .iter()
            .map(|row| row.get::<String, _>(0))
            .collect()
    }

    /// Runs `second` in a group after a first member that inserts "a": `second`
    /// asks for the writer while the first holds it, and the first commits
    /// only once `second` is known to be waiting. What `second` returned.
    async fn after_a<T: Send + 'static>(db: &Database, second: impl Future<Output = T> + Send + 'static) -> T {
        let mut first = db.begin_write().await.unwrap();
        insert(&mut first, "a").await.unwrap();
        let waiting = db.writer.as_ref().unwrap().waiting.clone();
        let task = tokio::spawn(second);
        while waiting.load(std::sync::atomic::Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        first.commit().await.unwrap();
        task.await.unwrap()
    }

    fn counts(db: &Database) -> (u64, u64) {
        (db.write_metrics.transactions.get(), db.write_metrics.commits.get())
    }

    #[tokio::test]
    async fn members_that_commit_while_others_wait_share_one_commit() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(&dir).await;
        let start = counts(&db);

        after_a(&db, {
            let db = db.clone();
            async move {
                let mut tx = db.begin_write().await?;
                insert(&mut tx, "b").await?;
                tx.commit().await
            }
        })
        .await
        .unwrap();

        assert_eq!(ids(&db).await, ["a", "b"]);
        assert_eq!(counts(&db), (start.0 + 2, start.1 + 1), "two transactions, one COMMIT");
    }

    #[tokio::test]
    async fn a_member_that_rolls_back_undoes_only_its_own_writes() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(&dir).await;

        after_a(&db, {
            let db = db.clone();
            async move {
                let mut tx = db.begin_write().await?;
                insert(&mut tx, "b").await?;
                tx.rollback().await
            }
        })
        .await
        .unwrap();

        assert_eq!(ids(&db).await, ["a"]);
    }

    #[tokio::test]
    async fn a_dropped_member_undoes_only_its_own_writes_and_the_group_still_commits() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(&dir).await;

        after_a(&db, {
            let db = db.clone();
            async move {
                let mut tx = db.begin_write().await?;
                insert(&mut tx, "b").await?;
                drop(tx); // an error or a cancelled call
                Ok::<_, sqlx::Error>(())
            }
        })
        .await
        .unwrap();

        assert_eq!(ids(&db).await, ["a"]);
    }

    #[tokio::test]
    async fn a_single_statement_that_fails_in_a_group_leaves_the_others_committed() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(&dir).await;

        // Sees the first member's "a", not yet committed: a primary-key violation.
        let refused = after_a(&db, {
            let db = db.clone();
            async move { sqlx::query("INSERT INTO t (id) VALUES ('a')").write(&db).await }
        })
        .await;

        assert!(refused.is_err(), "{refused:?}");
        assert_eq!(ids(&db).await, ["a"]);
        // The writer goes on: a later statement in a group of its own lands.
        sqlx::query("INSERT INTO t (id) VALUES ('c')").write(&db).await.unwrap();
        assert_eq!(ids(&db).await, ["a", "c"]);
    }

    #[tokio::test]
    async fn many_concurrent_writers_all_land() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(&dir).await;
        let start = counts(&db);

        let writers: Vec<_> = (0..64)
            .map(|n| {
                let db = db.clone();
                tokio::spawn(async move {
                    if n % 2 == 0 {
                        let mut tx = db.begin_write().await?;
                        insert(&mut tx, &format!("{n:02}")).await?;
                        tx.commit().await
                    } else {
                        sqlx::query("INSERT INTO t (id) VALUES ($1)")
                            .bind(format!("{n:02}"))
                            .write(&db)
                            .await
                            .map(drop)
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap().unwrap();
        }

        let expected: Vec<String> = (0..64).map(|n| format!("{n:02}")).collect();
        assert_eq!(ids(&db).await, expected);
        let (transactions, commits) = counts(&db);
        assert_eq!(transactions - start.0, 64);
        assert!((1..=64).contains(&(commits - start.1)), "{commits}");
    }
}
