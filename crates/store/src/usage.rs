//! Client usage: tokens issued per client per UTC day and the last authentication,
//! added in batches (one statement per flush, never a write per token) and gone with
//! the client (`ON DELETE CASCADE`).

use std::collections::BTreeMap;

use thetasecure_core::Timestamp;
use thetasecure_core::ids::ClientId;
use thetasecure_core::usage::{DayUsage, UtcDay};

use crate::engine::for_each_engine;
use crate::{Store, StoreError, UsageIncrement, UsageRecord};

pub struct ClientUsageLog<'a> {
    pub(crate) store: &'a Store,
}

impl ClientUsageLog<'_> {
    /// Adds every increment to its (client, day) counter and moves that day's last
    /// authentication forward, in one statement however many there are. Increments of
    /// clients that no longer exist (deleted since they were noted) are dropped.
    pub async fn record(&self, increments: &[UsageIncrement]) -> Result<(), StoreError> {
        if increments.is_empty() {
            return Ok(());
        }
        let rows = json_rows(increments)?;
        dispatch!(self.store, record(&rows))
    }

    /// The client's counted days from `since` on, oldest first, and its last
    /// authentication, however long ago.
    pub async fn of_client(&self, id: &ClientId, since: UtcDay) -> Result<UsageRecord, StoreError> {
        dispatch!(self.store, of_client(id, since))
    }
}

/// The increments as one JSON array of `[client_id, day, tokens_issued,
/// last_authenticated_at]` rows, one per (client, day), sorted: PostgreSQL refuses an
/// upsert that meets the same row twice, and concurrent flushes of several instances
/// that lock rows in one order cannot deadlock.
fn json_rows(increments: &[UsageIncrement]) -> Result<String, StoreError> {
    let mut merged: BTreeMap<(&str, i64), (u64, i64)> = BTreeMap::new();
    for increment in increments {
        let key = (increment.client_id.as_str(), increment.day.0);
        let (tokens, at) = merged.entry(key).or_insert((0, i64::MIN));
        *tokens = tokens.saturating_add(increment.tokens_issued);
        *at = (*at).max(increment.last_authenticated_at.0);
    }
    let rows: Vec<(&str, i64, i64, i64)> = merged
        .into_iter()
        .map(|((client_id, day), (tokens, at))| {
            (
                client_id,
                day,
                i64::try_from(tokens).unwrap_or(i64::MAX),
                at,
            )
        })
        .collect();
    serde_json::to_string(&rows).map_err(|err| StoreError::backend_because("usage rows", err))
}

fn count(raw: i64) -> u64 {
    u64::try_from(raw).unwrap_or(0)
}

for_each_engine! {
    pub(crate) async fn record(db: &Db, rows: &str) -> Result<(), StoreError> {
        let _turn = db.turn_to_write().await?;
        // `WHERE true`: SQLite would read the ON of the upsert as the join's otherwise.
        sqlx::query(concat!(
            "INSERT INTO client_usage (client_id, day, tokens_issued, last_authenticated_at)
             SELECT clients.client_id, CAST(value ->> 1 AS BIGINT), CAST(value ->> 2 AS BIGINT),
                    CAST(value ->> 3 AS BIGINT)
               FROM ", json_rows!("$1"), " JOIN clients ON clients.client_id = value ->> 0
              WHERE true
              ORDER BY 1, 2
             ON CONFLICT (client_id, day) DO UPDATE SET
                tokens_issued = client_usage.tokens_issued + excluded.tokens_issued,
                last_authenticated_at = CASE
                    WHEN excluded.last_authenticated_at > client_usage.last_authenticated_at
                    THEN excluded.last_authenticated_at
                    ELSE client_usage.last_authenticated_at END"
        ))
        .bind(rows)
        .execute(&db.pool)
        .await
        .map_err(error)?;
        Ok(())
    }

    /// The window's rows and, when it has none, the client's latest row before it,
    /// which holds the last authentication: one indexed read.
    pub(crate) async fn of_client(db: &Db, id: &ClientId, since: UtcDay) -> Result<UsageRecord, StoreError> {
        let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
            "SELECT day, tokens_issued, last_authenticated_at FROM client_usage
              WHERE client_id = $1
                AND (day >= $2 OR day = (SELECT MAX(day) FROM client_usage WHERE client_id = $1))
              ORDER BY day",
        )
        .bind(id.as_str())
        .bind(since.0)
        .fetch_all(&db.pool)
        .await
        .map_err(error)?;
        let last_authenticated_at = rows.last().map(|&(_, _, at)| Timestamp(at));
        let days = rows
            .into_iter()
            .filter(|&(day, _, _)| day >= since.0)
            .map(|(day, tokens, _)| DayUsage { day: UtcDay(day), tokens_issued: count(tokens) })
            .collect();
        Ok(UsageRecord { days, last_authenticated_at })
    }
}
