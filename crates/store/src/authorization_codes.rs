//! Authorization codes. A redemption is one compare-and-set on the code in the
//! transaction that stores the refresh token it issues, so exactly one of concurrent
//! redemptions wins; a replay revokes what the winner was issued. Written once for
//! both engines.

use thetasecure_core::Timestamp;
use thetasecure_core::user::User;

use crate::changes::Change;
use crate::engine::{for_each_engine, or_missing};
use crate::refresh_tokens::Owner;
use crate::rows::client_id;
use crate::users::{WithUser, select_with_user, user_still_active};
use crate::{
    AuditEntry, AuthorizationCodeRecord, RefreshTokenRecord, RevokedAccessToken, RevokedTokens,
    Store, StoreError,
};

pub struct AuthorizationCodes<'a> {
    pub(crate) store: &'a Store,
}

impl AuthorizationCodes<'_> {
    /// Conflict if the hash exists; NotFound if the user or client does not.
    pub async fn insert(&self, code: &AuthorizationCodeRecord) -> Result<(), StoreError> {
        dispatch!(self.store, insert(code))
    }
    /// The code whatever its state.
    pub async fn get(
        &self,
        code_hash: &str,
    ) -> Result<Option<AuthorizationCodeRecord>, StoreError> {
        dispatch!(self.store, get(code_hash))
    }
    /// The code whatever its state, with its user (deleting a user deletes its codes), in
    /// one read: a redemption needs both.
    pub async fn get_with_user(
        &self,
        code_hash: &str,
    ) -> Result<Option<(AuthorizationCodeRecord, User)>, StoreError> {
        dispatch!(self.store, get_with_user(code_hash))
    }
    /// Marks the code redeemed at `now` with what the redemption issues, and stores
    /// `refresh` (the first token of its family), if the code is unredeemed and
    /// unexpired. True for the one caller that did; false, with nothing written, for
    /// any other, never an error.
    pub async fn redeem(
        &self,
        code_hash: &str,
        now: Timestamp,
        access_token_jti: &str,
        access_token_expires_at: Timestamp,
        refresh: Option<&RefreshTokenRecord>,
    ) -> Result<bool, StoreError> {
        dispatch!(
            self.store,
            sqlite_only
                | postgres_only::redeem(
                    code_hash,
                    now,
                    access_token_jti,
                    access_token_expires_at,
                    refresh
                )
        )
    }
    /// For a replayed code: revokes the refresh family its redemption started (every
    /// token, and their access tokens) and the access token it issued, with the audit
    /// entry, in one transaction, and tells other instances; returns what it revoked.
    /// NotFound if the code is unknown.
    pub async fn revoke_grants(
        &self,
        code_hash: &str,
        now: Timestamp,
        audit: &AuditEntry,
    ) -> Result<RevokedTokens, StoreError> {
        dispatch!(self.store, revoke_grants(code_hash, now, audit))
    }
    /// Deletes the codes expired by `now`, keeping a redeemed one until the access
    /// token it issued has expired too, so that a replay is recognised until then.
    pub async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        dispatch!(self.store, purge_expired(now))
    }
}

macro_rules! code_columns {
    () => {
        "code_hash, client_id, user_id, session_id_hash, redirect_uri, scope, \
         code_challenge, nonce, auth_time, created_at, expires_at, redeemed_at, \
         access_token_jti, access_token_expires_at, refresh_family_id"
    };
}

#[derive(sqlx::FromRow)]
struct CodeRow {
    code_hash: String,
    client_id: String,
    user_id: String,
    session_id_hash: Option<String>,
    redirect_uri: String,
    scope: String,
    code_challenge: Option<String>,
    nonce: Option<String>,
    auth_time: i64,
    created_at: i64,
    expires_at: i64,
    redeemed_at: Option<i64>,
    access_token_jti: Option<String>,
    access_token_expires_at: Option<i64>,
    refresh_family_id: Option<String>,
}

impl CodeRow {
    fn into_record(self) -> Result<AuthorizationCodeRecord, StoreError> {
        Ok(AuthorizationCodeRecord {
            code_hash: self.code_hash,
            client_id: client_id(&self.client_id)?,
            user_id: self.user_id,
            session_id_hash: self.session_id_hash,
            redirect_uri: self.redirect_uri,
            scope: self.scope,
            code_challenge: self.code_challenge,
            nonce: self.nonce,
            auth_time: Timestamp(self.auth_time),
            created_at: Timestamp(self.created_at),
            expires_at: Timestamp(self.expires_at),
            redeemed_at: self.redeemed_at.map(Timestamp),
            access_token_jti: self.access_token_jti,
            access_token_expires_at: self.access_token_expires_at.map(Timestamp),
            refresh_family_id: self.refresh_family_id,
        })
    }
}

/// What a redemption issued, as a replay needs it.
#[derive(sqlx::FromRow)]
struct Issued {
    client_id: String,
    access_token_jti: Option<String>,
    access_token_expires_at: Option<i64>,
    refresh_family_id: Option<String>,
}

/// A redemption's compare-and-set: marks code `$1` redeemed at `$2` with what it
/// issues, if it is unredeemed and unexpired and its user still active. A concurrent
/// redemption holds the row until it commits; this one then finds `redeemed_at` set and
/// changes nothing.
macro_rules! mark_redeemed {
    () => {
        concat!(
            "UPDATE authorization_codes
             SET redeemed_at = $2, access_token_jti = $3, access_token_expires_at = $4,
                 refresh_family_id = $5
             WHERE code_hash = $1 AND redeemed_at IS NULL AND expires_at > $2",
            user_still_active!("authorization_codes")
        )
    };
}

for_each_engine! {
    pub(crate) async fn insert(db: &Db, code: &AuthorizationCodeRecord) -> Result<(), StoreError> {
        let _turn = db.turn_to_write().await?;
        sqlx::query(concat!(
            "INSERT INTO authorization_codes (",
            code_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        ))
        .bind(&code.code_hash)
        .bind(code.client_id.as_str())
        .bind(&code.user_id)
        .bind(&code.session_id_hash)
        .bind(&code.redirect_uri)
        .bind(&code.scope)
        .bind(&code.code_challenge)
        .bind(&code.nonce)
        .bind(code.auth_time.0)
        .bind(code.created_at.0)
        .bind(code.expires_at.0)
        .bind(code.redeemed_at.map(|t| t.0))
        .bind(&code.access_token_jti)
        .bind(code.access_token_expires_at.map(|t| t.0))
        .bind(&code.refresh_family_id)
        .execute(&db.pool)
        .await
        .map_err(|e| or_missing(e, error))?;
        Ok(())
    }

    pub(crate) async fn get(db: &Db, code_hash: &str) -> Result<Option<AuthorizationCodeRecord>, StoreError> {
        let row: Option<CodeRow> = sqlx::query_as(concat!(
            "SELECT ",
            code_columns!(),
            " FROM authorization_codes WHERE code_hash = $1"
        ))
        .bind(code_hash)
        .fetch_optional(&db.pool)
        .await
        .map_err(error)?;
        row.map(CodeRow::into_record).transpose()
    }

    pub(crate) async fn get_with_user(db: &Db, code_hash: &str) -> Result<Option<(AuthorizationCodeRecord, User)>, StoreError> {
        let row: Option<WithUser<CodeRow>> = sqlx::query_as(select_with_user!(
            code_columns!(),
            "authorization_codes",
            "code_hash"
        ))
        .bind(code_hash)
        .fetch_optional(&db.pool)
        .await
        .map_err(error)?;
        row.map(|row| row.into_pair(CodeRow::into_record)).transpose()
    }

    pub(crate) async fn revoke_grants(
        db: &Db,
        code_hash: &str,
        now: Timestamp,
        entry: &AuditEntry,
    ) -> Result<RevokedTokens, StoreError> {
        let mut tx = begin_write(db).await?;
        let issued: Option<Issued> = sqlx::query_as(
            "SELECT client_id, access_token_jti, access_token_expires_at, refresh_family_id
             FROM authorization_codes WHERE code_hash = $1",
        )
        .bind(code_hash)
        .fetch_optional(&mut *tx)
        .await
        .map_err(error)?;
        let issued = issued.ok_or(StoreError::NotFound)?;
        let mut revoked = RevokedTokens::default();
        if let Some(family_id) = &issued.refresh_family_id {
            revoked = refresh_tokens::revoke_in(&mut tx, Owner::Family, family_id, now).await?;
        }
        if let (Some(jti), Some(expires_at)) = (issued.access_token_jti, issued.access_token_expires_at)
            && expires_at > now.0
        {
            let token = RevokedAccessToken {
                jti,
                client_id: client_id(&issued.client_id)?,
                expires_at: Timestamp(expires_at),
            };
            if tokens::insert_revoked(&mut tx, &token).await? {
                revoked.access_token_jtis.push(token.jti);
            }
        }
        let jtis = revoked.access_token_jtis.clone();
        let change = match issued.refresh_family_id {
            Some(family_id) => Change::RefreshFamilyRevoked { family_id, jtis },
            None => Change::AccessTokensRevoked { jtis },
        };
        publish(db, &mut tx, &change).await?;
        audit::finish(tx, entry).await?;
        Ok(revoked)
    }

    pub(crate) async fn purge_expired(db: &Db, now: Timestamp) -> Result<u64, StoreError> {
        expiry::purge(
            db,
            "DELETE FROM authorization_codes
             WHERE expires_at <= $1
               AND (access_token_expires_at IS NULL OR access_token_expires_at <= $1)",
            now.0,
        )
        .await
    }
}

/// Redemption on SQLite: the compare-and-set and the refresh token's insert in the write
/// transaction; statements are local calls, so there are no round trips to save.
pub(crate) mod sqlite_only {
    use super::*;
    use crate::engine::sqlite::*;

    pub(crate) async fn redeem(
        db: &Db,
        code_hash: &str,
        now: Timestamp,
        access_token_jti: &str,
        access_token_expires_at: Timestamp,
        refresh: Option<&RefreshTokenRecord>,
    ) -> Result<bool, StoreError> {
        let mut tx = begin_write(db).await?;
        let won = sqlx::query(mark_redeemed!())
            .bind(code_hash)
            .bind(now.0)
            .bind(access_token_jti)
            .bind(access_token_expires_at.0)
            .bind(refresh.map(|token| token.family_id.as_str()))
            .execute(&mut *tx)
            .await
            .map_err(error)?
            .rows_affected()
            == 1;
        if !won {
            rollback(tx).await?;
            return Ok(false);
        }
        if let Some(token) = refresh {
            refresh_tokens::insert_in(&mut tx, token).await?;
        }
        commit(tx).await?;
        Ok(true)
    }
}

/// Redemption on PostgreSQL: one statement instead of four round trips (BEGIN, UPDATE,
/// INSERT, COMMIT), committed in a group with other redemptions and rotations, so that
/// many share one WAL flush instead of each waiting for its own (`group_commit`). With a
/// refresh token, a data-modifying CTE whose insert reads the compare-and-set's row, so
/// it happens only for the winner. Two redemptions of one code in one group meet as in
/// two transactions: the second finds the code redeemed.
pub(crate) mod postgres_only {
    use sqlx::Row;
    use sqlx::postgres::PgConnection;

    use super::*;
    use crate::engine::postgres::*;
    use crate::group_commit::{GroupWrite, WriteFuture};
    use crate::refresh_tokens::{bind_refresh, refresh_columns};

    const REDEEM_WITH_REFRESH: &str = concat!(
        "WITH redeemed AS (",
        mark_redeemed!(),
        " RETURNING 1), issued AS (INSERT INTO refresh_tokens (",
        refresh_columns!(),
        ") SELECT $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19 FROM redeemed)",
        " SELECT count(*) FROM redeemed"
    );

    /// A redemption waiting in the group-commit queue, owning what it binds.
    struct Redemption {
        code_hash: String,
        now: Timestamp,
        access_token_jti: String,
        access_token_expires_at: Timestamp,
        refresh: Option<RefreshTokenRecord>,
    }

    /// Answers 1 if this redemption won the code, 0 if not.
    impl GroupWrite<PgConnection> for Redemption {
        fn write<'a>(&'a self, conn: &'a mut PgConnection) -> WriteFuture<'a> {
            Box::pin(async move {
                let family_id = self.refresh.as_ref().map(|token| token.family_id.as_str());
                let query = |sql: &'static str| {
                    sqlx::query(sql)
                        .bind(&self.code_hash)
                        .bind(self.now.0)
                        .bind(&self.access_token_jti)
                        .bind(self.access_token_expires_at.0)
                        .bind(family_id)
                };
                let Some(token) = &self.refresh else {
                    let redeemed = query(mark_redeemed!()).execute(conn).await.map_err(error)?;
                    return Ok(redeemed.rows_affected());
                };
                let redeemed: i64 = bind_refresh!(query(REDEEM_WITH_REFRESH), token)
                    .fetch_one(conn)
                    .await
                    .map_err(|e| or_missing(e, error))?
                    .try_get(0)
                    .map_err(error)?;
                Ok(u64::from(redeemed == 1))
            })
        }
    }

    pub(crate) async fn redeem(
        db: &Db,
        code_hash: &str,
        now: Timestamp,
        access_token_jti: &str,
        access_token_expires_at: Timestamp,
        refresh: Option<&RefreshTokenRecord>,
    ) -> Result<bool, StoreError> {
        let redemption = Redemption {
            code_hash: code_hash.to_owned(),
            now,
            access_token_jti: access_token_jti.to_owned(),
            access_token_expires_at,
            refresh: refresh.cloned(),
        };
        Ok(db.group_commits.write(Box::new(redemption)).await? == 1)
    }
}
