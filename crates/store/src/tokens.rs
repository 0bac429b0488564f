//! Revoked access tokens, kept until the tokens would have expired anyway.

use thetasecure_core::Timestamp;

use crate::changes::Change;
use crate::engine::for_each_engine;
use crate::{RevokedAccessToken, Store, StoreError};

pub struct Tokens<'a> {
    pub(crate) store: &'a Store,
}

impl Tokens<'_> {
    /// Idempotent; other instances are told the first time.
    pub async fn revoke_access_token(
        &self,
        revoked: &RevokedAccessToken,
    ) -> Result<(), StoreError> {
        dispatch!(self.store, revoke_access_token(revoked))
    }
    pub async fn is_access_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        dispatch!(self.store, is_access_token_revoked(jti))
    }
    /// Which of `jtis` are revoked, in one read: the re-checks of many cached tokens
    /// share a query instead of a round trip each.
    pub async fn revoked_among(&self, jtis: &[&str]) -> Result<Vec<String>, StoreError> {
        if jtis.is_empty() {
            return Ok(Vec::new());
        }
        dispatch!(self.store, revoked_among(jtis))
    }
    /// Deletes revocation records of tokens that have expired anyway; returns how many.
    pub async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        dispatch!(self.store, purge_expired(now))
    }
}

for_each_engine! {
    /// On `conn`, so that a revocation can join another write's transaction (a replayed
    /// code's); true when the token was not revoked before.
    pub(crate) async fn insert_revoked(
        conn: &mut Conn,
        revoked: &RevokedAccessToken,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO revoked_access_tokens (jti, client_id, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (jti) DO NOTHING",
        )
        .bind(&revoked.jti)
        .bind(revoked.client_id.as_str())
        .bind(revoked.expires_at.0)
        .execute(conn)
        .await
        .map_err(error)?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn revoke_access_token(
        db: &Db,
        revoked: &RevokedAccessToken,
    ) -> Result<(), StoreError> {
        let mut tx = begin_write(db).await?;
        if insert_revoked(&mut tx, revoked).await? {
            let change = Change::AccessTokensRevoked {
                jtis: vec![revoked.jti.clone()],
            };
            publish(db, &mut tx, &change).await?;
        }
        commit(tx).await
    }

    pub(crate) async fn is_access_token_revoked(db: &Db, jti: &str) -> Result<bool, StoreError> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM revoked_access_tokens WHERE jti = $1)")
            .bind(jti)
            .fetch_one(&db.pool)
            .await
            .map_err(error)
    }

    pub(crate) async fn revoked_among(db: &Db, jtis: &[&str]) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(concat!(
            "SELECT jti FROM revoked_access_tokens WHERE jti",
            in_list!("$1")
        ))
        .bind(text_list(jtis)?)
        .fetch_all(&db.pool)
        .await
        .map_err(error)
    }

    pub(crate) async fn purge_expired(db: &Db, now: Timestamp) -> Result<u64, StoreError> {
        expiry::purge(db, "DELETE FROM revoked_access_tokens WHERE expires_at <= $1", now.0).await
    }
}
