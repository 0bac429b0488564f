//! PostgreSQL: for several instances sharing one database. Transactions run at READ
//! COMMITTED; where a rule spans rows (active-secret limits, scope in use) the
//! transaction first locks what the rule depends on, so concurrent writers queue.

use std::str::FromStr;
use std::sync::Arc;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::{PgPool, Transaction};

use crate::StoreError;
use crate::changes::Change;
use crate::engine::Failure;
use crate::group_commit::{GroupCommits, WriteTransactions};

pub(crate) use crate::{
    audit::postgres as audit, client_changes::postgres as client_changes,
    clients::postgres as clients, expiry::postgres as expiry,
    refresh_tokens::postgres as refresh_tokens, scopes::postgres as scopes,
    secrets::postgres as secrets, tokens::postgres as tokens, users::postgres as users,
};

/// Its `run` takes a session-level advisory lock, so instances starting together on one
/// database migrate one after the other and the later ones find nothing to do.
pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

pub(crate) type Conn = PgConnection;
pub(crate) type Tx = Transaction<'static, sqlx::Postgres>;

/// The PostgreSQL store: a connection pool, the queue of writes that are committed in
/// groups (`group_commit`), and what the clients' search index needs.
#[derive(Clone)]
pub(crate) struct Db {
    pub(crate) pool: PgPool,
    pub(crate) group_commits: GroupCommits<PgConnection>,
    pub(crate) search_index: crate::clients::SearchIndex,
    /// How the change feed's listener connects, and the channel of this schema.
    pub(crate) options: Arc<PgConnectOptions>,
    pub(crate) channel: Arc<str>,
}

impl Db {
    /// Nothing to wait for: PostgreSQL queues writers itself, row by row.
    pub(crate) async fn turn_to_write(&self) -> Result<NoTurn, StoreError> {
        Ok(NoTurn)
    }

    /// The search index's pending list wants merging soon.
    pub(crate) fn clients_created(&self) {
        self.search_index.changed();
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }
}

/// What `turn_to_write` holds on PostgreSQL: nothing.
pub(crate) struct NoTurn;

/// Groups committed side by side: each waits for its WAL flush while the next gathers.
/// Eight split 4,000 redemptions/s into groups of about three, a commit (and a WAL
/// flush) per three; three committers make the groups larger and redeem 25 % more, with
/// client creates as fast as before (docs/performance.md).
const GROUP_COMMITTERS: usize = 3;

pub(crate) fn error(err: sqlx::Error) -> StoreError {
    let kind = match &err {
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            match &*code {
                "23505" => Failure::Conflict(db.message().to_owned()),
                // serialization failure, deadlock, lock timeout: a retry may succeed.
                "40001" | "40P01" | "55P03" => Failure::Busy,
                // connection exceptions, too many connections, shutting down.
                c if c.starts_with("08") || c == "53300" || c.starts_with("57P") => {
                    Failure::Unavailable
                }
                _ => Failure::Backend,
            }
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Failure::Unavailable,
        _ => Failure::Backend,
    };
    kind.into_error("PostgreSQL", err)
}

/// How ThetaSecure sizes its PostgreSQL pool: 10 connections, and no longer to acquire
/// one than an operation may take in all (`ANSWER_WITHIN`): with the database down, the
/// pool retries connecting until then.
pub fn pool_options() -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(10)
        .acquire_timeout(crate::ANSWER_WITHIN)
}

pub(crate) async fn connect(url: &str) -> Result<Db, StoreError> {
    // The URL may hold a password: report sqlx's parse error, never the URL itself.
    let options = PgConnectOptions::from_str(url)
        .map_err(|err| StoreError::backend_because("invalid postgres URL", err))?;
    let pool = pool_options()
        .connect_with(options.clone())
        .await
        .map_err(error)?;
    // The schema names the channel, so databases shared by schema (tests) stay apart.
    let schema: String = sqlx::query_scalar("SELECT current_schema()")
        .fetch_one(&pool)
        .await
        .map_err(error)?;
    let group_commits = GroupCommits::start(PgWrites(pool.clone()), GROUP_COMMITTERS);
    let search_index = crate::clients::SearchIndex::start(pool.clone());
    Ok(Db {
        pool,
        group_commits,
        search_index,
        options: Arc::new(options),
        channel: crate::changes::channel_for(&schema).into(),
    })
}

/// Sends `change` to every instance listening, when the transaction on `conn` commits
/// (PostgreSQL delivers notifications on commit only, and drops those of a rollback),
/// and logs a client change (`client_changes`) for an instance that misses the
/// notification.
pub(crate) async fn publish(db: &Db, conn: &mut Conn, change: &Change) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_notify($1, payload) FROM unnest($2::TEXT[]) AS payload")
        .bind(&*db.channel)
        .bind(change.payloads())
        .execute(&mut *conn)
        .await
        .map_err(error)?;
    client_changes::record(conn, change).await
}

pub(crate) async fn migrate(db: &Db) -> Result<(), StoreError> {
    MIGRATOR.run(&db.pool).await.map_err(|err| match err {
        sqlx::migrate::MigrateError::Execute(err) => error(err),
        other => StoreError::backend_because("migrating", other),
    })
}

pub(crate) async fn begin_write(db: &Db) -> Result<Tx, StoreError> {
    db.pool.begin().await.map_err(error)
}

pub(crate) async fn commit(tx: Tx) -> Result<(), StoreError> {
    tx.commit().await.map_err(error)
}

pub(crate) async fn rollback(tx: Tx) -> Result<(), StoreError> {
    tx.rollback().await.map_err(error)
}

/// Client writes wait until this transaction ends, so no client can start using a
/// scope between a check and the write that relies on it.
pub(crate) async fn lock_clients_against_writes(tx: &mut Tx) -> Result<(), StoreError> {
    sqlx::query("LOCK TABLE clients IN SHARE MODE")
        .execute(&mut **tx)
        .await
        .map_err(error)?;
    Ok(())
}

struct PgWrites(PgPool);

impl WriteTransactions for PgWrites {
    type Connection = PgConnection;
    type Tx = Tx;

    async fn begin(&self) -> Result<Tx, StoreError> {
        self.0.begin().await.map_err(error)
    }

    async fn commit(tx: Tx) -> Result<(), StoreError> {
        commit(tx).await
    }
}

/// Locks the rows read, so that concurrent writers of a rule spanning them queue.
macro_rules! for_update {
    () => {
        " FOR UPDATE"
    };
}
pub(crate) use for_update;

/// Locks the rows read against updates (not against other readers) until the
/// transaction ends; a row updated meanwhile is read again as committed.
macro_rules! for_share {
    () => {
        " FOR SHARE"
    };
}
pub(crate) use for_share;

/// The database's clock in unix milliseconds; the clock's, not the transaction's start.
macro_rules! now_ms {
    () => {
        "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
    };
}
pub(crate) use now_ms;

/// The dialect's `strpos(haystack, needle)`: the 1-based position, 0 when absent.
macro_rules! position_of {
    () => {
        "strpos"
    };
}
pub(crate) use position_of;

/// ` = ANY(…)` over a list bound as one parameter with [`text_list`]: an array.
macro_rules! in_list {
    ($param:literal) => {
        concat!(" = ANY(", $param, ")")
    };
}
pub(crate) use in_list;

pub(crate) fn text_list<'a>(values: &'a [&'a str]) -> Result<&'a [&'a str], StoreError> {
    Ok(values)
}

/// A table of rows bound as one parameter, a JSON array of arrays, with each row in
/// column `value` (`value ->> 0` is its first member), as SQLite's `json_each` gives them.
macro_rules! json_rows {
    ($param:literal) => {
        concat!(
            "jsonb_array_elements(CAST(",
            $param,
            " AS JSONB)) AS rows_of_json(value)"
        )
    };
}
pub(crate) use json_rows;
