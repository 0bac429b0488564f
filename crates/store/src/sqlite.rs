//! SQLite: the embedded default. Every write transaction begins with `BEGIN IMMEDIATE`,
//! so a transaction that reads and then writes waits for the write lock up front (busy
//! timeout) instead of failing with SQLITE_BUSY_SNAPSHOT half-way (SECURITY 1.17).

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{SqlitePool, Transaction};
use thetasecure_core::Timestamp;
use thetasecure_core::client::Client;
use thetasecure_core::ids::ClientId;
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::group_commit::{GroupCommits, GroupWrite, WriteFuture, WriteTransactions};
use crate::rows::{
    AuditRow, ClientRow, ClientValues, INSERT_AUDIT, INSERT_CLIENT, NewClientRows, ScopeRow,
    SecretRow, SigningKeyRow, audit_details, bind_audit, bind_client, bind_secret, client_columns,
    grant_needle, json_list, limit, secret_columns,
};
use crate::{
    AuditEntry, BootstrapPlan, ClientFilter, ClientPage, RevokedAccessToken, ScopeRecord,
    SecretRecord, SigningKeyRecord, StoreError, UserRecord,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The SQLite store: a connection pool, the turn its writers queue for, and the queue of
/// writes that are committed in groups (`group_commit`).
///
/// SQLite admits one writer at a time, and a writer that finds the lock taken sleeps in
/// the busy handler (1 ms, growing to 100 ms) before trying again, so under concurrent
/// writes the lock sat idle while the waiters slept: p99 of 0.5-1.3 s at 64 concurrent
/// client creates. This process's writers now wait here, in order, and meet the busy
/// handler only when another process (the CLI, say) holds the lock.
#[derive(Clone)]
pub(crate) struct Db {
    pool: SqlitePool,
    write_turn: WriteTurn,
    group_commits: GroupCommits<SqliteConnection>,
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

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }
}

/// A write transaction, holding the write turn until it commits or is dropped.
struct Tx {
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
    match &err {
        sqlx::Error::Database(db) => {
            let code = db
                .code()
                .and_then(|code| code.parse::<i32>().ok())
                .unwrap_or(0);
            match code & 0xff {
                SQLITE_BUSY | SQLITE_LOCKED => StoreError::Busy,
                SQLITE_IOERR | SQLITE_FULL | SQLITE_CANTOPEN => {
                    StoreError::Unavailable(db.message().to_owned())
                }
                _ if db.is_unique_violation() => StoreError::Conflict(db.message().to_owned()),
                _ => StoreError::Backend(db.message().to_owned()),
            }
        }
        // Every pooled connection is held by a writer: contention, not an outage.
        sqlx::Error::PoolTimedOut => StoreError::Busy,
        sqlx::Error::Io(_) | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
            StoreError::Unavailable(err.to_string())
        }
        _ => StoreError::Backend(err.to_string()),
    }
}

fn migrate_error(err: sqlx::migrate::MigrateError) -> StoreError {
    match err {
        sqlx::migrate::MigrateError::Execute(err) => error(err),
        other => StoreError::Backend(other.to_string()),
    }
}

/// How ThetaSecure opens a SQLite file: WAL, `synchronous=FULL`, foreign keys, a 5 s
/// busy timeout, 8 connections.
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
        .acquire_timeout(BUSY_TIMEOUT * 2);
    (options, pool)
}

pub(crate) async fn connect(path: &str) -> Result<Db, StoreError> {
    if path.is_empty() {
        return Err(StoreError::Backend("the sqlite URL names no file".into()));
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
    .map_err(|e| StoreError::Backend(e.to_string()))?
    .map_err(|e| StoreError::Unavailable(format!("migration lock: {e}")))?;
    let migrated = MIGRATOR.run(&db.pool).await.map_err(migrate_error);
    drop(lock);
    migrated
}

pub(crate) async fn ready(db: &Db) -> Result<(), StoreError> {
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(&db.pool)
            .await
            .map_err(error)?;
    crate::check_migrations(&MIGRATOR, &applied)
}

async fn begin_write(db: &Db) -> Result<Tx, StoreError> {
    begin_write_on(&db.pool, &db.write_turn).await
}

async fn begin_write_on(pool: &SqlitePool, turn: &WriteTurn) -> Result<Tx, StoreError> {
    let turn = turn.take().await?;
    let tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(error)?;
    Ok(Tx { tx, _turn: turn })
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

async fn commit(tx: Tx) -> Result<(), StoreError> {
    tx.tx.commit().await.map_err(error)
}

/// Ends a transaction whose statement changed `changed` rows of one object: none means
/// the object is absent (and nothing is written); otherwise the audit entry joins the
/// change and the transaction commits.
async fn finish_audited_change(
    mut tx: Tx,
    changed: u64,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    insert_audit(&mut tx, audit).await?;
    commit(tx).await
}

async fn insert_audit(conn: &mut SqliteConnection, entry: &AuditEntry) -> Result<(), StoreError> {
    let details = audit_details(entry)?;
    bind_audit!(sqlx::query(INSERT_AUDIT), entry, details)
        .execute(conn)
        .await
        .map_err(error)?;
    Ok(())
}

async fn insert_client(conn: &mut SqliteConnection, client: &Client) -> Result<(), StoreError> {
    let values = ClientValues::new(client)?;
    let done = bind_client!(sqlx::query(INSERT_CLIENT), values)
        .execute(conn)
        .await
        .map_err(error)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::Conflict(format!(
            "client `{}` already exists",
            client.client_id
        )));
    }
    Ok(())
}

async fn insert_secret(
    conn: &mut SqliteConnection,
    secret: &SecretRecord,
) -> Result<(), StoreError> {
    bind_secret!(
        sqlx::query(
            "INSERT INTO client_secrets (id, client_id, hash, hint, created_at, expires_at, revoked_at, last_used_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        ),
        secret
    )
    .execute(conn)
    .await
    .map_err(error)?;
    Ok(())
}

async fn client_exists(conn: &mut SqliteConnection, id: &ClientId) -> Result<bool, StoreError> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM clients WHERE client_id = $1)")
        .bind(id.as_str())
        .fetch_one(conn)
        .await
        .map_err(error)
}

// ---- clients ----

pub(crate) async fn create_client(
    db: &Db,
    client: &Client,
    secret: Option<&SecretRecord>,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    db.group_commits
        .write(Box::new(NewClientRows::new(client, secret, audit)))
        .await
}

impl GroupWrite<SqliteConnection> for NewClientRows {
    fn write<'a>(&'a self, conn: &'a mut SqliteConnection) -> WriteFuture<'a> {
        Box::pin(async move {
            insert_client(conn, &self.client).await?;
            if let Some(secret) = &self.secret {
                insert_secret(conn, secret).await?;
            }
            insert_audit(conn, &self.audit).await
        })
    }
}

pub(crate) async fn get_client(db: &Db, id: &ClientId) -> Result<Option<Client>, StoreError> {
    let row: Option<ClientRow> = sqlx::query_as(concat!(
        "SELECT ",
        client_columns!(),
        " FROM clients WHERE client_id = $1"
    ))
    .bind(id.as_str())
    .fetch_optional(&db.pool)
    .await
    .map_err(error)?;
    row.map(ClientRow::into_client).transpose()
}

/// `list_clients` with one search condition; the other filters, the keyset cursor and the
/// order are the same in every variant.
macro_rules! list_clients_sql {
    ($search:literal) => {
        concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients WHERE ",
            $search,
            " AND ($2 IS NULL OR status = $2)
              AND ($3 IS NULL OR instr(grant_types, $3) > 0)
              AND ($4 IS NULL OR created_at < $4 OR (created_at = $4 AND client_id < $5))
              ORDER BY created_at DESC, client_id DESC
              LIMIT $6"
        )
    };
}

/// An FTS5 query for the clients whose search text holds every trigram of `term`:
/// `"abc" AND "bcd" AND …`. The index stores no positions (`detail=none`: positions
/// added 10 MB per 100,000 clients and slowed creates by a tenth), so it cannot match
/// the trigrams as one phrase. Inside quotes only `"` is special; doubling escapes it.
fn trigram_query(term: &str) -> String {
    let chars: Vec<char> = term.chars().collect();
    let mut trigrams: Vec<String> = chars
        .windows(TRIGRAM_LEN)
        .map(|window| window.iter().collect())
        .collect();
    trigrams.sort_unstable();
    trigrams.dedup();
    trigrams
        .iter()
        .map(|trigram| format!("\"{}\"", trigram.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// Trigrams cannot find a shorter term.
const TRIGRAM_LEN: usize = 3;

/// A term matching more clients than this is searched by walking the newest-first index,
/// which fills a page after a few thousand rows at most when matches are this common;
/// fetching and sorting every match would cost more.
const INDEXED_MATCHES_MAX: i64 = 2_000;

pub(crate) async fn list_clients(db: &Db, filter: &ClientFilter) -> Result<ClientPage, StoreError> {
    let search = filter
        .search
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(str::to_lowercase);
    let query = match &search {
        Some(term) if term.chars().count() >= TRIGRAM_LEN => {
            let query = trigram_query(term);
            let matches: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM
                   (SELECT 1 FROM client_search WHERE client_search MATCH $1 LIMIT $2)",
            )
            .bind(&query)
            .bind(INDEXED_MATCHES_MAX)
            .fetch_one(&db.pool)
            .await
            .map_err(error)?;
            (matches < INDEXED_MATCHES_MAX).then_some(query)
        }
        _ => None,
    };
    let sql = match query {
        // The index finds clients holding every trigram of the term, not necessarily in
        // sequence: instr keeps those that hold the term itself.
        Some(_) => list_clients_sql!(
            "client_id IN (SELECT keys.client_id FROM client_search_keys AS keys
                           WHERE keys.id IN (SELECT rowid FROM client_search
                                             WHERE client_search MATCH $7))
             AND instr(search_text, $1) > 0"
        ),
        None => list_clients_sql!("($1 IS NULL OR instr(search_text, $1) > 0)"),
    };
    let mut rows_query = sqlx::query_as(sql)
        .bind(search)
        .bind(filter.status.map(|s| s.as_str()))
        .bind(filter.grant_type.map(grant_needle))
        .bind(filter.after.as_ref().map(|c| c.created_at.0))
        .bind(filter.after.as_ref().map(|c| c.client_id.as_str()))
        .bind(limit(filter.limit) + 1);
    if let Some(trigrams) = query {
        rows_query = rows_query.bind(trigrams);
    }
    let rows: Vec<ClientRow> = rows_query.fetch_all(&db.pool).await.map_err(error)?;
    crate::page(rows, filter.limit)
}

pub(crate) async fn update_client(
    db: &Db,
    client: &Client,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    let v = ClientValues::new(client)?;
    let mut tx = begin_write(db).await?;
    let done = sqlx::query(
        "UPDATE clients SET client_name = $2, description = $3, redirect_uris = $4, grant_types = $5,
             response_types = $6, scope = $7, token_endpoint_auth_method = $8, require_user_consent = $9,
             access_token_ttl_seconds = $10, status = $11, updated_at = $12, search_text = $13,
             tokens_revoked_before = CASE
                 WHEN $14 IS NULL THEN tokens_revoked_before
                 WHEN tokens_revoked_before IS NULL OR tokens_revoked_before < $14 THEN $14
                 ELSE tokens_revoked_before END
         WHERE client_id = $1",
    )
    .bind(&v.client_id)
    .bind(&v.client_name)
    .bind(&v.description)
    .bind(&v.redirect_uris)
    .bind(&v.grant_types)
    .bind(&v.response_types)
    .bind(&v.scope)
    .bind(v.token_endpoint_auth_method)
    .bind(v.require_user_consent)
    .bind(v.access_token_ttl_seconds)
    .bind(v.status)
    .bind(v.updated_at)
    .bind(&v.search_text)
    .bind(v.tokens_revoked_before)
    .execute(&mut *tx)
    .await
    .map_err(error)?;
    finish_audited_change(tx, done.rows_affected(), audit).await
}

pub(crate) async fn delete_client(
    db: &Db,
    id: &ClientId,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    let mut tx = begin_write(db).await?;
    let done = sqlx::query("DELETE FROM clients WHERE client_id = $1")
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(error)?;
    finish_audited_change(tx, done.rows_affected(), audit).await
}

pub(crate) async fn revoke_client_tokens(
    db: &Db,
    id: &ClientId,
    before: Timestamp,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    let mut tx = begin_write(db).await?;
    let done = sqlx::query("UPDATE clients SET tokens_revoked_before = $2 WHERE client_id = $1")
        .bind(id.as_str())
        .bind(before.0)
        .execute(&mut *tx)
        .await
        .map_err(error)?;
    finish_audited_change(tx, done.rows_affected(), audit).await
}

pub(crate) async fn count_clients(db: &Db) -> Result<u64, StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM clients")
        .fetch_one(&db.pool)
        .await
        .map_err(error)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

// ---- secrets ----

pub(crate) async fn list_secrets(db: &Db, id: &ClientId) -> Result<Vec<SecretRecord>, StoreError> {
    let rows: Vec<SecretRow> = sqlx::query_as(concat!(
        "SELECT ",
        secret_columns!(),
        " FROM client_secrets WHERE client_id = $1 ORDER BY created_at, id"
    ))
    .bind(id.as_str())
    .fetch_all(&db.pool)
    .await
    .map_err(error)?;
    rows.into_iter().map(SecretRow::into_record).collect()
}

async fn count_active_secrets(
    conn: &mut SqliteConnection,
    id: &ClientId,
    now: Timestamp,
) -> Result<i64, StoreError> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM client_secrets
         WHERE client_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)",
    )
    .bind(id.as_str())
    .bind(now.0)
    .fetch_one(conn)
    .await
    .map_err(error)
}

pub(crate) async fn rotate_secret(
    db: &Db,
    id: &ClientId,
    new: &SecretRecord,
    old_expire_at: Timestamp,
    max_active: usize,
    now: Timestamp,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    let mut tx = begin_write(db).await?;
    if !client_exists(&mut tx, id).await? {
        return Err(StoreError::NotFound);
    }
    sqlx::query(
        "UPDATE client_secrets
            SET expires_at = CASE WHEN expires_at IS NULL OR expires_at > $3 THEN $3 ELSE expires_at END
          WHERE client_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)",
    )
    .bind(id.as_str())
    .bind(now.0)
    .bind(old_expire_at.0)
    .execute(&mut *tx)
    .await
    .map_err(error)?;
    let active = count_active_secrets(&mut tx, id, now).await? + i64::from(new.is_active(now));
    crate::check_active_limit(active, max_active)?;
    insert_secret(&mut tx, new).await?;
    insert_audit(&mut tx, audit).await?;
    commit(tx).await
}

pub(crate) async fn revoke_secret(
    db: &Db,
    id: &ClientId,
    secret_id: &str,
    now: Timestamp,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    let mut tx = begin_write(db).await?;
    let row: Option<SecretRow> = sqlx::query_as(concat!(
        "SELECT ",
        secret_columns!(),
        " FROM client_secrets WHERE client_id = $1 AND id = $2"
    ))
    .bind(id.as_str())
    .bind(secret_id)
    .fetch_optional(&mut *tx)
    .await
    .map_err(error)?;
    let secret = row.ok_or(StoreError::NotFound)?.into_record()?;
    if secret.is_active(now) && count_active_secrets(&mut tx, id, now).await? <= 1 {
        return Err(crate::last_active_secret());
    }
    sqlx::query("UPDATE client_secrets SET revoked_at = COALESCE(revoked_at, $3) WHERE client_id = $1 AND id = $2")
        .bind(id.as_str())
        .bind(secret_id)
        .bind(now.0)
        .execute(&mut *tx)
        .await
        .map_err(error)?;
    insert_audit(&mut tx, audit).await?;
    commit(tx).await
}

pub(crate) async fn record_secret_use(
    db: &Db,
    uses: &[(String, Timestamp)],
) -> Result<(), StoreError> {
    if uses.is_empty() {
        return Ok(());
    }
    let mut tx = begin_write(db).await?;
    for (secret_id, at) in uses {
        sqlx::query(
            "UPDATE client_secrets SET last_used_at = $2
             WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)",
        )
        .bind(secret_id)
        .bind(at.0)
        .execute(&mut *tx)
        .await
        .map_err(error)?;
    }
    commit(tx).await
}

// ---- scopes ----

pub(crate) async fn list_scopes(db: &Db) -> Result<Vec<ScopeRecord>, StoreError> {
    let rows: Vec<ScopeRow> = sqlx::query_as(
        "SELECT name, description, is_builtin, created_at, updated_at FROM scopes ORDER BY name",
    )
    .fetch_all(&db.pool)
    .await
    .map_err(error)?;
    Ok(rows.into_iter().map(ScopeRecord::from).collect())
}

pub(crate) async fn get_scope(db: &Db, name: &str) -> Result<Option<ScopeRecord>, StoreError> {
    let row: Option<ScopeRow> = sqlx::query_as(
        "SELECT name, description, is_builtin, created_at, updated_at FROM scopes WHERE name = $1",
    )
    .bind(name)
    .fetch_optional(&db.pool)
    .await
    .map_err(error)?;
    Ok(row.map(ScopeRecord::from))
}

async fn insert_scope(conn: &mut SqliteConnection, scope: &ScopeRecord) -> Result<(), StoreError> {
    let done = sqlx::query(
        "INSERT INTO scopes (name, description, is_builtin, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING",
    )
    .bind(&scope.name)
    .bind(&scope.description)
    .bind(scope.is_builtin)
    .bind(scope.created_at.0)
    .bind(scope.updated_at.0)
    .execute(conn)
    .await
    .map_err(error)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::Conflict(format!(
            "scope `{}` already exists",
            scope.name
        )));
    }
    Ok(())
}

pub(crate) async fn create_scope(
    db: &Db,
    scope: &ScopeRecord,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    let mut tx = begin_write(db).await?;
    insert_scope(&mut tx, scope).await?;
    insert_audit(&mut tx, audit).await?;
    commit(tx).await
}

pub(crate) async fn update_scope_description(
    db: &Db,
    name: &str,
    description: &str,
    now: Timestamp,
    audit: &AuditEntry,
) -> Result<ScopeRecord, StoreError> {
    let mut tx = begin_write(db).await?;
    let row: Option<ScopeRow> = sqlx::query_as(
        "UPDATE scopes SET description = $2, updated_at = $3 WHERE name = $1
         RETURNING name, description, is_builtin, created_at, updated_at",
    )
    .bind(name)
    .bind(description)
    .bind(now.0)
    .fetch_optional(&mut *tx)
    .await
    .map_err(error)?;
    let record = ScopeRecord::from(row.ok_or(StoreError::NotFound)?);
    insert_audit(&mut tx, audit).await?;
    commit(tx).await?;
    Ok(record)
}

pub(crate) async fn delete_scope(
    db: &Db,
    name: &str,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    let mut tx = begin_write(db).await?;
    let builtin: Option<bool> = sqlx::query_scalar("SELECT is_builtin FROM scopes WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(error)?;
    match builtin {
        None => return Err(StoreError::NotFound),
        Some(true) => return Err(crate::builtin_scope(name)),
        Some(false) => {}
    }
    let in_use: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM clients WHERE instr(' ' || scope || ' ', ' ' || $1 || ' ') > 0)",
    )
    .bind(name)
    .fetch_one(&mut *tx)
    .await
    .map_err(error)?;
    if in_use {
        return Err(crate::scope_in_use(name));
    }
    sqlx::query("DELETE FROM scopes WHERE name = $1")
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(error)?;
    insert_audit(&mut tx, audit).await?;
    commit(tx).await
}

// ---- signing keys ----

pub(crate) async fn list_signing_keys(db: &Db) -> Result<Vec<SigningKeyRecord>, StoreError> {
    let rows: Vec<SigningKeyRow> = sqlx::query_as(
        "SELECT kid, alg, encrypted_private_key, created_at, retired_at FROM signing_keys
         ORDER BY created_at DESC, kid DESC",
    )
    .fetch_all(&db.pool)
    .await
    .map_err(error)?;
    Ok(rows.into_iter().map(SigningKeyRecord::from).collect())
}

const INSERT_KEY: &str =
    "INSERT INTO signing_keys (kid, alg, encrypted_private_key, created_at, retired_at)
     VALUES ($1, $2, $3, $4, $5)";

pub(crate) async fn insert_signing_key_if_none_active(
    db: &Db,
    key: &SigningKeyRecord,
) -> Result<bool, StoreError> {
    let _turn = db.write_turn.take().await?;
    let done = sqlx::query(
        "INSERT INTO signing_keys (kid, alg, encrypted_private_key, created_at, retired_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (alg) WHERE retired_at IS NULL DO NOTHING",
    )
    .bind(&key.kid)
    .bind(&key.alg)
    .bind(&key.encrypted_private_key)
    .bind(key.created_at.0)
    .bind(key.retired_at.map(|t| t.0))
    .execute(&db.pool)
    .await
    .map_err(error)?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn rotate_signing_key(
    db: &Db,
    key: &SigningKeyRecord,
    retired_at: Timestamp,
) -> Result<(), StoreError> {
    let mut tx = begin_write(db).await?;
    sqlx::query("UPDATE signing_keys SET retired_at = $2 WHERE alg = $1 AND retired_at IS NULL")
        .bind(&key.alg)
        .bind(retired_at.0)
        .execute(&mut *tx)
        .await
        .map_err(error)?;
    sqlx::query(INSERT_KEY)
        .bind(&key.kid)
        .bind(&key.alg)
        .bind(&key.encrypted_private_key)
        .bind(key.created_at.0)
        .bind(key.retired_at.map(|t| t.0))
        .execute(&mut *tx)
        .await
        .map_err(error)?;
    commit(tx).await
}

// ---- tokens ----

pub(crate) async fn revoke_access_token(
    db: &Db,
    revoked: &RevokedAccessToken,
) -> Result<(), StoreError> {
    let _turn = db.write_turn.take().await?;
    sqlx::query(
        "INSERT INTO revoked_access_tokens (jti, client_id, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT (jti) DO NOTHING",
    )
    .bind(&revoked.jti)
    .bind(revoked.client_id.as_str())
    .bind(revoked.expires_at.0)
    .execute(&db.pool)
    .await
    .map_err(error)?;
    Ok(())
}

pub(crate) async fn is_access_token_revoked(db: &Db, jti: &str) -> Result<bool, StoreError> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM revoked_access_tokens WHERE jti = $1)")
        .bind(jti)
        .fetch_one(&db.pool)
        .await
        .map_err(error)
}

/// The list travels as one JSON array, so any batch size is one prepared statement.
pub(crate) async fn revoked_access_tokens_among(
    db: &Db,
    jtis: &[&str],
) -> Result<Vec<String>, StoreError> {
    let list = json_list(jtis.iter())?;
    sqlx::query_scalar(
        "SELECT jti FROM revoked_access_tokens WHERE jti IN (SELECT value FROM json_each($1))",
    )
    .bind(list)
    .fetch_all(&db.pool)
    .await
    .map_err(error)
}

pub(crate) async fn purge_expired_tokens(db: &Db, now: Timestamp) -> Result<u64, StoreError> {
    let _turn = db.write_turn.take().await?;
    let done = sqlx::query("DELETE FROM revoked_access_tokens WHERE expires_at <= $1")
        .bind(now.0)
        .execute(&db.pool)
        .await
        .map_err(error)?;
    Ok(done.rows_affected())
}

// ---- audit ----

pub(crate) async fn list_audit(
    db: &Db,
    before: Option<&str>,
    max: u32,
) -> Result<Vec<AuditEntry>, StoreError> {
    let rows: Vec<AuditRow> = sqlx::query_as(
        "SELECT id, at, actor, action, target_type, target_id, details FROM audit_events
         WHERE ($1 IS NULL OR id < $1) ORDER BY id DESC LIMIT $2",
    )
    .bind(before)
    .bind(limit(max))
    .fetch_all(&db.pool)
    .await
    .map_err(error)?;
    rows.into_iter().map(AuditRow::into_entry).collect()
}

pub(crate) async fn record_audit(db: &Db, entry: &AuditEntry) -> Result<(), StoreError> {
    let _turn = db.write_turn.take().await?;
    let mut conn = db.pool.acquire().await.map_err(error)?;
    insert_audit(&mut conn, entry).await
}

// ---- bootstrap ----

async fn insert_user(conn: &mut SqliteConnection, user: &UserRecord) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO users (id, username, username_lower, email, display_name, password_hash, is_admin, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&user.id)
    .bind(&user.username)
    .bind(user.username.to_lowercase())
    .bind(&user.email)
    .bind(&user.display_name)
    .bind(&user.password_hash)
    .bind(user.is_admin)
    .bind(user.created_at.0)
    .execute(conn)
    .await
    .map_err(error)?;
    Ok(())
}

pub(crate) async fn provision(
    db: &Db,
    plan: &BootstrapPlan,
    audit: &[AuditEntry],
) -> Result<bool, StoreError> {
    let mut tx = begin_write(db).await?;
    let marked = sqlx::query("INSERT INTO bootstrap_state (id, provisioned_at) VALUES (1, $1) ON CONFLICT (id) DO NOTHING")
        .bind(plan.admin_user.created_at.0)
        .execute(&mut *tx)
        .await
        .map_err(error)?;
    if marked.rows_affected() == 0 {
        tx.tx.rollback().await.map_err(error)?;
        return Ok(false);
    }
    for scope in &plan.scopes {
        insert_scope(&mut tx, scope).await?;
    }
    for (client, secret) in &plan.clients {
        insert_client(&mut tx, client).await?;
        if let Some(secret) = secret {
            insert_secret(&mut tx, secret).await?;
        }
    }
    insert_user(&mut tx, &plan.admin_user).await?;
    for entry in audit {
        insert_audit(&mut tx, entry).await?;
    }
    commit(tx).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::trigram_query;

    #[test]
    fn trigram_queries_quote_every_distinct_trigram() {
        assert_eq!(trigram_query("abcd"), r#""abc" AND "bcd""#);
        assert_eq!(trigram_query("aaaa"), r#""aaa""#);
        assert_eq!(trigram_query("äöüß"), r#""äöü" AND "öüß""#);
        assert_eq!(trigram_query(r#"a"bc"#), r#""""bc" AND "a""b""#);
        assert_eq!(trigram_query("a b"), r#""a b""#);
    }
}
