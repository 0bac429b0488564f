//! SQLite's client create (queued for a group commit: insert statements within the
//! group's transaction) and search (an FTS5 trigram index, `client_search`).

use sqlx::sqlite::SqliteConnection;

use crate::engine::sqlite::{Db, audit, error, secrets};
use crate::group_commit::{GroupWrite, WriteFuture};
use crate::rows::{ClientRow, NewClientRows, client_columns, grant_needle, limit};
use crate::{ClientFilter, ClientPage, StoreError};

impl GroupWrite<SqliteConnection> for NewClientRows {
    fn write<'a>(&'a self, conn: &'a mut SqliteConnection) -> WriteFuture<'a> {
        Box::pin(async move {
            super::sqlite::insert(conn, &self.client).await?;
            if let Some(secret) = &self.secret {
                secrets::insert(conn, secret).await?;
            }
            audit::insert(conn, &self.audit).await?;
            Ok(1)
        })
    }
}

/// `list` with one search condition; the other filters, the keyset cursor and the
/// order are the same in every variant.
macro_rules! list_sql {
    ($search:literal) => {
        concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients WHERE ",
            $search,
            " AND ($2 IS NULL OR status = $2)
              AND ($3 IS NULL OR instr(grant_types, $3) > 0)
              AND ($4 IS NULL OR created_at < $4 OR (created_at = $4 AND client_id < $5))
              ORDER BY created_at DESC, client_id DESC
              LIMIT $6"
        )
    };
}

/// An FTS5 query for the clients whose search text holds every trigram of `term`:
/// `"abc" AND "bcd" AND …`. The index stores no positions (`detail=none`: they cost
/// space and create time, docs/performance.md), so it cannot match
/// the trigrams as one phrase. Inside quotes only `"` is special; doubling escapes it.
fn trigram_query(term: &str) -> String {
    let chars: Vec<char> = term.chars().collect();
    let mut trigrams: Vec<String> = chars
        .windows(TRIGRAM_LEN)
        .map(|window| window.iter().collect())
        .collect();
    trigrams.sort_unstable();
    trigrams.dedup();
    trigrams
        .iter()
        .map(|trigram| format!("\"{}\"", trigram.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// Trigrams cannot find a shorter term.
const TRIGRAM_LEN: usize = 3;

/// A term matching more clients than this is searched by walking the newest-first index,
/// which fills a page after a few thousand rows at most when matches are this common;
/// fetching and sorting every match would cost more.
const INDEXED_MATCHES_MAX: i64 = 2_000;

pub(crate) async fn list(db: &Db, filter: &ClientFilter) -> Result<ClientPage, StoreError> {
    let search = filter
        .search
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(str::to_lowercase);
    let query = match &search {
        Some(term) if term.chars().count() >= TRIGRAM_LEN => {
            let query = trigram_query(term);
            let matches: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM
                   (SELECT 1 FROM client_search WHERE client_search MATCH $1 LIMIT $2)",
            )
            .bind(&query)
            .bind(INDEXED_MATCHES_MAX)
            .fetch_one(&db.pool)
            .await
            .map_err(error)?;
            (matches < INDEXED_MATCHES_MAX).then_some(query)
        }
        _ => None,
    };
    let sql = match query {
        // The index finds clients holding every trigram of the term, not necessarily in
        // sequence: instr keeps those that hold the term itself.
        Some(_) => list_sql!(
            "client_id IN (SELECT keys.client_id FROM client_search_keys AS keys
                           WHERE keys.id IN (SELECT rowid FROM client_search
                                             WHERE client_search MATCH $7))
             AND instr(search_text, $1) > 0"
        ),
        None => list_sql!("($1 IS NULL OR instr(search_text, $1) > 0)"),
    };
    let mut rows_query = sqlx::query_as(sql)
        .bind(search)
        .bind(filter.status.map(|s| s.as_str()))
        .bind(filter.grant_type.map(grant_needle))
        .bind(filter.after.as_ref().map(|c| c.created_at.0))
        .bind(filter.after.as_ref().map(|c| c.client_id.as_str()))
        .bind(limit(filter.limit) + 1);
    if let Some(trigrams) = query {
        rows_query = rows_query.bind(trigrams);
    }
    let rows: Vec<ClientRow> = rows_query.fetch_all(&db.pool).await.map_err(error)?;
    super::page(rows, filter.limit)
}

#[cfg(test)]
mod tests {
    use super::trigram_query;

    #[test]
    fn trigram_queries_quote_every_distinct_trigram() {
        assert_eq!(trigram_query("abcd"), r#""abc" AND "bcd""#);
        assert_eq!(trigram_query("aaaa"), r#""aaa""#);
        assert_eq!(trigram_query("äöüß"), r#""äöü" AND "öüß""#);
        assert_eq!(trigram_query(r#"a"bc"#), r#""""bc" AND "a""b""#);
        assert_eq!(trigram_query("a b"), r#""a b""#);
    }
}
