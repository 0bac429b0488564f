//! The schema's version: whether every migration of the engine is applied. Applying
//! them differs per engine (locking) and lives in `engine`.

use crate::StoreError;
use crate::engine::for_each_engine;

fn check_applied(migrator: &sqlx::migrate::Migrator, applied: &[i64]) -> Result<(), StoreError> {
    let pending = migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration() && !applied.contains(&m.version))
        .count();
    if pending == 0 {
        Ok(())
    } else {
        Err(StoreError::backend(format!(
            "{pending} migration(s) not applied"
        )))
    }
}

for_each_engine! {
    /// Readiness: the database answers and every migration is applied.
    pub(crate) async fn ready(db: &Db) -> Result<(), StoreError> {
        let applied: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&db.pool)
                .await
                .map_err(error)?;
        check_applied(&MIGRATOR, &applied)
    }
}
