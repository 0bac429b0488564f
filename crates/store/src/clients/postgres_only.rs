//! PostgreSQL's client create (one statement inserting the client, its secret and the
//! audit entry, queued for a group commit) and search (`LIKE` over a trigram GIN index,
//! whose pending list is merged from here).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgConnection;

use crate::engine::postgres::{Db, error};
use crate::group_commit::{GroupWrite, WriteFuture};
use crate::rows::{
    ClientRow, ClientValues, NewClientRows, audit_details, bind_audit, bind_client, bind_secret,
    client_columns, grant_needle, insert_audit, insert_client, insert_secret, limit,
};
use crate::{ClientFilter, ClientPage, StoreError};

/// The client, its first secret and the audit entry in one statement: atomic and durable
/// like a transaction, in one round trip instead of five (BEGIN, three INSERTs, COMMIT).
/// A duplicate id fails the whole statement (unique violation → Conflict); the secret's
/// foreign key is checked at the end of the statement, after the client row exists.
const CREATE_WITH_SECRET: &str = concat!(
    "WITH new_client AS (",
    insert_client!(
        "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
    ),
    "), new_secret AS (",
    insert_secret!("($19, $20, $21, $22, $23, $24, $25, $26)"),
    ") ",
    insert_audit!("($27, $28, $29, $30, $31, $32, $33)")
);

const CREATE_WITHOUT_SECRET: &str = concat!(
    "WITH new_client AS (",
    insert_client!(
        "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
    ),
    ") ",
    insert_audit!("($19, $20, $21, $22, $23, $24, $25)")
);

impl GroupWrite<PgConnection> for NewClientRows {
    fn write<'a>(&'a self, conn: &'a mut PgConnection) -> WriteFuture<'a> {
        Box::pin(async move {
            let values = ClientValues::new(&self.client)?;
            let details = audit_details(&self.audit)?;
            let query = match &self.secret {
                Some(secret) => bind_secret!(
                    bind_client!(sqlx::query(CREATE_WITH_SECRET), values),
                    secret
                ),
                None => bind_client!(sqlx::query(CREATE_WITHOUT_SECRET), values),
            };
            bind_audit!(query, &self.audit, details)
                .execute(conn)
                .await
                .map_err(|e| match error(e) {
                    StoreError::Conflict(_) => super::already_exists(&self.client.client_id),
                    other => other,
                })?;
            Ok(1)
        })
    }
}

/// With a search term the query filters with `LIKE`, which the trigram index serves; the
/// two statements differ only in that line, so each gets a plan of its own.
macro_rules! list_sql {
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

pub(crate) async fn list(db: &Db, filter: &ClientFilter) -> Result<ClientPage, StoreError> {
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
        Some(_) => list_sql!("search_text LIKE $1"),
        None => list_sql!("$1::TEXT IS NULL"),
    };
    let rows: Vec<ClientRow> = sqlx::query_as(sql)
        .bind(pattern)
        .bind(filter.status.map(|s| s.as_str()))
        .bind(filter.grant_type.map(grant_needle))
        .bind(filter.after.as_ref().map(|c| c.created_at.0))
        .bind(filter.after.as_ref().map(|c| c.client_id.as_str()))
        .bind(limit(filter.limit) + 1)
        .fetch_all(&db.pool)
        .await
        .map_err(error)?;
    super::page(rows, filter.limit)
}

/// GIN's pending list (`fastupdate`) keeps a new client's trigrams cheap to index, but
/// the insert that finds the list over `gin_pending_list_limit` (4 MB) merges all of it
/// into the index itself: 1.3-1.5 s for that create and, under group commit, for every
/// create of its group. Merging the list from here four times a second after creates
/// keeps it far under the limit (a create adds about 700 bytes), so no create pays for
/// it; once a second did not, at the highest create rates (docs/performance.md).
const CLEANUP_EVERY: Duration = Duration::from_millis(250);

/// Whether clients were created since the search index's pending list was last merged.
#[derive(Clone)]
pub(crate) struct SearchIndex {
    pending: Arc<AtomicBool>,
}

impl SearchIndex {
    /// Starts the merging task; it runs until the pool is closed.
    pub(crate) fn start(pool: PgPool) -> Self {
        let pending = Arc::new(AtomicBool::new(false));
        tokio::spawn(clean(pool, pending.clone()));
        SearchIndex { pending }
    }

    pub(crate) fn changed(&self) {
        self.pending.store(true, Ordering::Relaxed);
    }
}

async fn clean(pool: PgPool, pending: Arc<AtomicBool>) {
    let mut tick = tokio::time::interval(CLEANUP_EVERY);
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
