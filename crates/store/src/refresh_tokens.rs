//! Refresh tokens and their families. A rotation is one compare-and-set on the
//! presented token in the transaction that stores its successor, so exactly one of
//! two concurrent rotations wins. Revoking tokens also revokes the access tokens
//! recorded with them (`revoked_access_tokens`). Written once for both engines.

use thetasecure_core::Timestamp;
use thetasecure_core::ids::ClientId;
use thetasecure_core::user::User;

use crate::changes::Change;
use crate::engine::{for_each_engine, or_missing};
use crate::rows::client_id;
use crate::users::{WithUser, select_with_user, user_still_active};
use crate::{AuditEntry, RefreshTokenRecord, RevokedTokens, Rotation, Store, StoreError};

pub struct RefreshTokens<'a> {
    pub(crate) store: &'a Store,
}

impl RefreshTokens<'_> {
    /// Stores a token outside any rotation (the first of a family issued by a grant
    /// that redeems no code). Conflict if the hash exists; NotFound if the user or
    /// client does not.
    pub async fn insert(&self, token: &RefreshTokenRecord) -> Result<(), StoreError> {
        dispatch!(self.store, insert(token))
    }
    /// As `insert`, with the audit entry of the grant that issued it, in one transaction;
    /// NotFound also if the user is no longer active (disabled since it was read).
    pub async fn insert_audited(
        &self,
        token: &RefreshTokenRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        dispatch!(self.store, insert_audited(token, audit))
    }
    /// The token whatever its state.
    pub async fn get(&self, token_hash: &str) -> Result<Option<RefreshTokenRecord>, StoreError> {
        dispatch!(self.store, get(token_hash))
    }
    /// The token whatever its state, with its user (deleting a user deletes its tokens),
    /// in one read: a rotation needs both.
    pub async fn get_with_user(
        &self,
        token_hash: &str,
    ) -> Result<Option<(RefreshTokenRecord, User)>, StoreError> {
        dispatch!(self.store, get_with_user(token_hash))
    }
    /// Retires `old_hash` and stores `new` in its place, if `old_hash` is live at `now`
    /// (never rotated, not revoked, not expired). Otherwise nothing is written and the
    /// presented token's state is returned, never an error: of concurrent rotations of
    /// one token exactly one gets `Rotated`, the others `AlreadyRotated`.
    pub async fn rotate(
        &self,
        old_hash: &str,
        now: Timestamp,
        new: &RefreshTokenRecord,
    ) -> Result<Rotation, StoreError> {
        dispatch!(
            self.store,
            sqlite_only | postgres_only::rotate(old_hash, now, new)
        )
    }
    /// A retry within the reuse grace window (SPEC 5): `old_hash` was rotated to
    /// `successor_hash`, unused since. In one transaction the successor is retired
    /// (revoked, with its access token), `new` is stored as `old_hash`'s successor in its
    /// place, and `audit` is written. When something came first (another retry, a use or
    /// the revocation of the successor, the family's revocation) nothing is written and
    /// the answer is `None`: of concurrent retries exactly one wins, so one pair lives.
    /// The winner learns the access token it retired, and other instances are told.
    pub async fn replace_successor(
        &self,
        old_hash: &str,
        successor_hash: &str,
        now: Timestamp,
        new: &RefreshTokenRecord,
        audit: &AuditEntry,
    ) -> Result<Option<RevokedTokens>, StoreError> {
        dispatch!(
            self.store,
            replace_successor(old_hash, successor_hash, now, new, audit)
        )
    }
    /// Revokes every token of the family and the access tokens recorded with them, with
    /// the audit entry when given (reuse detection, an admin), in one transaction, and
    /// tells other instances; returns what it revoked (rotated refresh tokens included).
    pub async fn revoke_family(
        &self,
        family_id: &str,
        now: Timestamp,
        audit: Option<&AuditEntry>,
    ) -> Result<RevokedTokens, StoreError> {
        dispatch!(self.store, revoke_family(family_id, now, audit))
    }
    /// As `revoke_family`, for every token of the user, and the access tokens the user's
    /// codes issued without a refresh token.
    pub async fn revoke_for_user(
        &self,
        user_id: &str,
        at: Timestamp,
        audit: &AuditEntry,
    ) -> Result<RevokedTokens, StoreError> {
        dispatch!(
            self.store,
            revoke_owned(Owner::User, user_id, at, Some(audit))
        )
    }
    /// As `revoke_for_user`, for every token of the client.
    pub async fn revoke_for_client(
        &self,
        client_id: &ClientId,
        at: Timestamp,
        audit: &AuditEntry,
    ) -> Result<RevokedTokens, StoreError> {
        dispatch!(
            self.store,
            revoke_owned(Owner::Client, client_id.as_str(), at, Some(audit))
        )
    }
    /// The live head token (neither rotated, revoked nor expired) of each of the user's
    /// live families, newest first.
    pub async fn list_families_for_user(
        &self,
        user_id: &str,
        now: Timestamp,
    ) -> Result<Vec<RefreshTokenRecord>, StoreError> {
        dispatch!(self.store, list_families_for_user(user_id, now))
    }
    /// Deletes the tokens expired by `now`; returns how many. A rotated token is kept
    /// until then, so presenting it again is still seen as reuse.
    pub async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        dispatch!(self.store, purge_expired(now))
    }
}

/// Whose tokens a revocation takes.
#[derive(Clone, Copy)]
pub(crate) enum Owner {
    Family,
    User,
    Client,
}

impl Owner {
    /// The change other instances are told of.
    pub(crate) fn change(self, value: &str, revoked: &RevokedTokens) -> Result<Change, StoreError> {
        let jtis = revoked.access_token_jtis.clone();
        Ok(match self {
            Owner::Family => Change::RefreshFamilyRevoked {
                family_id: value.to_owned(),
                jtis,
            },
            Owner::User => Change::UserTokensRevoked {
                user_id: value.to_owned(),
                jtis,
            },
            Owner::Client => Change::ClientTokensRevoked {
                client_id: client_id(value)?,
                jtis,
            },
        })
    }
}

/// The statements revoking the tokens whose `$column` is `$1` at `$2`: lock them (on
/// PostgreSQL, so that a rotation in flight commits first and its new token is seen by
/// the statements that follow, each with a fresh snapshot at READ COMMITTED; in one
/// order, so two revocations cannot deadlock), revoke their recorded access tokens
/// still unexpired, and those that codes whose `$code_column` is `$1` issued (the only
/// record of an access token issued without a refresh token), and mark every refresh
/// token not yet revoked. The access-token statements return the `jti`s they revoked.
macro_rules! revocation {
    ($column:literal, $code_column:literal) => {
        (
            concat!(
                "SELECT token_hash FROM refresh_tokens WHERE ",
                $column,
                " = $1 ORDER BY token_hash",
                for_update!()
            ),
            concat!(
                "INSERT INTO revoked_access_tokens (jti, client_id, expires_at)
                 SELECT access_token_jti, client_id, access_token_expires_at
                 FROM refresh_tokens
                 WHERE ",
                $column,
                " = $1 AND access_token_jti IS NOT NULL AND access_token_expires_at > $2
                 ON CONFLICT (jti) DO NOTHING
                 RETURNING jti"
            ),
            concat!(
                "INSERT INTO revoked_access_tokens (jti, client_id, expires_at)
                 SELECT access_token_jti, client_id, access_token_expires_at
                 FROM authorization_codes
                 WHERE ",
                $code_column,
                " = $1 AND access_token_jti IS NOT NULL AND access_token_expires_at > $2
                 ON CONFLICT (jti) DO NOTHING
                 RETURNING jti"
            ),
            concat!(
                "UPDATE refresh_tokens SET revoked_at = $2 WHERE ",
                $column,
                " = $1 AND revoked_at IS NULL"
            ),
        )
    };
}

macro_rules! refresh_columns {
    () => {
        "token_hash, family_id, client_id, user_id, scope, auth_time, session_id_hash, \
         created_at, expires_at, rotated_at, revoked_at, access_token_jti, \
         access_token_expires_at, successor_hash"
    };
}
pub(crate) use refresh_columns;

/// Binds every column of `refresh_columns!`, in its order.
macro_rules! bind_refresh {
    ($query:expr, $token:expr) => {
        $query
            .bind(&$token.token_hash)
            .bind(&$token.family_id)
            .bind($token.client_id.as_str())
            .bind(&$token.user_id)
            .bind(&$token.scope)
            .bind($token.auth_time.0)
            .bind(&$token.session_id_hash)
            .bind($token.created_at.0)
            .bind($token.expires_at.0)
            .bind($token.rotated_at.map(|t| t.0))
            .bind($token.revoked_at.map(|t| t.0))
            .bind(&$token.access_token_jti)
            .bind($token.access_token_expires_at.map(|t| t.0))
            .bind(&$token.successor_hash)
    };
}
pub(crate) use bind_refresh;

#[derive(sqlx::FromRow)]
struct RefreshTokenRow {
    token_hash: String,
    family_id: String,
    client_id: String,
    user_id: String,
    scope: String,
    auth_time: i64,
    session_id_hash: Option<String>,
    created_at: i64,
    expires_at: i64,
    rotated_at: Option<i64>,
    revoked_at: Option<i64>,
    access_token_jti: Option<String>,
    access_token_expires_at: Option<i64>,
    successor_hash: Option<String>,
}

impl RefreshTokenRow {
    fn into_record(self) -> Result<RefreshTokenRecord, StoreError> {
        Ok(RefreshTokenRecord {
            token_hash: self.token_hash,
            family_id: self.family_id,
            client_id: client_id(&self.client_id)?,
            user_id: self.user_id,
            scope: self.scope,
            auth_time: Timestamp(self.auth_time),
            session_id_hash: self.session_id_hash,
            created_at: Timestamp(self.created_at),
            expires_at: Timestamp(self.expires_at),
            rotated_at: self.rotated_at.map(Timestamp),
            revoked_at: self.revoked_at.map(Timestamp),
            access_token_jti: self.access_token_jti,
            access_token_expires_at: self.access_token_expires_at.map(Timestamp),
            successor_hash: self.successor_hash,
        })
    }
}

/// Why a token that lost its compare-and-set could not be rotated.
fn refused(token: Option<RefreshTokenRecord>, now: Timestamp) -> Rotation {
    match token {
        None => Rotation::Unknown,
        Some(token) if token.revoked_at.is_some() => Rotation::Revoked(token),
        Some(token) if token.rotated_at.is_some() => Rotation::AlreadyRotated(token),
        Some(token) if token.expires_at <= now => Rotation::Expired(token),
        // Live, so its user was the compare-and-set's failed condition.
        Some(_) => Rotation::UserInactive,
    }
}

/// A rotation's compare-and-set: retires `$1` at `$2` in favour of `$3` if it is live
/// and its user still active. A concurrent rotation holds the row until it commits; this
/// one then finds `rotated_at` set and changes nothing.
macro_rules! retire_for_successor {
    () => {
        concat!(
            "UPDATE refresh_tokens SET rotated_at = $2, successor_hash = $3
             WHERE token_hash = $1 AND rotated_at IS NULL AND revoked_at IS NULL
               AND expires_at > $2",
            user_still_active!("refresh_tokens")
        )
    };
}

for_each_engine! {
    /// In the caller's transaction: a rotation, or the code redemption that starts a family.
    pub(crate) async fn insert_in(conn: &mut Conn, token: &RefreshTokenRecord) -> Result<(), StoreError> {
        let insert = sqlx::query(concat!(
            "INSERT INTO refresh_tokens (",
            refresh_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ));
        bind_refresh!(insert, token)
        .execute(conn)
        .await
        .map_err(|e| or_missing(e, error))?;
        Ok(())
    }

    pub(crate) async fn insert(db: &Db, token: &RefreshTokenRecord) -> Result<(), StoreError> {
        let mut tx = begin_write(db).await?;
        insert_in(&mut tx, token).await?;
        commit(tx).await
    }

    /// A family's first token where no code is redeemed (the password grant): its user
    /// must still be active, as for a redemption (`user_still_active`).
    pub(crate) async fn insert_audited(db: &Db, token: &RefreshTokenRecord, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut tx = begin_write(db).await?;
        let active: Option<i32> = sqlx::query_scalar(concat!(
            "SELECT 1 FROM (SELECT CAST($1 AS TEXT) AS user_id) AS first_token WHERE TRUE",
            user_still_active!("first_token")
        ))
        .bind(&token.user_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(error)?;
        if active.is_none() {
            rollback(tx).await?;
            return Err(StoreError::NotFound);
        }
        insert_in(&mut tx, token).await?;
        audit::finish(tx, entry).await
    }

    pub(crate) async fn get_on(conn: &mut Conn, token_hash: &str) -> Result<Option<RefreshTokenRecord>, StoreError> {
        let row: Option<RefreshTokenRow> = sqlx::query_as(concat!(
            "SELECT ",
            refresh_columns!(),
            " FROM refresh_tokens WHERE token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(conn)
        .await
        .map_err(error)?;
        row.map(RefreshTokenRow::into_record).transpose()
    }

    pub(crate) async fn get(db: &Db, token_hash: &str) -> Result<Option<RefreshTokenRecord>, StoreError> {
        let mut conn = db.pool.acquire().await.map_err(error)?;
        get_on(&mut conn, token_hash).await
    }

    pub(crate) async fn get_with_user(db: &Db, token_hash: &str) -> Result<Option<(RefreshTokenRecord, User)>, StoreError> {
        let row: Option<WithUser<RefreshTokenRow>> = sqlx::query_as(select_with_user!(
            refresh_columns!(),
            "refresh_tokens",
            "token_hash"
        ))
        .bind(token_hash)
        .fetch_optional(&db.pool)
        .await
        .map_err(error)?;
        row.map(|row| row.into_pair(RefreshTokenRow::into_record)).transpose()
    }

    pub(crate) async fn replace_successor(
        db: &Db,
        old_hash: &str,
        successor_hash: &str,
        now: Timestamp,
        new: &RefreshTokenRecord,
        entry: &AuditEntry,
    ) -> Result<Option<RevokedTokens>, StoreError> {
        let mut tx = begin_write(db).await?;
        // Both rows, in the order a family revocation locks them, so the two cannot
        // deadlock on PostgreSQL; a concurrent retry or rotation commits first.
        sqlx::query(concat!(
            "SELECT token_hash FROM refresh_tokens WHERE token_hash IN ($1, $2) ORDER BY token_hash",
            for_update!()
        ))
        .bind(old_hash)
        .bind(successor_hash)
        .execute(&mut *tx)
        .await
        .map_err(error)?;
        let replaced = sqlx::query(concat!(
            "UPDATE refresh_tokens SET successor_hash = $3
             WHERE token_hash = $1 AND successor_hash = $2 AND revoked_at IS NULL",
            user_still_active!("refresh_tokens")
        ))
        .bind(old_hash)
        .bind(successor_hash)
        .bind(&new.token_hash)
        .execute(&mut *tx)
        .await
        .map_err(error)?
        .rows_affected()
            == 1;
        let retired = replaced
            && sqlx::query(
                "UPDATE refresh_tokens SET revoked_at = $2
                 WHERE token_hash = $1 AND rotated_at IS NULL AND revoked_at IS NULL",
            )
            .bind(successor_hash)
            .bind(now.0)
            .execute(&mut *tx)
            .await
            .map_err(error)?
            .rows_affected()
                == 1;
        if !retired {
            rollback(tx).await?;
            return Ok(None);
        }
        let access_token_jtis: Vec<String> = sqlx::query_scalar(
            "INSERT INTO revoked_access_tokens (jti, client_id, expires_at)
             SELECT access_token_jti, client_id, access_token_expires_at
             FROM refresh_tokens
             WHERE token_hash = $1 AND access_token_jti IS NOT NULL AND access_token_expires_at > $2
             ON CONFLICT (jti) DO NOTHING
             RETURNING jti",
        )
        .bind(successor_hash)
        .bind(now.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(error)?;
        insert_in(&mut tx, new).await?;
        if !access_token_jtis.is_empty() {
            let change = Change::AccessTokensRevoked {
                jtis: access_token_jtis.clone(),
            };
            publish(db, &mut tx, &change).await?;
        }
        audit::finish(tx, entry).await?;
        Ok(Some(RevokedTokens {
            refresh_tokens: 1,
            access_token_jtis,
        }))
    }

    /// Revokes the tokens `owner` names by `value`, and their access tokens, in `tx`.
    /// The caller publishes the change (`owner.change`).
    pub(crate) async fn revoke_in(
        tx: &mut Tx,
        owner: Owner,
        value: &str,
        now: Timestamp,
    ) -> Result<RevokedTokens, StoreError> {
        let (lock, from_refresh_tokens, from_codes, revoke) = match owner {
            Owner::Family => revocation!("family_id", "refresh_family_id"),
            Owner::User => revocation!("user_id", "user_id"),
            Owner::Client => revocation!("client_id", "client_id"),
        };
        sqlx::query(lock).bind(value).execute(&mut **tx).await.map_err(error)?;
        let mut access_token_jtis = Vec::new();
        for deny_access_tokens in [from_refresh_tokens, from_codes] {
            let jtis: Vec<String> = sqlx::query_scalar(deny_access_tokens)
                .bind(value)
                .bind(now.0)
                .fetch_all(&mut **tx)
                .await
                .map_err(error)?;
            access_token_jtis.extend(jtis);
        }
        let done = sqlx::query(revoke)
            .bind(value)
            .bind(now.0)
            .execute(&mut **tx)
            .await
            .map_err(error)?;
        Ok(RevokedTokens {
            refresh_tokens: done.rows_affected(),
            access_token_jtis,
        })
    }

    pub(crate) async fn revoke_owned(
        db: &Db,
        owner: Owner,
        value: &str,
        now: Timestamp,
        entry: Option<&AuditEntry>,
    ) -> Result<RevokedTokens, StoreError> {
        let mut tx = begin_write(db).await?;
        let revoked = revoke_in(&mut tx, owner, value, now).await?;
        publish(db, &mut tx, &owner.change(value, &revoked)?).await?;
        match entry {
            Some(entry) => audit::finish(tx, entry).await?,
            None => commit(tx).await?,
        }
        Ok(revoked)
    }

    pub(crate) async fn revoke_family(
        db: &Db,
        family_id: &str,
        now: Timestamp,
        entry: Option<&AuditEntry>,
    ) -> Result<RevokedTokens, StoreError> {
        revoke_owned(db, Owner::Family, family_id, now, entry).await
    }

    pub(crate) async fn list_families_for_user(
        db: &Db,
        user_id: &str,
        now: Timestamp,
    ) -> Result<Vec<RefreshTokenRecord>, StoreError> {
        let rows: Vec<RefreshTokenRow> = sqlx::query_as(concat!(
            "SELECT ",
            refresh_columns!(),
            " FROM refresh_tokens
             WHERE user_id = $1 AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > $2
             ORDER BY created_at DESC, token_hash DESC"
        ))
        .bind(user_id)
        .bind(now.0)
        .fetch_all(&db.pool)
        .await
        .map_err(error)?;
        rows.into_iter().map(RefreshTokenRow::into_record).collect()
    }

    pub(crate) async fn purge_expired(db: &Db, now: Timestamp) -> Result<u64, StoreError> {
        expiry::purge(db, "DELETE FROM refresh_tokens WHERE expires_at <= $1", now.0).await
    }
}

/// Rotation on SQLite: the compare-and-set and the successor's insert in the write
/// transaction; statements are local calls, so there are no round trips to save.
pub(crate) mod sqlite_only {
    use super::sqlite::{get_on, insert_in};
    use super::*;
    use crate::engine::sqlite::*;

    pub(crate) async fn rotate(
        db: &Db,
        old_hash: &str,
        now: Timestamp,
        new: &RefreshTokenRecord,
    ) -> Result<Rotation, StoreError> {
        let mut tx = begin_write(db).await?;
        let won = sqlx::query(retire_for_successor!())
            .bind(old_hash)
            .bind(now.0)
            .bind(&new.token_hash)
            .execute(&mut *tx)
            .await
            .map_err(error)?
            .rows_affected()
            == 1;
        if won {
            insert_in(&mut tx, new).await?;
            commit(tx).await?;
            return Ok(Rotation::Rotated);
        }
        let old = get_on(&mut tx, old_hash).await?;
        rollback(tx).await?;
        Ok(refused(old, now))
    }
}

/// Rotation on PostgreSQL: the compare-and-set and the successor's insert as one
/// statement (a data-modifying CTE, atomic and durable like a transaction) instead of four
/// round trips (BEGIN, UPDATE, INSERT, COMMIT), committed in a group like a code
/// redemption. The insert reads the compare-and-set's row, so it happens only for the
/// winner.
pub(crate) mod postgres_only {
    use sqlx::postgres::PgConnection;

    use super::*;
    use crate::engine::postgres::*;
    use crate::group_commit::{GroupWrite, WriteFuture};

    const ROTATE: &str = concat!(
        "WITH retired AS (",
        retire_for_successor!(),
        " RETURNING 1), successor AS (INSERT INTO refresh_tokens (",
        refresh_columns!(),
        ") SELECT $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17 FROM retired)",
        " SELECT count(*) FROM retired"
    );

    /// A rotation waiting in the group-commit queue, owning what it binds.
    struct Rotating {
        old_hash: String,
        now: Timestamp,
        new: RefreshTokenRecord,
    }

    /// Answers 1 if this rotation retired the old token, 0 if not.
    impl GroupWrite<PgConnection> for Rotating {
        fn write<'a>(&'a self, conn: &'a mut PgConnection) -> WriteFuture<'a> {
            Box::pin(async move {
                let query = sqlx::query_scalar(ROTATE)
                    .bind(&self.old_hash)
                    .bind(self.now.0)
                    .bind(&self.new.token_hash);
                let won: i64 = bind_refresh!(query, &self.new)
                    .fetch_one(conn)
                    .await
                    .map_err(|e| or_missing(e, error))?;
                Ok(u64::from(won == 1))
            })
        }
    }

    pub(crate) async fn rotate(
        db: &Db,
        old_hash: &str,
        now: Timestamp,
        new: &RefreshTokenRecord,
    ) -> Result<Rotation, StoreError> {
        let rotating = Rotating {
            old_hash: old_hash.to_owned(),
            now,
            new: new.clone(),
        };
        if db.group_commits.write(Box::new(rotating)).await? == 1 {
            return Ok(Rotation::Rotated);
        }
        Ok(refused(super::postgres::get(db, old_hash).await?, now))
    }
}
