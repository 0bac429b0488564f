//! SQLite: the embedded default. Every write transaction begins with `BEGIN IMMEDIATE`,
//! so a transaction that reads and then writes waits for the write lock up front (busy
//! timeout) instead of failing with SQLITE_BUSY_SNAPSHOT half-way (SECURITY 1.17). That
//! lock is also what serialises the rules spanning rows (active-secret limit, scope in
//! use): no other writer runs until the transaction ends.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{SqlitePool, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::StoreError;
use crate::changes::Change;
use crate::engine::Failure;
use crate::group_commit::{GroupCommits, WriteTransactions};

pub(crate) use crate::{
    audit::sqlite as audit, client_changes::sqlite as client_changes, clients::sqlite as clients,
    expiry::sqlite as expiry, refresh_tokens::sqlite as refresh_tokens, scopes::sqlite as scopes,
    secrets::sqlite as secrets, tokens::sqlite as tokens, users::sqlite as users,
};

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) type Conn = SqliteConnection;

/// The SQLite store: a connection pool, the turn its writers queue for, and the queue of
/// writes that are committed in groups (`group_commit`).
///
/// SQLite admits one writer at a time, and a writer that finds the lock taken sleeps in
/// the busy handler (1 ms, growing to 100 ms) before trying again, so under concurrent
/// writes the lock sat idle while the waiters slept (docs/performance.md has the tails
/// this made). This process's writers now wait here, in order, and meet the busy
/// handler only when another process (the CLI, say) holds the lock.
#[derive(Clone)]
pub(crate) struct Db {
    pub(crate) pool: SqlitePool,
    write_turn: WriteTurn,
    pub(crate) group_commits: GroupCommits<SqliteConnection>,
}

#[derive(Clone, Default)]
struct WriteTurn(Arc<Mutex<()>>);

impl WriteTurn {
    /// Waits as long as SQLite's busy handler would, then gives up as it would.
    async fn take(&self) -> Result<OwnedMutexGuard<()>, StoreError> {
        tokio::time::timeout(BUSY_TIMEOUT, self.0.clone().lock_owned())
            .await
            .map_err(|_| StoreError::Busy)
    }
}

impl Db {
    fn new(pool: SqlitePool) -> Self {
        let write_turn = WriteTurn::default();
        // One committer: SQLite has one writer at a time anyway.
        let group_commits = GroupCommits::start(
            SqliteWrites {
                pool: pool.clone(),
                turn: write_turn.clone(),
            },
            1,
        );
        Db {
            pool,
            write_turn,
            group_commits,
        }
    }

    /// For a write of one statement outside a transaction: held until it is done.
    pub(crate) async fn turn_to_write(&self) -> Result<OwnedMutexGuard<()>, StoreError> {
        self.write_turn.take().await
    }

    /// Nothing to follow up: the search index is written in the creating transaction.
    pub(crate) fn clients_created(&self) {}

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }
}

/// Nothing to notify: this process's writes invalidate its caches directly
/// (`changes`). A client change is logged (`client_changes`), which is how a server
/// notices what the CLI wrote to the same file.
pub(crate) async fn publish(_db: &Db, conn: &mut Conn, change: &Change) -> Result<(), StoreError> {
    client_changes::record(conn, change).await
}

/// A write transaction, holding the write turn until it commits or is dropped.
pub(crate) struct Tx {
    tx: Transaction<'static, sqlx::Sqlite>,
    _turn: OwnedMutexGuard<()>,
}

impl Deref for Tx {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        &self.tx
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }
}

/// SQLite result codes (the low byte of an extended code).
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;
const SQLITE_IOERR: i32 = 10;
const SQLITE_FULL: i32 = 13;
const SQLITE_CANTOPEN: i32 = 14;

pub(crate) fn error(err: sqlx::Error) -> StoreError {
    let kind = match &err {
        sqlx::Error::Database(db) => {
            let code = db
                .code()
                .and_then(|code| code.parse::<i32>().ok())
                .unwrap_or(0);
            match code & 0xff {
                SQLITE_BUSY | SQLITE_LOCKED => Failure::Busy,
                SQLITE_IOERR | SQLITE_FULL | SQLITE_CANTOPEN => Failure::Unavailable,
                _ if db.is_unique_violation() => Failure::Conflict(db.message().to_owned()),
                _ => Failure::Backend,
            }
        }
        // Every pooled connection is held by a writer: contention, not an outage.
        sqlx::Error::PoolTimedOut => Failure::Busy,
        sqlx::Error::Io(_) | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
            Failure::Unavailable
        }
        _ => Failure::Backend,
    };
    kind.into_error("SQLite", err)
}

/// How ThetaSecure opens a SQLite file: WAL, `synchronous=FULL`, foreign keys, a 5 s
/// busy timeout, 8 connections, each with sqlx's cache of prepared statements.
///
/// No ping before each acquire (sqlx's default): a local file's connection does not
/// drop, and the ping is a round trip to the connection's worker thread, about a quarter
/// of a pooled primary-key read (docs/performance.md).
pub fn pool_options(path: &str) -> (SqliteConnectOptions, SqlitePoolOptions) {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT);
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .test_before_acquire(false)
        .acquire_timeout(BUSY_TIMEOUT * 2);
    (options, pool)
}

pub(crate) async fn connect(path: &str) -> Result<Db, StoreError> {
    if path.is_empty() {
        return Err(StoreError::backend("the sqlite URL names no file"));
    }
    let (options, pool) = pool_options(path);
    // Switching a new database to WAL takes a lock that SQLite does not wait for through
    // the busy handler, so processes opening one file together retry here instead.
    let mut attempts = 0;
    loop {
        let opened = pool
            .clone()
            .connect_with(options.clone())
            .await
            .map_err(error);
        match opened {
            Err(StoreError::Busy) if attempts < 50 => {
                attempts += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            other => {
                return other.map(Db::new);
            }
        }
    }
}

/// sqlx's migrator takes no lock on SQLite, so two processes starting together (a server
/// and the CLI, say) could both apply migration 1. An exclusive lock on a file beside the
/// database serialises them; the second then finds nothing left to do.
pub(crate) async fn migrate(db: &Db) -> Result<(), StoreError> {
    // Beside the `-wal` and `-shm` files, named like them.
    let lock_path = format!(
        "{}-migrate-lock",
        db.pool.connect_options().get_filename().display()
    );
    let lock = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)?;
        file.lock()?;
        Ok(file)
    })
    .await
    .map_err(|e| StoreError::backend_because("migration lock", e))?
    .map_err(|e| StoreError::unavailable_because("migration lock", e))?;
    let migrated = MIGRATOR.run(&db.pool).await.map_err(|err| match err {
        sqlx::migrate::MigrateError::Execute(err) => error(err),
        other => StoreError::backend_because("migrating", other),
    });
    drop(lock);
    migrated
}

pub(crate) async fn begin_write(db: &Db) -> Result<Tx, StoreError> {
    begin_write_on(&db.pool, &db.write_turn).await
}

async fn begin_write_on(pool: &SqlitePool, turn: &WriteTurn) -> Result<Tx, StoreError> {
    let turn = turn.take().await?;
    let tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(error)?;
    Ok(Tx { tx, _turn: turn })
}

pub(crate) async fn commit(tx: Tx) -> Result<(), StoreError> {
    tx.tx.commit().await.map_err(error)
}

pub(crate) async fn rollback(tx: Tx) -> Result<(), StoreError> {
    tx.tx.rollback().await.map_err(error)
}

/// Nothing to do: `BEGIN IMMEDIATE` already keeps every other writer out until the
/// transaction ends.
pub(crate) async fn lock_clients_against_writes(_tx: &mut Tx) -> Result<(), StoreError> {
    Ok(())
}

/// Group commits take the write turn like any writer.
struct SqliteWrites {
    pool: SqlitePool,
    turn: WriteTurn,
}

impl WriteTransactions for SqliteWrites {
    type Connection = SqliteConnection;
    type Tx = Tx;

    async fn begin(&self) -> Result<Tx, StoreError> {
        begin_write_on(&self.pool, &self.turn).await
    }

    async fn commit(tx: Tx) -> Result<(), StoreError> {
        commit(tx).await
    }
}

/// ` FOR UPDATE` where the dialect has it; SQLite's write transactions lock the whole
/// database instead.
macro_rules! for_update {
    () => {
        ""
    };
}
pub(crate) use for_update;

/// ` FOR SHARE` where the dialect has it (see `for_update`).
macro_rules! for_share {
    () => {
        ""
    };
}
pub(crate) use for_share;

/// The database's clock in unix milliseconds (`julianday` is in days since noon,
/// November 24, 4714 BC).
macro_rules! now_ms {
    () => {
        "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"
    };
}
pub(crate) use now_ms;

/// The dialect's `instr(haystack, needle)`: the 1-based position, 0 when absent.
macro_rules! position_of {
    () => {
        "instr"
    };
}
pub(crate) use position_of;

/// ` IN (…)` over a list bound as one parameter with [`text_list`]. SQLite has no
/// arrays: the list travels as one JSON array, so any length is one prepared statement.
macro_rules! in_list {
    ($param:literal) => {
        concat!(" IN (SELECT value FROM json_each(", $param, "))")
    };
}
pub(crate) use in_list;

pub(crate) fn text_list(values: &[&str]) -> Result<String, StoreError> {
    crate::rows::json_list(values.iter())
}

/// A table of rows bound as one parameter, a JSON array of arrays, with each row in
/// column `value` (`value ->> 0` is its first member): one prepared statement whatever
/// the number of rows, and never SQLite's limit on parameters.
macro_rules! json_rows {
    ($param:literal) => {
        concat!("json_each(", $param, ")")
    };
}
pub(crate) use json_rows;
