//! Token signing keys, encrypted at rest; one unretired key per algorithm.

use thetasecure_core::Timestamp;

use crate::engine::for_each_engine;
use crate::rows::SigningKeyRow;
use crate::{SigningKeyRecord, Store, StoreError};

pub struct SigningKeys<'a> {
    pub(crate) store: &'a Store,
}

impl SigningKeys<'_> {
    /// Every key, newest first.
    pub async fn list(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        dispatch!(self.store, list())
    }
    /// Inserts `key` unless an unretired key for its `alg` exists (a unique partial
    /// index decides races between instances). Returns whether it was inserted.
    pub async fn insert_if_none_active(&self, key: &SigningKeyRecord) -> Result<bool, StoreError> {
        dispatch!(self.store, insert_if_none_active(key))
    }
    /// Retires every unretired key of `alg` and inserts `key`, in one transaction.
    pub async fn rotate(
        &self,
        key: &SigningKeyRecord,
        retired_at: Timestamp,
    ) -> Result<(), StoreError> {
        dispatch!(self.store, rotate(key, retired_at))
    }
}

macro_rules! insert_key_sql {
    ($on_conflict:literal) => {
        concat!(
            "INSERT INTO signing_keys (kid, alg, encrypted_private_key, created_at, retired_at)
             VALUES ($1, $2, $3, $4, $5)",
            $on_conflict
        )
    };
}

macro_rules! bind_key {
    ($query:expr, $key:expr) => {
        $query
            .bind(&$key.kid)
            .bind(&$key.alg)
            .bind(&$key.encrypted_private_key)
            .bind($key.created_at.0)
            .bind($key.retired_at.map(|t| t.0))
    };
}

for_each_engine! {
    pub(crate) async fn list(db: &Db) -> Result<Vec<SigningKeyRecord>, StoreError> {
        let rows: Vec<SigningKeyRow> = sqlx::query_as(
            "SELECT kid, alg, encrypted_private_key, created_at, retired_at FROM signing_keys
             ORDER BY created_at DESC, kid DESC",
        )
        .fetch_all(&db.pool)
        .await
        .map_err(error)?;
        Ok(rows.into_iter().map(SigningKeyRecord::from).collect())
    }

    pub(crate) async fn insert_if_none_active(
        db: &Db,
        key: &SigningKeyRecord,
    ) -> Result<bool, StoreError> {
        let _turn = db.turn_to_write().await?;
        let query = sqlx::query(insert_key_sql!(
            " ON CONFLICT (alg) WHERE retired_at IS NULL DO NOTHING"
        ));
        let done = bind_key!(query, key)
            .execute(&db.pool)
            .await
            .map_err(error)?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn rotate(
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
        bind_key!(sqlx::query(insert_key_sql!("")), key)
            .execute(&mut *tx)
            .await
            .map_err(error)?;
        commit(tx).await
    }
}
