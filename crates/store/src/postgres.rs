//! PostgreSQL: for several instances sharing one database. Transactions run at READ
//! COMMITTED; where a rule spans rows (active-secret limits, scope in use) the
//! transaction first locks what the rule depends on, so concurrent writers queue.

use std::ops::Deref;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::{PgPool, Transaction};
use thetasecure_core::Timestamp;
use thetasecure_core::client::Client;
use thetasecure_core::ids::ClientId;

use crate::group_commit::{GroupCommits, GroupWrite, WriteFuture, WriteTransactions};
use crate::rows::{
    AuditRow, ClientRow, ClientValues, INSERT_AUDIT, INSERT_CLIENT, NewClientRows, ScopeRow,
    SecretRow, SigningKeyRow, audit_details, bind_audit, bind_client, bind_secret, client_columns,
    grant_needle, limit, secret_columns,
};
use crate::{
    AuditEntry, BootstrapPlan, ClientFilter, ClientPage, RevokedAccessToken, ScopeRecord,
    SecretRecord, SigningKeyRecord, StoreError, UserRecord,
};

/// Its `run` takes a session-level advisory lock, so instances starting together on one
/// database migrate one after the other and the later ones find nothing to do.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

type Tx = Transaction<'static, sqlx::Postgres>;

pub(crate) fn error(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            match &*code {
                "23505" => StoreError::Conflict(db.message().to_owned()),
                // serialization failure, deadlock, lock timeout: a retry may succeed.
                "40001" | "40P01" | "55P03" => StoreError::Busy,
                // connection exceptions, too many connections, shutting down.
                c if c.starts_with("08") || c == "53300" || c.starts_with("57P") => {
                    StoreError::Unavailable(db.message().to_owned())
                }
                _ => StoreError::Backend(db.message().to_owned()),
            }
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(err.to_string()),
        _ => StoreError::Backend(err.to_string()),
    }
}

fn migrate_error(err: sqlx::migrate::MigrateError) -> StoreError {
    match err {
        sqlx::migrate::MigrateError::Execute(err) => error(err),
        other => StoreError::Backend(other.to_string()),
    }
}

/// How ThetaSecure sizes its PostgreSQL pool: 10 connections, and no longer to acquire
/// one than an operation may take in all (`ANSWER_WITHIN`): with the database down, the
/// pool retries connecting until then.
pub fn pool_options() -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(10)
        .acquire_timeout(crate::ANSWER_WITHIN)
}

/// The PostgreSQL store: a connection pool, and the queue of writes that are committed
/// in groups (`group_commit`). Derefs to the pool for everything else.
#[derive(Clone)]
pub(crate) struct Db {
    pool: PgPool,
    group_commits: GroupCommits<PgConnection>,
    /// Set by a create; the search index cleaner clears it.
    search_index_pending: Arc<AtomicBool>,
}

impl Deref for Db {
    type Target = PgPool;

    fn deref(&self) -> &PgPool {
        &self.pool
    }
}

/// Groups committed side by side: each waits for its WAL flush while the next gathers.
const GROUP_COMMITTERS: usize = 8;

pub(crate) async fn connect(url: &str) -> Result<Db, StoreError> {
    // The URL may hold a password: report sqlx's parse error, never the URL itself.
    let options = PgConnectOptions::from_str(url)
        .map_err(|err| StoreError::Backend(format!("invalid postgres URL: {err}")))?;
    let pool = pool_options().connect_with(options).await.map_err(error)?;
    let group_commits = GroupCommits::start(PgWrites(pool.clone()), GROUP_COMMITTERS);
    let search_index_pending = Arc::new(AtomicBool::new(false));
    tokio::spawn(clean_search_index(
        pool.clone(),
        search_index_pending.clone(),
    ));
    Ok(Db {
        pool,
        group_commits,
        search_index_pending,
    })
}

/// GIN's pending list (`fastupdate`) keeps a new client's trigrams cheap to index, but
/// the insert that finds the list over `gin_pending_list_limit` (4 MB) merges all of it
/// into the index itself: 1.3-1.5 s for that create and, under group commit, for every
/// create of its group. Merging the list from here four times a second after creates
/// keeps it far under the limit (a create adds about 700 bytes), so no create pays for
/// it; once a second still let it reach the limit now and then at 4,400 creates a second
/// (p99 443 ms).
const SEARCH_INDEX_CLEANUP_EVERY: Duration = Duration::from_millis(250);

/// Runs until the pool is closed.
async fn clean_search_index(pool: PgPool, pending: Arc<AtomicBool>) {
    let mut tick = tokio::time::interval(SEARCH_INDEX_CLEANUP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !pool.is_closed() {
        tick.tick().await;
        if !pending.swap(false, Ordering::Relaxed) {
            continue;
        }
        let cleaned = sqlx::query("SELECT gin_clean_pending_list('clients_search_trgm')")
            .execute(&pool)
            .await;
        if let Err(err) = cleaned {
            // Not retried until the next create (a role that does not own the index
            // would fail every time); inserts still merge the list when they must.
            tracing::debug!(error = %err, "search index cleanup failed");
        }
    }
}

struct PgWrites(PgPool);

impl WriteTransactions for PgWrites {
    type Connection = PgConnection;
    type Tx = Tx;

    async fn begin(&self) -> Result<Tx, StoreError> {
        begin_write(&self.0).await
    }

    async fn commit(tx: Tx) -> Result<(), StoreError> {
        commit(tx).await
    }
}

pub(crate) async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    MIGRATOR.run(pool).await.map_err(migrate_error)
}

pub(crate) async fn ready(pool: &PgPool) -> Result<(), StoreError> {
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(pool)
            .await
            .map_err(error)?;
    crate::check_migrations(&MIGRATOR, &applied)
}

/// Serialises rules that span a client's secrets: concurrent rotations or revocations
/// of one client queue here instead of both passing a count check.
async fn lock_client(conn: &mut PgConnection, id: &ClientId) -> Result<bool, StoreError> {
    let found: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM clients WHERE client_id = $1 FOR UPDATE")
            .bind(id.as_str())
            .fetch_optional(conn)
            .await
            .map_err(error)?;
    Ok(found.is_some())
}

async fn begin_write(pool: &PgPool) -> Result<Tx, StoreError> {
    pool.begin().await.map_err(error)
}

async fn commit(tx: Tx) -> Result<(), StoreError> {
    tx.commit().await.map_err(error)
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

async fn insert_audit(conn: &mut PgConnection, entry: &AuditEntry) -> Result<(), StoreError> {
    let details = audit_details(entry)?;
    bind_audit!(sqlx::query(INSERT_AUDIT), entry, details)
        .execute(conn)
        .await
        .map_err(error)?;
    Ok(())
}

async fn insert_client(conn: &mut PgConnection, client: &Client) -> Result<(), StoreError> {
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

async fn insert_secret(conn: &mut PgConnection, secret: &SecretRecord) -> Result<(), StoreError> {
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

// ---- clients ----

/// The client, its first secret and the audit entry in one statement: atomic and durable
/// like a transaction, in one round trip instead of five (BEGIN, three INSERTs, COMMIT).
/// A duplicate id fails the whole statement (unique violation → Conflict); the secret's
/// foreign key is checked at the end of the statement, after the client row exists.
const CREATE_CLIENT_WITH_SECRET: &str = "WITH new_client AS (
         INSERT INTO clients (client_id, client_type, client_name, description, redirect_uris,
             grant_types, response_types, scope, token_endpoint_auth_method, require_user_consent,
             access_token_ttl_seconds, status, is_default, created_at, updated_at, tokens_revoked_before, search_text)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)),
     new_secret AS (
         INSERT INTO client_secrets (id, client_id, hash, hint, created_at, expires_at, revoked_at, last_used_at)
         VALUES ($18, $19, $20, $21, $22, $23, $24, $25))
     INSERT INTO audit_events (id, at, actor, action, target_type, target_id, details)
     VALUES ($26, $27, $28, $29, $30, $31, $32)";

const CREATE_CLIENT_WITHOUT_SECRET: &str = "WITH new_client AS (
         INSERT INTO clients (client_id, client_type, client_name, description, redirect_uris,
             grant_types, response_types, scope, token_endpoint_auth_method, require_user_consent,
             access_token_ttl_seconds, status, is_default, created_at, updated_at, tokens_revoked_before, search_text)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17))
     INSERT INTO audit_events (id, at, actor, action, target_type, target_id, details)
     VALUES ($18, $19, $20, $21, $22, $23, $24)";

pub(crate) async fn create_client(
    db: &Db,
    client: &Client,
    secret: Option<&SecretRecord>,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    db.group_commits
        .write(Box::new(NewClientRows::new(client, secret, audit)))
        .await?;
    db.search_index_pending.store(true, Ordering::Relaxed);
    Ok(())
}

impl GroupWrite<PgConnection> for NewClientRows {
    fn write<'a>(&'a self, conn: &'a mut PgConnection) -> WriteFuture<'a> {
        Box::pin(async move {
            let values = ClientValues::new(&self.client)?;
            let details = audit_details(&self.audit)?;
            let query = match &self.secret {
                Some(secret) => bind_secret!(
                    bind_client!(sqlx::query(CREATE_CLIENT_WITH_SECRET), values),
                    secret
                ),
                None => bind_client!(sqlx::query(CREATE_CLIENT_WITHOUT_SECRET), values),
            };
            bind_audit!(query, &self.audit, details)
                .execute(conn)
                .await
                .map_err(|e| match error(e) {
                    StoreError::Conflict(_) => StoreError::Conflict(format!(
                        "client `{}` already exists",
                        self.client.client_id
                    )),
                    other => other,
                })?;
            Ok(())
        })
    }
}

pub(crate) async fn get_client(pool: &PgPool, id: &ClientId) -> Result<Option<Client>, StoreError> {
    let row: Option<ClientRow> = sqlx::query_as(concat!(
        "SELECT ",
        client_columns!(),
        " FROM clients WHERE client_id = $1"
    ))
    .bind(id.as_str())
    .fetch_optional(pool)
    .await
    .map_err(error)?;
    row.map(ClientRow::into_client).transpose()
}

/// With a search term the query filters with `LIKE`, which the trigram index serves; the
/// two statements differ only in that line, so each gets a plan of its own.
macro_rules! list_clients_sql {
    ($search:literal) => {
        concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients WHERE ",
            $search,
            " AND ($2::TEXT IS NULL OR status = $2)
              AND ($3::TEXT IS NULL OR strpos(grant_types, $3) > 0)
              AND ($4::BIGINT IS NULL OR (created_at, client_id) < ($4, $5))
              ORDER BY created_at DESC, client_id DESC
              LIMIT $6"
        )
    };
}

pub(crate) async fn list_clients(
    pool: &PgPool,
    filter: &ClientFilter,
) -> Result<ClientPage, StoreError> {
    let pattern = filter
        .search
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|term| {
            // LIKE metacharacters in the term match literally.
            let escaped = term
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        });
    let sql = match pattern {
        Some(_) => list_clients_sql!("search_text LIKE $1"),
        None => list_clients_sql!("$1::TEXT IS NULL"),
    };
    let rows: Vec<ClientRow> = sqlx::query_as(sql)
        .bind(pattern)
        .bind(filter.status.map(|s| s.as_str()))
        .bind(filter.grant_type.map(grant_needle))
        .bind(filter.after.as_ref().map(|c| c.created_at.0))
        .bind(filter.after.as_ref().map(|c| c.client_id.as_str()))
        .bind(limit(filter.limit) + 1)
        .fetch_all(pool)
        .await
        .map_err(error)?;
    crate::page(rows, filter.limit)
}

pub(crate) async fn update_client(
    pool: &PgPool,
    client: &Client,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    let v = ClientValues::new(client)?;
    let mut tx = begin_write(pool).await?;
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
    pool: &PgPool,
    id: &ClientId,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    let mut tx = begin_write(pool).await?;
    let done = sqlx::query("DELETE FROM clients WHERE client_id = $1")
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(error)?;
    finish_audited_change(tx, done.rows_affected(), audit).await
}

pub(crate) async fn revoke_client_tokens(
    pool: &PgPool,
    id: &ClientId,
    before: Timestamp,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    let mut tx = begin_write(pool).await?;
    let done = sqlx::query("UPDATE clients SET tokens_revoked_before = $2 WHERE client_id = $1")
        .bind(id.as_str())
        .bind(before.0)
        .execute(&mut *tx)
        .await
        .map_err(error)?;
    finish_audited_change(tx, done.rows_affected(), audit).await
}

pub(crate) async fn count_clients(pool: &PgPool) -> Result<u64, StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM clients")
        .fetch_one(pool)
        .await
        .map_err(error)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

// ---- secrets ----

pub(crate) async fn list_secrets(
    pool: &PgPool,
    id: &ClientId,
) -> Result<Vec<SecretRecord>, StoreError> {
    let rows: Vec<SecretRow> = sqlx::query_as(concat!(
        "SELECT ",
        secret_columns!(),
        " FROM client_secrets WHERE client_id = $1 ORDER BY created_at, id"
    ))
    .bind(id.as_str())
    .fetch_all(pool)
    .await
    .map_err(error)?;
    rows.into_iter().map(SecretRow::into_record).collect()
}

async fn count_active_secrets(
    conn: &mut PgConnection,
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
    pool: &PgPool,
    id: &ClientId,
    new: &SecretRecord,
    old_expire_at: Timestamp,
    max_active: usize,
    now: Timestamp,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    let mut tx = begin_write(pool).await?;
    if !lock_client(&mut tx, id).await? {
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
    pool: &PgPool,
    id: &ClientId,
    secret_id: &str,
    now: Timestamp,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    let mut tx = begin_write(pool).await?;
    if !lock_client(&mut tx, id).await? {
        return Err(StoreError::NotFound);
    }
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
    pool: &PgPool,
    uses: &[(String, Timestamp)],
) -> Result<(), StoreError> {
    if uses.is_empty() {
        return Ok(());
    }
    let mut tx = begin_write(pool).await?;
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

pub(crate) async fn list_scopes(pool: &PgPool) -> Result<Vec<ScopeRecord>, StoreError> {
    let rows: Vec<ScopeRow> = sqlx::query_as(
        "SELECT name, description, is_builtin, created_at, updated_at FROM scopes ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .map_err(error)?;
    Ok(rows.into_iter().map(ScopeRecord::from).collect())
}

pub(crate) async fn get_scope(
    pool: &PgPool,
    name: &str,
) -> Result<Option<ScopeRecord>, StoreError> {
    let row: Option<ScopeRow> = sqlx::query_as(
        "SELECT name, description, is_builtin, created_at, updated_at FROM scopes WHERE name = $1",
    )
    .bind(name)
    .fetch_optional(pool)
    .await
    .map_err(error)?;
    Ok(row.map(ScopeRecord::from))
}

async fn insert_scope(conn: &mut PgConnection, scope: &ScopeRecord) -> Result<(), StoreError> {
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
    pool: &PgPool,
    scope: &ScopeRecord,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    let mut tx = begin_write(pool).await?;
    insert_scope(&mut tx, scope).await?;
    insert_audit(&mut tx, audit).await?;
    commit(tx).await
}

pub(crate) async fn update_scope_description(
    pool: &PgPool,
    name: &str,
    description: &str,
    now: Timestamp,
    audit: &AuditEntry,
) -> Result<ScopeRecord, StoreError> {
    let mut tx = begin_write(pool).await?;
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
    pool: &PgPool,
    name: &str,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    let mut tx = begin_write(pool).await?;
    // Client writes wait until this transaction ends, so no client can start using the
    // scope between the check below and the delete.
    sqlx::query("LOCK TABLE clients IN SHARE MODE")
        .execute(&mut *tx)
        .await
        .map_err(error)?;
    let builtin: Option<bool> =
        sqlx::query_scalar("SELECT is_builtin FROM scopes WHERE name = $1 FOR UPDATE")
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
        "SELECT EXISTS (SELECT 1 FROM clients WHERE strpos(' ' || scope || ' ', ' ' || $1 || ' ') > 0)",
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

pub(crate) async fn list_signing_keys(pool: &PgPool) -> Result<Vec<SigningKeyRecord>, StoreError> {
    let rows: Vec<SigningKeyRow> = sqlx::query_as(
        "SELECT kid, alg, encrypted_private_key, created_at, retired_at FROM signing_keys
         ORDER BY created_at DESC, kid DESC",
    )
    .fetch_all(pool)
    .await
    .map_err(error)?;
    Ok(rows.into_iter().map(SigningKeyRecord::from).collect())
}

const INSERT_KEY: &str =
    "INSERT INTO signing_keys (kid, alg, encrypted_private_key, created_at, retired_at)
     VALUES ($1, $2, $3, $4, $5)";

pub(crate) async fn insert_signing_key_if_none_active(
    pool: &PgPool,
    key: &SigningKeyRecord,
) -> Result<bool, StoreError> {
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
    .execute(pool)
    .await
    .map_err(error)?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn rotate_signing_key(
    pool: &PgPool,
    key: &SigningKeyRecord,
    retired_at: Timestamp,
) -> Result<(), StoreError> {
    let mut tx = begin_write(pool).await?;
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
    pool: &PgPool,
    revoked: &RevokedAccessToken,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO revoked_access_tokens (jti, client_id, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT (jti) DO NOTHING",
    )
    .bind(&revoked.jti)
    .bind(revoked.client_id.as_str())
    .bind(revoked.expires_at.0)
    .execute(pool)
    .await
    .map_err(error)?;
    Ok(())
}

pub(crate) async fn is_access_token_revoked(pool: &PgPool, jti: &str) -> Result<bool, StoreError> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM revoked_access_tokens WHERE jti = $1)")
        .bind(jti)
        .fetch_one(pool)
        .await
        .map_err(error)
}

pub(crate) async fn revoked_access_tokens_among(
    pool: &PgPool,
    jtis: &[&str],
) -> Result<Vec<String>, StoreError> {
    sqlx::query_scalar("SELECT jti FROM revoked_access_tokens WHERE jti = ANY($1)")
        .bind(jtis)
        .fetch_all(pool)
        .await
        .map_err(error)
}

pub(crate) async fn purge_expired_tokens(pool: &PgPool, now: Timestamp) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM revoked_access_tokens WHERE expires_at <= $1")
        .bind(now.0)
        .execute(pool)
        .await
        .map_err(error)?;
    Ok(done.rows_affected())
}

// ---- audit ----

pub(crate) async fn list_audit(
    pool: &PgPool,
    before: Option<&str>,
    max: u32,
) -> Result<Vec<AuditEntry>, StoreError> {
    let rows: Vec<AuditRow> = sqlx::query_as(
        "SELECT id, at, actor, action, target_type, target_id, details FROM audit_events
         WHERE ($1::TEXT IS NULL OR id < $1) ORDER BY id DESC LIMIT $2",
    )
    .bind(before)
    .bind(limit(max))
    .fetch_all(pool)
    .await
    .map_err(error)?;
    rows.into_iter().map(AuditRow::into_entry).collect()
}

pub(crate) async fn record_audit(pool: &PgPool, entry: &AuditEntry) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await.map_err(error)?;
    insert_audit(&mut conn, entry).await
}

// ---- bootstrap ----

async fn insert_user(conn: &mut PgConnection, user: &UserRecord) -> Result<(), StoreError> {
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
    pool: &PgPool,
    plan: &BootstrapPlan,
    audit: &[AuditEntry],
) -> Result<bool, StoreError> {
    let mut tx = begin_write(pool).await?;
    let marked = sqlx::query("INSERT INTO bootstrap_state (id, provisioned_at) VALUES (1, $1) ON CONFLICT (id) DO NOTHING")
        .bind(plan.admin_user.created_at.0)
        .execute(&mut *tx)
        .await
        .map_err(error)?;
    if marked.rows_affected() == 0 {
        tx.rollback().await.map_err(error)?;
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
