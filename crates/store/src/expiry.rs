//! Purging what has expired, the same for every aggregate: one delete statement bound
//! to a time, run as one write.

use crate::StoreError;
use crate::engine::for_each_engine;

for_each_engine! {
    /// Runs `delete`, whose one parameter `$1` is `before` (unix ms); returns how many
    /// rows it removed.
    pub(crate) async fn purge(db: &Db, delete: &'static str, before: i64) -> Result<u64, StoreError> {
        let _turn = db.turn_to_write().await?;
        let done = sqlx::query(delete)
            .bind(before)
            .execute(&db.pool)
            .await
            .map_err(error)?;
        Ok(done.rows_affected())
    }
}
