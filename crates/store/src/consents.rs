//! Consents: the scopes a user has allowed a client, remembered until revoked or
//! until the client asks for more. Written once for both engines.

use thetasecure_core::Timestamp;
use thetasecure_core::ids::ClientId;

use crate::engine::{for_each_engine, or_missing};
use crate::rows::client_id;
use crate::{AuditEntry, ConsentRecord, Store, StoreError};

pub struct Consents<'a> {
    pub(crate) store: &'a Store,
}

impl Consents<'_> {
    /// Stores the consent, replacing the scope and time of an earlier one (the caller
    /// passes the union of old and new scopes). NotFound if the user or client does
    /// not exist.
    pub async fn grant(&self, consent: &ConsentRecord) -> Result<(), StoreError> {
        dispatch!(self.store, grant(consent))
    }
    pub async fn get(
        &self,
        user_id: &str,
        client_id: &ClientId,
    ) -> Result<Option<ConsentRecord>, StoreError> {
        dispatch!(self.store, get(user_id, client_id))
    }
    /// Newest first.
    pub async fn list_for_user(&self, user_id: &str) -> Result<Vec<ConsentRecord>, StoreError> {
        dispatch!(self.store, list_for_user(user_id))
    }
    /// NotFound if there is none.
    pub async fn revoke(
        &self,
        user_id: &str,
        client_id: &ClientId,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        dispatch!(self.store, revoke(user_id, client_id, audit))
    }
}

#[derive(sqlx::FromRow)]
struct ConsentRow {
    user_id: String,
    client_id: String,
    scope: String,
    granted_at: i64,
}

impl ConsentRow {
    fn into_record(self) -> Result<ConsentRecord, StoreError> {
        Ok(ConsentRecord {
            user_id: self.user_id,
            client_id: client_id(&self.client_id)?,
            scope: self.scope,
            granted_at: Timestamp(self.granted_at),
        })
    }
}

for_each_engine! {
    pub(crate) async fn grant(db: &Db, consent: &ConsentRecord) -> Result<(), StoreError> {
        let _turn = db.turn_to_write().await?;
        sqlx::query(
            "INSERT INTO consents (user_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id, client_id)
             DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at",
        )
        .bind(&consent.user_id)
        .bind(consent.client_id.as_str())
        .bind(&consent.scope)
        .bind(consent.granted_at.0)
        .execute(&db.pool)
        .await
        .map_err(|e| or_missing(e, error))?;
        Ok(())
    }

    pub(crate) async fn get(
        db: &Db,
        user_id: &str,
        client: &ClientId,
    ) -> Result<Option<ConsentRecord>, StoreError> {
        let row: Option<ConsentRow> = sqlx::query_as(
            "SELECT user_id, client_id, scope, granted_at FROM consents
             WHERE user_id = $1 AND client_id = $2",
        )
        .bind(user_id)
        .bind(client.as_str())
        .fetch_optional(&db.pool)
        .await
        .map_err(error)?;
        row.map(ConsentRow::into_record).transpose()
    }

    pub(crate) async fn list_for_user(db: &Db, user_id: &str) -> Result<Vec<ConsentRecord>, StoreError> {
        let rows: Vec<ConsentRow> = sqlx::query_as(
            "SELECT user_id, client_id, scope, granted_at FROM consents
             WHERE user_id = $1 ORDER BY granted_at DESC, client_id",
        )
        .bind(user_id)
        .fetch_all(&db.pool)
        .await
        .map_err(error)?;
        rows.into_iter().map(ConsentRow::into_record).collect()
    }

    pub(crate) async fn revoke(
        db: &Db,
        user_id: &str,
        client: &ClientId,
        entry: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = begin_write(db).await?;
        let done = sqlx::query("DELETE FROM consents WHERE user_id = $1 AND client_id = $2")
            .bind(user_id)
            .bind(client.as_str())
            .execute(&mut *tx)
            .await
            .map_err(error)?;
        audit::finish_change(tx, done.rows_affected(), entry).await
    }
}
