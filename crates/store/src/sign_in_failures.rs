//! Failed sign-ins counted per key (`user:<name>`, `ip:<address>`) in fixed windows,
//! in the database so that every instance sharing it counts together. Each count is
//! one upsert, so concurrent instances never lose an increment. Written once for both
//! engines.

use thetasecure_core::Timestamp;

use crate::engine::for_each_engine;
use crate::{Store, StoreError};

pub struct SignInFailures<'a> {
    pub(crate) store: &'a Store,
}

impl SignInFailures<'_> {
    /// Counts a failure at `now` and returns the failures of the current window,
    /// this one included. A window lasts `window_ms` from its first failure; a failure
    /// after that starts a new one.
    pub async fn record(
        &self,
        key: &str,
        now: Timestamp,
        window_ms: i64,
    ) -> Result<u32, StoreError> {
        dispatch!(
            self.store,
            record(key, now, window_start_after(now, window_ms))
        )
    }
    /// The failures of the window current at `now` (0 when it has ended).
    pub async fn count(
        &self,
        key: &str,
        now: Timestamp,
        window_ms: i64,
    ) -> Result<u32, StoreError> {
        dispatch!(self.store, count(key, window_start_after(now, window_ms)))
    }
    /// Forgets the key's failures (after a successful sign-in).
    pub async fn clear(&self, key: &str) -> Result<(), StoreError> {
        dispatch!(self.store, clear(key))
    }
    /// Deletes the windows ended by `now`; returns how many.
    pub async fn purge_expired(&self, now: Timestamp, window_ms: i64) -> Result<u64, StoreError> {
        dispatch!(
            self.store,
            purge_expired(window_start_after(now, window_ms))
        )
    }
}

/// A window is current at `now` when it started after `now - window_ms`.
fn window_start_after(now: Timestamp, window_ms: i64) -> i64 {
    now.0.saturating_sub(window_ms)
}

fn failures(stored: i64) -> u32 {
    u32::try_from(stored).unwrap_or(u32::MAX)
}

for_each_engine! {
    pub(crate) async fn record(db: &Db, key: &str, now: Timestamp, ended_before: i64) -> Result<u32, StoreError> {
        let _turn = db.turn_to_write().await?;
        // SET reads the row as it was, on both engines: both CASEs see the old window.
        let stored: i64 = sqlx::query_scalar(
            "INSERT INTO sign_in_failures (key, window_start, failures) VALUES ($1, $2, 1)
             ON CONFLICT (key) DO UPDATE SET
                 failures = CASE WHEN sign_in_failures.window_start <= $3 THEN 1
                                 ELSE sign_in_failures.failures + 1 END,
                 window_start = CASE WHEN sign_in_failures.window_start <= $3 THEN $2
                                     ELSE sign_in_failures.window_start END
             RETURNING failures",
        )
        .bind(key)
        .bind(now.0)
        .bind(ended_before)
        .fetch_one(&db.pool)
        .await
        .map_err(error)?;
        Ok(failures(stored))
    }

    pub(crate) async fn count(db: &Db, key: &str, ended_before: i64) -> Result<u32, StoreError> {
        let stored: Option<i64> = sqlx::query_scalar(
            "SELECT failures FROM sign_in_failures WHERE key = $1 AND window_start > $2",
        )
        .bind(key)
        .bind(ended_before)
        .fetch_optional(&db.pool)
        .await
        .map_err(error)?;
        Ok(stored.map_or(0, failures))
    }

    pub(crate) async fn clear(db: &Db, key: &str) -> Result<(), StoreError> {
        let _turn = db.turn_to_write().await?;
        sqlx::query("DELETE FROM sign_in_failures WHERE key = $1")
            .bind(key)
            .execute(&db.pool)
            .await
            .map_err(error)?;
        Ok(())
    }

    pub(crate) async fn purge_expired(db: &Db, ended_before: i64) -> Result<u64, StoreError> {
        expiry::purge(db, "DELETE FROM sign_in_failures WHERE window_start <= $1", ended_before).await
    }
}
