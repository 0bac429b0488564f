//! ThetaSecure's persistence: one `Store` over SQLite (embedded default) or PostgreSQL
//! (scale-out). Each engine has its own SQL and migrations; callers never see sqlx types.
//!
//! Every mutation that an administrator makes takes the `AuditEntry` describing it and
//! writes it in the same transaction, so the audit log and the data cannot disagree.

mod error;
mod group_commit;
mod postgres;
mod records;
mod rows;
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::StoreError;
pub use records::*;

/// The pools ThetaSecure opens, for tools that must open a database exactly as the
/// server does (the benchmark's durable-insert yardstick and its seeding).
pub mod pools {
    pub use crate::postgres::pool_options as postgres;
    pub use crate::sqlite::pool_options as sqlite;
}

use std::fmt;

use thetasecure_core::Timestamp;
use thetasecure_core::client::Client;
use thetasecure_core::ids::ClientId;

/// Which engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Runs the same-named function of the engine's module: `dispatch!(self.store, f(args))`.
/// On PostgreSQL, within [`ANSWER_WITHIN`].
macro_rules! dispatch {
    ($store:expr, $f:ident($($arg:expr),* $(,)?)) => {
        match &$store.backend {
            Backend::Sqlite(pool) => sqlite::$f(pool, $($arg),*).await,
            Backend::Postgres(pool) => {
                answer_within(ANSWER_WITHIN, postgres::$f(pool, $($arg),*)).await
            }
        }
    };
}

/// How long a PostgreSQL operation may take before it is given up as `Unavailable`.
/// While the database is unreachable, a stopped server refuses connections (which the
/// pool retries until its acquire timeout) and a broken network leaves queries waiting
/// on a socket that never answers (for minutes, until TCP gives up): either way a
/// request must still get its 503 well within 5 seconds. An operation given up here
/// is rolled back with its transaction, unless it had already committed.
pub(crate) const ANSWER_WITHIN: std::time::Duration = std::time::Duration::from_secs(4);

/// Readiness probes are answered sooner: a load balancer needs to know within a second.
pub(crate) const READY_WITHIN: std::time::Duration = std::time::Duration::from_millis(800);

async fn answer_within<T>(
    limit: std::time::Duration,
    operation: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    tokio::time::timeout(limit, operation)
        .await
        .unwrap_or_else(|_| {
            Err(StoreError::Unavailable(format!(
                "the database did not answer within {} ms",
                limit.as_millis()
            )))
        })
}

/// Cheap to clone: it holds a connection pool.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Sqlite(sqlite::Db),
    Postgres(postgres::Db),
}

impl Store {
    /// Opens `sqlite://path/to/file.db` (created if missing; WAL, `synchronous=FULL`,
    /// foreign keys, 5 s busy timeout) or `postgres://…`. Does not migrate.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let backend = if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            Backend::Sqlite(sqlite::connect(path).await?)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres(postgres::connect(url).await?)
        } else {
            return Err(StoreError::Backend(
                "unsupported database URL: expected sqlite://<path> or postgres://…".into(),
            ));
        };
        Ok(Store { backend })
    }

    /// Applies pending migrations. Safe when several instances start together on one
    /// empty PostgreSQL database: they migrate once (advisory lock).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        // No deadline: migrating a large database may legitimately take minutes.
        match &self.backend {
            Backend::Sqlite(db) => sqlite::migrate(db).await,
            Backend::Postgres(db) => postgres::migrate(db).await,
        }
    }

    /// Readiness: the database answers and every migration is applied; on PostgreSQL,
    /// answered within [`READY_WITHIN`].
    pub async fn ready(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => sqlite::ready(db).await,
            Backend::Postgres(db) => answer_within(READY_WITHIN, postgres::ready(db)).await,
        }
    }

    pub fn engine(&self) -> Engine {
        match self.backend {
            Backend::Sqlite(_) => Engine::Sqlite,
            Backend::Postgres(_) => Engine::Postgres,
        }
    }

    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite(db) => db.close().await,
            Backend::Postgres(pool) => pool.close().await,
        }
    }

    pub fn clients(&self) -> Clients<'_> {
        Clients { store: self }
    }
    pub fn secrets(&self) -> Secrets<'_> {
        Secrets { store: self }
    }
    pub fn scopes(&self) -> Scopes<'_> {
        Scopes { store: self }
    }
    pub fn signing_keys(&self) -> SigningKeys<'_> {
        SigningKeys { store: self }
    }
    pub fn tokens(&self) -> Tokens<'_> {
        Tokens { store: self }
    }
    pub fn audit(&self) -> AuditLog<'_> {
        AuditLog { store: self }
    }
    pub fn bootstrap(&self) -> Bootstrap<'_> {
        Bootstrap { store: self }
    }
}

pub struct Clients<'a> {
    store: &'a Store,
}
impl Clients<'_> {
    /// Inserts a client with its first secret (confidential clients). Conflict if the id exists.
    pub async fn create(
        &self,
        client: &Client,
        secret: Option<&SecretRecord>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        dispatch!(self.store, create_client(client, secret, audit))
    }
    pub async fn get(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        dispatch!(self.store, get_client(id))
    }
    /// Newest first (created_at desc, client_id desc); `search` is a case-insensitive
    /// substring of client name or client id (Unicode lowercase, computed in Rust and
    /// stored in a search column); `limit` rows at most, `next` set when more follow.
    pub async fn list(&self, filter: &ClientFilter) -> Result<ClientPage, StoreError> {
        dispatch!(self.store, list_clients(filter))
    }
    /// Replaces every mutable field and `updated_at`, and moves `tokens_revoked_before`
    /// forward when the given one is later (never back: a concurrent revoke-tokens wins).
    /// NotFound if absent.
    pub async fn update(&self, client: &Client, audit: &AuditEntry) -> Result<(), StoreError> {
        dispatch!(self.store, update_client(client, audit))
    }
    /// Deletes the client and (cascade) its secrets. NotFound if absent.
    pub async fn delete(&self, id: &ClientId, audit: &AuditEntry) -> Result<(), StoreError> {
        dispatch!(self.store, delete_client(id, audit))
    }
    /// Sets `tokens_revoked_before`. NotFound if absent.
    pub async fn revoke_tokens(
        &self,
        id: &ClientId,
        before: Timestamp,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        dispatch!(self.store, revoke_client_tokens(id, before, audit))
    }
    pub async fn count(&self) -> Result<u64, StoreError> {
        dispatch!(self.store, count_clients())
    }
}

pub struct Secrets<'a> {
    store: &'a Store,
}
impl Secrets<'_> {
    /// All of a client's secret records, revoked and expired included, oldest first.
    pub async fn list(&self, id: &ClientId) -> Result<Vec<SecretRecord>, StoreError> {
        dispatch!(self.store, list_secrets(id))
    }
    /// Atomically: every secret active at `now` gets `expires_at = min(expires_at, old_expire_at)`,
    /// then `new` is inserted. Conflict if the client would hold more than `max_active`
    /// active secrets afterwards; NotFound if the client is absent.
    pub async fn rotate(
        &self,
        id: &ClientId,
        new: &SecretRecord,
        old_expire_at: Timestamp,
        max_active: usize,
        now: Timestamp,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        dispatch!(
            self.store,
            rotate_secret(id, new, old_expire_at, max_active, now, audit)
        )
    }
    /// Sets `revoked_at = now`. NotFound if no such secret for this client; Conflict if
    /// it is the client's last active secret.
    pub async fn revoke(
        &self,
        id: &ClientId,
        secret_id: &str,
        now: Timestamp,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        dispatch!(self.store, revoke_secret(id, secret_id, now, audit))
    }
    /// Records use times in one statement per row, batched by the caller; only moves forward.
    pub async fn record_last_used(&self, uses: &[(String, Timestamp)]) -> Result<(), StoreError> {
        dispatch!(self.store, record_secret_use(uses))
    }
}

pub struct Scopes<'a> {
    store: &'a Store,
}
impl Scopes<'_> {
    /// Ordered by name.
    pub async fn list(&self) -> Result<Vec<ScopeRecord>, StoreError> {
        dispatch!(self.store, list_scopes())
    }
    pub async fn get(&self, name: &str) -> Result<Option<ScopeRecord>, StoreError> {
        dispatch!(self.store, get_scope(name))
    }
    /// Conflict if the name exists.
    pub async fn create(&self, scope: &ScopeRecord, audit: &AuditEntry) -> Result<(), StoreError> {
        dispatch!(self.store, create_scope(scope, audit))
    }
    pub async fn update_description(
        &self,
        name: &str,
        description: &str,
        now: Timestamp,
        audit: &AuditEntry,
    ) -> Result<ScopeRecord, StoreError> {
        dispatch!(
            self.store,
            update_scope_description(name, description, now, audit)
        )
    }
    /// NotFound if absent; Conflict if built in or any client's scope contains it
    /// (checked in the deleting transaction).
    pub async fn delete(&self, name: &str, audit: &AuditEntry) -> Result<(), StoreError> {
        dispatch!(self.store, delete_scope(name, audit))
    }
}

pub struct SigningKeys<'a> {
    store: &'a Store,
}
impl SigningKeys<'_> {
    /// Every key, newest first.
    pub async fn list(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        dispatch!(self.store, list_signing_keys())
    }
    /// Inserts `key` unless an unretired key for its `alg` exists (a unique partial
    /// index decides races between instances). Returns whether it was inserted.
    pub async fn insert_if_none_active(&self, key: &SigningKeyRecord) -> Result<bool, StoreError> {
        dispatch!(self.store, insert_signing_key_if_none_active(key))
    }
    /// Retires every unretired key of `alg` and inserts `key`, in one transaction.
    pub async fn rotate(
        &self,
        key: &SigningKeyRecord,
        retired_at: Timestamp,
    ) -> Result<(), StoreError> {
        dispatch!(self.store, rotate_signing_key(key, retired_at))
    }
}

pub struct Tokens<'a> {
    store: &'a Store,
}
impl Tokens<'_> {
    /// Idempotent.
    pub async fn revoke_access_token(
        &self,
        revoked: &RevokedAccessToken,
    ) -> Result<(), StoreError> {
        dispatch!(self.store, revoke_access_token(revoked))
    }
    pub async fn is_access_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        dispatch!(self.store, is_access_token_revoked(jti))
    }
    /// Which of `jtis` are revoked, in one read: the re-checks of many cached tokens
    /// share a query instead of a round trip each.
    pub async fn revoked_among(&self, jtis: &[&str]) -> Result<Vec<String>, StoreError> {
        if jtis.is_empty() {
            return Ok(Vec::new());
        }
        dispatch!(self.store, revoked_access_tokens_among(jtis))
    }
    /// Deletes revocation records of tokens that have expired anyway; returns how many.
    pub async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        dispatch!(self.store, purge_expired_tokens(now))
    }
}

pub struct AuditLog<'a> {
    store: &'a Store,
}
impl AuditLog<'_> {
    /// Newest first; `before` is the id of the last event of the previous page.
    pub async fn list(
        &self,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        dispatch!(self.store, list_audit(before, limit))
    }
    /// For events that accompany no other write (e.g. a failed sign-in).
    pub async fn record(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        dispatch!(self.store, record_audit(entry))
    }
}

pub struct Bootstrap<'a> {
    store: &'a Store,
}
impl Bootstrap<'_> {
    /// Provisions an empty store in one transaction: scopes, clients with their secrets,
    /// the admin user, and the audit entries. Returns false (and writes nothing) when the
    /// store was already provisioned, also when two instances race.
    pub async fn provision(
        &self,
        plan: &BootstrapPlan,
        audit: &[AuditEntry],
    ) -> Result<bool, StoreError> {
        dispatch!(self.store, provision(plan, audit))
    }
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("engine", &self.engine())
            .finish_non_exhaustive()
    }
}

// ---- rules shared by both engines ----

fn check_migrations(migrator: &sqlx::migrate::Migrator, applied: &[i64]) -> Result<(), StoreError> {
    let pending = migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration() && !applied.contains(&m.version))
        .count();
    if pending == 0 {
        Ok(())
    } else {
        Err(StoreError::Backend(format!(
            "{pending} migration(s) not applied"
        )))
    }
}

/// `rows` holds up to `limit + 1` rows; the extra one only tells that more follow.
fn page(rows: Vec<rows::ClientRow>, limit: u32) -> Result<ClientPage, StoreError> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = rows.len() > limit;
    let items = rows
        .into_iter()
        .take(limit)
        .map(rows::ClientRow::into_client)
        .collect::<Result<Vec<_>, _>>()?;
    let next = if more {
        items.last().map(|client| ClientCursor {
            created_at: client.created_at,
            client_id: client.client_id.clone(),
        })
    } else {
        None
    };
    Ok(ClientPage { items, next })
}

fn check_active_limit(active: i64, max_active: usize) -> Result<(), StoreError> {
    if usize::try_from(active).unwrap_or(usize::MAX) > max_active {
        Err(StoreError::Conflict(format!(
            "a client may hold at most {max_active} active secrets"
        )))
    } else {
        Ok(())
    }
}

fn last_active_secret() -> StoreError {
    StoreError::Conflict(
        "the client's last active secret cannot be revoked; rotate it instead".into(),
    )
}

fn builtin_scope(name: &str) -> StoreError {
    StoreError::Conflict(format!("scope `{name}` is built in"))
}

fn scope_in_use(name: &str) -> StoreError {
    StoreError::Conflict(format!("scope `{name}` is used by at least one client"))
}
