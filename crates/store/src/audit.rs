//! The audit log: every administrative change writes its entry in the change's own
//! transaction, so the log and the data cannot disagree.

use crate::engine::for_each_engine;
use crate::rows::{AuditRow, audit_details, bind_audit, insert_audit, limit};
use crate::{AuditEntry, Store, StoreError};

/// Which events a listing keeps: those equal to every filter given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target_id: Option<String>,
}

pub struct AuditLog<'a> {
    pub(crate) store: &'a Store,
}

impl AuditLog<'_> {
    /// Newest first; `before` is the id of the last event of the previous page. Each
    /// filter given must equal the event's actor, action or target id.
    pub async fn list(
        &self,
        filter: &AuditFilter,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        dispatch!(self.store, list(filter, before, limit))
    }
    /// For events that accompany no other write (e.g. a failed sign-in).
    pub async fn record(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        dispatch!(self.store, record(entry))
    }
}

for_each_engine! {
    pub(crate) async fn insert(conn: &mut Conn, entry: &AuditEntry) -> Result<(), StoreError> {
        let details = audit_details(entry)?;
        bind_audit!(sqlx::query(insert_audit!("($1, $2, $3, $4, $5, $6, $7)")), entry, details)
            .execute(conn)
            .await
            .map_err(error)?;
        Ok(())
    }

    /// Ends a transaction whose statement changed `changed` rows of one object: none
    /// means the object is absent (and nothing is written); otherwise the audit entry
    /// joins the change and the transaction commits.
    pub(crate) async fn finish_change(
        mut tx: Tx,
        changed: u64,
        entry: &AuditEntry,
    ) -> Result<(), StoreError> {
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        insert(&mut tx, entry).await?;
        commit(tx).await
    }

    /// Ends a transaction that made its change: the audit entry joins it, and it commits.
    pub(crate) async fn finish(mut tx: Tx, entry: &AuditEntry) -> Result<(), StoreError> {
        insert(&mut tx, entry).await?;
        commit(tx).await
    }

    pub(crate) async fn list(
        db: &Db,
        filter: &AuditFilter,
        before: Option<&str>,
        max: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows: Vec<AuditRow> = sqlx::query_as(
            "SELECT id, at, actor, action, target_type, target_id, details FROM audit_events
             WHERE (CAST($1 AS TEXT) IS NULL OR id < $1)
               AND (CAST($3 AS TEXT) IS NULL OR actor = $3)
               AND (CAST($4 AS TEXT) IS NULL OR action = $4)
               AND (CAST($5 AS TEXT) IS NULL OR target_id = $5)
             ORDER BY id DESC LIMIT $2",
        )
        .bind(before)
        .bind(limit(max))
        .bind(filter.actor.as_deref())
        .bind(filter.action.as_deref())
        .bind(filter.target_id.as_deref())
        .fetch_all(&db.pool)
        .await
        .map_err(error)?;
        rows.into_iter().map(AuditRow::into_entry).collect()
    }

    pub(crate) async fn record(db: &Db, entry: &AuditEntry) -> Result<(), StoreError> {
        let _turn = db.turn_to_write().await?;
        let mut conn = db.pool.acquire().await.map_err(error)?;
        insert(&mut conn, entry).await
    }
}
