//! Client secrets: hashed, with a hint, an optional expiry (rotation grace) and the time
//! of last use.

use std::collections::BTreeMap;

use thetasecure_core::Timestamp;
use thetasecure_core::ids::ClientId;

use crate::changes::Change;
use crate::engine::for_each_engine;
use crate::rows::{SecretRow, bind_secret, insert_secret, secret_columns};
use crate::{AuditEntry, SecretRecord, Store, StoreError};

pub struct Secrets<'a> {
    pub(crate) store: &'a Store,
}

impl Secrets<'_> {
    /// All of a client's secret records, revoked and expired included, oldest first.
    pub async fn list(&self, id: &ClientId) -> Result<Vec<SecretRecord>, StoreError> {
        dispatch!(self.store, list(id))
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
            rotate(id, new, old_expire_at, max_active, now, audit)
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
        dispatch!(self.store, revoke(id, secret_id, now, audit))
    }
    /// Records the use times the caller batched, in one statement however many there
    /// are (a statement per secret held the write lock for seconds at 100,000 clients);
    /// a time only moves forward.
    pub async fn record_last_used(&self, uses: &[(String, Timestamp)]) -> Result<(), StoreError> {
        if uses.is_empty() {
            return Ok(());
        }
        // One row per secret, its latest time: an UPDATE … FROM that meets a row twice
        // applies either of the two.
        let mut latest: BTreeMap<&str, i64> = BTreeMap::new();
        for (id, at) in uses {
            let time = latest.entry(id.as_str()).or_insert(at.0);
            *time = (*time).max(at.0);
        }
        let rows: Vec<(&str, i64)> = latest.into_iter().collect();
        let rows = serde_json::to_string(&rows)
            .map_err(|err| StoreError::backend_because("last-used rows", err))?;
        dispatch!(self.store, record_use(&rows))
    }
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

for_each_engine! {
    pub(crate) async fn insert(conn: &mut Conn, secret: &SecretRecord) -> Result<(), StoreError> {
        bind_secret!(
            sqlx::query(insert_secret!("($1, $2, $3, $4, $5, $6, $7, $8)")),
            secret
        )
        .execute(conn)
        .await
        .map_err(error)?;
        Ok(())
    }

    pub(crate) async fn list(db: &Db, id: &ClientId) -> Result<Vec<SecretRecord>, StoreError> {
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

    async fn count_active(conn: &mut Conn, id: &ClientId, now: Timestamp) -> Result<i64, StoreError> {
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

    /// A write transaction in which the client's secrets change one at a time (see
    /// `clients::lock`). NotFound if the client is absent.
    async fn begin_with_client_locked(db: &Db, id: &ClientId) -> Result<Tx, StoreError> {
        let mut tx = begin_write(db).await?;
        if !clients::lock(&mut tx, id).await? {
            return Err(StoreError::NotFound);
        }
        Ok(tx)
    }

    pub(crate) async fn rotate(
        db: &Db,
        id: &ClientId,
        new: &SecretRecord,
        old_expire_at: Timestamp,
        max_active: usize,
        now: Timestamp,
        entry: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = begin_with_client_locked(db, id).await?;
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
        let active = count_active(&mut tx, id, now).await? + i64::from(new.is_active(now));
        check_active_limit(active, max_active)?;
        insert(&mut tx, new).await?;
        publish(db, &mut tx, &Change::ClientChanged { client_id: id.clone() }).await?;
        audit::finish(tx, entry).await
    }

    pub(crate) async fn revoke(
        db: &Db,
        id: &ClientId,
        secret_id: &str,
        now: Timestamp,
        entry: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = begin_with_client_locked(db, id).await?;
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
        if secret.is_active(now) && count_active(&mut tx, id, now).await? <= 1 {
            return Err(last_active_secret());
        }
        sqlx::query(
            "UPDATE client_secrets SET revoked_at = COALESCE(revoked_at, $3)
             WHERE client_id = $1 AND id = $2",
        )
        .bind(id.as_str())
        .bind(secret_id)
        .bind(now.0)
        .execute(&mut *tx)
        .await
        .map_err(error)?;
        publish(db, &mut tx, &Change::ClientChanged { client_id: id.clone() }).await?;
        audit::finish(tx, entry).await
    }

    /// `rows` is a JSON array of `[secret_id, used_at]`, one per secret.
    pub(crate) async fn record_use(db: &Db, rows: &str) -> Result<(), StoreError> {
        let _turn = db.turn_to_write().await?;
        sqlx::query(concat!(
            "UPDATE client_secrets SET last_used_at = CAST(value ->> 1 AS BIGINT)
               FROM ", json_rows!("$1"), "
              WHERE client_secrets.id = value ->> 0
                AND (client_secrets.last_used_at IS NULL
                     OR client_secrets.last_used_at < CAST(value ->> 1 AS BIGINT))"
        ))
        .bind(rows)
        .execute(&db.pool)
        .await
        .map_err(error)?;
        Ok(())
    }
}
