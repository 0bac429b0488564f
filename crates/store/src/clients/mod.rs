//! Clients. Creating and searching them differ per engine (`sqlite_only`,
//! `postgres_only`): each engine has its own fastest create statement and its own
//! search index. The rest is written once.

mod postgres_only;
mod sqlite_only;

pub(crate) use postgres_only::SearchIndex;

use thetasecure_core::Timestamp;
use thetasecure_core::client::Client;
use thetasecure_core::ids::ClientId;

use crate::changes::Change;
use crate::engine::for_each_engine;
use crate::rows::{
    ClientRow, ClientSecretRow, ClientValues, NewClientRows, bind_client, client_columns,
    insert_client, joined_secret_columns,
};
use crate::{AuditEntry, ClientCursor, ClientFilter, ClientPage, SecretRecord, Store, StoreError};

pub struct Clients<'a> {
    pub(crate) store: &'a Store,
}

impl Clients<'_> {
    /// Inserts a client with its first secret (confidential clients). Conflict if the id exists.
    pub async fn create(
        &self,
        client: &Client,
        secret: Option<&SecretRecord>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        dispatch!(self.store, create(client, secret, audit))
    }
    pub async fn get(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        dispatch!(self.store, get(id))
    }
    /// The client with the secrets active at `now` (oldest first), in one statement:
    /// what the token path caches.
    pub async fn get_with_active_secrets(
        &self,
        id: &ClientId,
        now: Timestamp,
    ) -> Result<Option<(Client, Vec<SecretRecord>)>, StoreError> {
        dispatch!(self.store, get_with_active_secrets(id, now))
    }
    /// Newest first (created_at desc, client_id desc); `search` is a case-insensitive
    /// substring of client name or client id (Unicode lowercase, computed in Rust and
    /// stored in a search column); `limit` rows at most, `next` set when more follow.
    pub async fn list(&self, filter: &ClientFilter) -> Result<ClientPage, StoreError> {
        dispatch!(self.store, sqlite_only | postgres_only::list(filter))
    }
    /// Replaces every mutable field and `updated_at`, and moves `tokens_revoked_before`
    /// forward when the given one is later (never back: a concurrent revoke-tokens wins).
    /// NotFound if absent.
    pub async fn update(&self, client: &Client, audit: &AuditEntry) -> Result<(), StoreError> {
        dispatch!(self.store, update(client, audit))
    }
    /// Deletes the client and (cascade) its secrets. NotFound if absent.
    pub async fn delete(&self, id: &ClientId, audit: &AuditEntry) -> Result<(), StoreError> {
        dispatch!(self.store, delete(id, audit))
    }
    /// Sets `tokens_revoked_before`. NotFound if absent.
    pub async fn revoke_tokens(
        &self,
        id: &ClientId,
        before: Timestamp,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        dispatch!(self.store, revoke_tokens(id, before, audit))
    }
    pub async fn count(&self) -> Result<u64, StoreError> {
        dispatch!(self.store, count())
    }
}

/// `rows` holds up to `limit + 1` rows; the extra one only tells that more follow.
fn page(rows: Vec<ClientRow>, limit: u32) -> Result<ClientPage, StoreError> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = rows.len() > limit;
    let items = rows
        .into_iter()
        .take(limit)
        .map(ClientRow::into_client)
        .collect::<Result<Vec<_>, _>>()?;
    let next = if more {
        items.last().map(|client| ClientCursor {
            created_at: client.created_at,
            client_id: client.client_id.clone(),
        })
    } else {
        None
    };
    Ok(ClientPage { items, next })
}

fn already_exists(id: &ClientId) -> StoreError {
    StoreError::Conflict(format!("client `{id}` already exists"))
}

for_each_engine! {
    /// Queued for a group commit; each engine writes the rows its own way
    /// (`GroupWrite for NewClientRows` in `sqlite_only` and `postgres_only`).
    pub(crate) async fn create(
        db: &Db,
        client: &Client,
        secret: Option<&SecretRecord>,
        entry: &AuditEntry,
    ) -> Result<(), StoreError> {
        db.group_commits
            .write(Box::new(NewClientRows::new(client, secret, entry)))
            .await?;
        db.clients_created();
        Ok(())
    }

    /// `ON CONFLICT DO NOTHING`, so a taken id is told from other failures by the rows
    /// affected.
    pub(crate) async fn insert(conn: &mut Conn, client: &Client) -> Result<(), StoreError> {
        let values = ClientValues::new(client)?;
        let query = sqlx::query(concat!(
            insert_client!("($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"),
            " ON CONFLICT (client_id) DO NOTHING"
        ));
        let done = bind_client!(query, values)
            .execute(conn)
            .await
            .map_err(error)?;
        if done.rows_affected() == 0 {
            return Err(already_exists(&client.client_id));
        }
        Ok(())
    }

    /// Whether the client exists; on PostgreSQL its row is locked until the transaction
    /// ends, so rules spanning a client's secrets see no concurrent rotation or revocation.
    pub(crate) async fn lock(conn: &mut Conn, id: &ClientId) -> Result<bool, StoreError> {
        let found: Option<i32> = sqlx::query_scalar(concat!(
            "SELECT 1 FROM clients WHERE client_id = $1",
            for_update!()
        ))
        .bind(id.as_str())
        .fetch_optional(conn)
        .await
        .map_err(error)?;
        Ok(found.is_some())
    }

    pub(crate) async fn get(db: &Db, id: &ClientId) -> Result<Option<Client>, StoreError> {
        let row: Option<ClientRow> = sqlx::query_as(concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients WHERE client_id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(&db.pool)
        .await
        .map_err(error)?;
        row.map(ClientRow::into_client).transpose()
    }

    /// The client's row (found by primary key) joined with its active secrets (through
    /// `client_secrets_by_client`): one row per secret, or one with no secret.
    ///
    /// `CAST($1 AS TEXT)`, not `$1`: SQLite would otherwise carry the bound id over to
    /// `s.client_id`, and once the store has been analyzed (`ANALYZE`, `PRAGMA optimize`)
    /// it plans a non-unique index's lookup from the bound value, so it re-parses and
    /// re-plans the statement at every new id: 62 µs a read instead of 7 µs at a million
    /// clients (docs/performance.md). The cast hides the value from the planner; the
    /// plan and the answer are the same.
    pub(crate) async fn get_with_active_secrets(
        db: &Db,
        id: &ClientId,
        now: Timestamp,
    ) -> Result<Option<(Client, Vec<SecretRecord>)>, StoreError> {
        let rows: Vec<ClientSecretRow> = sqlx::query_as(concat!(
            "SELECT c.*, ",
            joined_secret_columns!(),
            " FROM (SELECT ",
            client_columns!(),
            " FROM clients WHERE client_id = CAST($1 AS TEXT)) AS c
              LEFT JOIN client_secrets AS s
                ON s.client_id = c.client_id AND s.revoked_at IS NULL
               AND (s.expires_at IS NULL OR s.expires_at > $2)
              ORDER BY s.created_at, s.id"
        ))
        .bind(id.as_str())
        .bind(now.0)
        .fetch_all(&db.pool)
        .await
        .map_err(error)?;
        let mut secrets = Vec::with_capacity(rows.len());
        for row in &rows {
            secrets.extend(row.secret()?);
        }
        match rows.into_iter().next() {
            Some(row) => Ok(Some((row.client.into_client()?, secrets))),
            None => Ok(None),
        }
    }

    pub(crate) async fn update(db: &Db, client: &Client, entry: &AuditEntry) -> Result<(), StoreError> {
        let v = ClientValues::new(client)?;
        let mut tx = begin_write(db).await?;
        let done = sqlx::query(
            "UPDATE clients SET client_name = $2, description = $3, redirect_uris = $4, grant_types = $5,
                 response_types = $6, scope = $7, token_endpoint_auth_method = $8, require_user_consent = $9,
                 access_token_ttl_seconds = $10, status = $11, updated_at = $12, search_text = $13,
                 tokens_revoked_before = CASE
                     WHEN $14 IS NULL THEN tokens_revoked_before
                     WHEN tokens_revoked_before IS NULL OR tokens_revoked_before < $14 THEN $14
                     ELSE tokens_revoked_before END,
                 post_logout_redirect_uris = $15
             WHERE client_id = $1",
        )
        .bind(&v.client_id)
        .bind(&v.client_name)
        .bind(&v.description)
        .bind(&v.redirect_uris)
        .bind(&v.grant_types)
        .bind(&v.response_types)
        .bind(&v.scope)
        .bind(v.token_endpoint_auth_method)
        .bind(v.require_user_consent)
        .bind(v.access_token_ttl_seconds)
        .bind(v.status)
        .bind(v.updated_at)
        .bind(&v.search_text)
        .bind(v.tokens_revoked_before)
        .bind(&v.post_logout_redirect_uris)
        .execute(&mut *tx)
        .await
        .map_err(error)?;
        publish(db, &mut tx, &Change::ClientChanged { client_id: client.client_id.clone() }).await?;
        audit::finish_change(tx, done.rows_affected(), entry).await
    }

    pub(crate) async fn delete(db: &Db, id: &ClientId, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut tx = begin_write(db).await?;
        let done = sqlx::query("DELETE FROM clients WHERE client_id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(error)?;
        publish(db, &mut tx, &Change::ClientDeleted { client_id: id.clone() }).await?;
        audit::finish_change(tx, done.rows_affected(), entry).await
    }

    pub(crate) async fn revoke_tokens(
        db: &Db,
        id: &ClientId,
        before: Timestamp,
        entry: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = begin_write(db).await?;
        let done = sqlx::query("UPDATE clients SET tokens_revoked_before = $2 WHERE client_id = $1")
            .bind(id.as_str())
            .bind(before.0)
            .execute(&mut *tx)
            .await
            .map_err(error)?;
        publish(db, &mut tx, &Change::ClientChanged { client_id: id.clone() }).await?;
        audit::finish_change(tx, done.rows_affected(), entry).await
    }

    pub(crate) async fn count(db: &Db) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM clients")
            .fetch_one(&db.pool)
            .await
            .map_err(error)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
