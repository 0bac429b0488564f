//! ThetaSecure's persistence: one `Store` over SQLite (embedded default) or PostgreSQL
//! (scale-out). One module per aggregate; in each, the SQL both engines accept is
//! written once and compiled for each (`engine::for_each_engine!`), and what differs
//! sits beside it (`clients::sqlite_only`, …). Callers never see sqlx types.
//!
//! Every mutation that an administrator makes takes the `AuditEntry` describing it and
//! writes it in the same transaction, so the audit log and the data cannot disagree.

/// Runs the same-named function of the calling aggregate's engine module:
/// `dispatch!(self.store, f(args))` calls `sqlite::f(db, args)` or `postgres::f(db, args)`;
/// `dispatch!(self.store, sqlite_only | postgres_only :: f(args))` names the modules.
/// On PostgreSQL, within [`ANSWER_WITHIN`].
///
/// Each engine's future is boxed: sqlx's are large (a refresh-token read was 17.6 KB,
/// both engines' states side by side), and every caller's future held one inline, so
/// introspection copied 17.7 KB of future several times per request even when it never
/// read the store (#12: 28,650 → 86,000 instructions a request, two thirds of them
/// `memcpy`). One allocation per store call is nothing beside the call.
macro_rules! dispatch {
    ($store:expr, $f:ident($($arg:expr),* $(,)?)) => {
        dispatch!($store, sqlite | postgres :: $f($($arg),*))
    };
    ($store:expr, $sqlite:ident | $postgres:ident :: $f:ident($($arg:expr),* $(,)?)) => {
        match &$store.backend {
            $crate::Backend::Sqlite(db) => Box::pin($sqlite::$f(db, $($arg),*)).await,
            $crate::Backend::Postgres(db) => {
                Box::pin($crate::answer_within($crate::ANSWER_WITHIN, $postgres::$f(db, $($arg),*))).await
            }
        }
    };
}

mod audit;
mod authorization_codes;
mod bootstrap;
pub mod changes;
mod client_changes;
mod clients;
mod consents;
mod engine;
mod error;
mod expiry;
mod group_commit;
mod records;
mod refresh_tokens;
mod rows;
mod schema;
mod scopes;
mod secrets;
mod sessions;
mod sign_in_failures;
mod signing_keys;
#[cfg(feature = "testing")]
pub mod testing;
mod tokens;
mod usage;
mod users;

pub use audit::{AuditFilter, AuditLog};
pub use authorization_codes::AuthorizationCodes;
pub use bootstrap::Bootstrap;
pub use changes::listener::FeedEvent;
pub use changes::{Change, ChangeFeed};
pub use client_changes::{
    ClientChangeReader, ClientChangeRecord, ClientChanges, ClientChangesRead,
};
pub use clients::Clients;
pub use consents::Consents;
pub use error::StoreError;
pub use records::*;
pub use refresh_tokens::RefreshTokens;
pub use scopes::Scopes;
pub use secrets::Secrets;
pub use sessions::Sessions;
pub use sign_in_failures::SignInFailures;
pub use signing_keys::SigningKeys;
pub use tokens::Tokens;
pub use usage::ClientUsageLog;
pub use users::Users;

/// The pools ThetaSecure opens, for tools that must open a database exactly as the
/// server does (the benchmark's durable-insert yardstick and its seeding).
pub mod pools {
    pub use crate::engine::postgres::pool_options as postgres;
    pub use crate::engine::sqlite::pool_options as sqlite;
}

use engine::{postgres, sqlite};

use std::fmt;

/// Which engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
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
            Err(StoreError::unavailable(format!(
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
            return Err(StoreError::backend(
                "unsupported database URL: expected sqlite://<path> or postgres://…",
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
            Backend::Sqlite(db) => schema::sqlite::ready(db).await,
            Backend::Postgres(db) => answer_within(READY_WITHIN, schema::postgres::ready(db)).await,
        }
    }

    pub fn engine(&self) -> Engine {
        match self.backend {
            Backend::Sqlite(_) => Engine::Sqlite,
            Backend::Postgres(_) => Engine::Postgres,
        }
    }

    /// The changes every instance on this database makes, as they commit; `None` on
    /// SQLite, which one process serves (`changes`).
    pub fn subscribe_to_changes(&self) -> Option<ChangeFeed> {
        match &self.backend {
            Backend::Sqlite(_) => None,
            Backend::Postgres(db) => {
                Some(changes::listener::start(&db.options, db.channel.clone()))
            }
        }
    }

    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite(db) => db.close().await,
            Backend::Postgres(db) => db.close().await,
        }
    }

    pub fn clients(&self) -> Clients<'_> {
        Clients { store: self }
    }
    /// The log of client changes that keeps every instance's client cache current.
    pub fn client_changes(&self) -> ClientChanges<'_> {
        ClientChanges { store: self }
    }
    pub fn secrets(&self) -> Secrets<'_> {
        Secrets { store: self }
    }
    pub fn scopes(&self) -> Scopes<'_> {
        Scopes { store: self }
    }
    pub fn users(&self) -> Users<'_> {
        Users { store: self }
    }
    pub fn signing_keys(&self) -> SigningKeys<'_> {
        SigningKeys { store: self }
    }
    pub fn tokens(&self) -> Tokens<'_> {
        Tokens { store: self }
    }
    pub fn sessions(&self) -> Sessions<'_> {
        Sessions { store: self }
    }
    pub fn authorization_codes(&self) -> AuthorizationCodes<'_> {
        AuthorizationCodes { store: self }
    }
    pub fn refresh_tokens(&self) -> RefreshTokens<'_> {
        RefreshTokens { store: self }
    }
    pub fn consents(&self) -> Consents<'_> {
        Consents { store: self }
    }
    pub fn sign_in_failures(&self) -> SignInFailures<'_> {
        SignInFailures { store: self }
    }
    pub fn client_usage(&self) -> ClientUsageLog<'_> {
        ClientUsageLog { store: self }
    }
    pub fn audit(&self) -> AuditLog<'_> {
        AuditLog { store: self }
    }
    pub fn bootstrap(&self) -> Bootstrap<'_> {
        Bootstrap { store: self }
    }
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("engine", &self.engine())
            .finish_non_exhaustive()
    }
}
