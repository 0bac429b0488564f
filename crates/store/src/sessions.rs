//! Browser sessions: who signed in, when, and until when the session lasts. Written
//! once for both engines.

use thetasecure_core::Timestamp;

use crate::engine::{for_each_engine, or_missing};
use crate::{AuditEntry, SessionRecord, Store, StoreError};

pub struct Sessions<'a> {
    pub(crate) store: &'a Store,
}

impl Sessions<'_> {
    /// Stores a new session, its idle expiry clamped to the absolute one. Conflict if
    /// the id exists; NotFound if the user does not.
    pub async fn create(&self, session: &SessionRecord) -> Result<(), StoreError> {
        dispatch!(self.store, create(session))
    }
    /// The session whatever its state: the caller judges expiry and revocation.
    pub async fn get(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        dispatch!(self.store, get(id_hash))
    }
    /// Records activity and moves the idle expiry (never past the absolute one). Does
    /// nothing to a revoked or expired session, so a late touch cannot revive one.
    pub async fn touch(
        &self,
        id_hash: &str,
        last_seen_at: Timestamp,
        idle_expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        dispatch!(self.store, touch(id_hash, last_seen_at, idle_expires_at))
    }
    /// Ends a session (sign-out); true if it was live at `at`.
    pub async fn revoke(&self, id_hash: &str, at: Timestamp) -> Result<bool, StoreError> {
        dispatch!(self.store, revoke(id_hash, at))
    }
    /// The user's live sessions at `now`, newest first.
    pub async fn list_for_user(
        &self,
        user_id: &str,
        now: Timestamp,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        dispatch!(self.store, list_for_user(user_id, now))
    }
    /// Ends every live session of the user; returns how many. The audit entry is
    /// written in the same transaction.
    pub async fn revoke_for_user(
        &self,
        user_id: &str,
        at: Timestamp,
        audit: &AuditEntry,
    ) -> Result<u64, StoreError> {
        dispatch!(self.store, revoke_for_user(user_id, at, audit))
    }
    /// Keeps `sealed` for the session to read once under `subject`, replacing what it
    /// held there. NotFound if the session does not exist.
    pub async fn put_flash(
        &self,
        id_hash: &str,
        subject: &str,
        sealed: &[u8],
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        dispatch!(self.store, put_flash(id_hash, subject, sealed, expires_at))
    }
    /// What the session holds under `subject`, deleted in the same statement, so only
    /// one read ever gets it; none once it has expired at `now`.
    pub async fn take_flash(
        &self,
        id_hash: &str,
        subject: &str,
        now: Timestamp,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        dispatch!(self.store, take_flash(id_hash, subject, now))
    }
    /// Deletes the sessions expired or revoked by `now`; returns how many.
    pub async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        dispatch!(self.store, purge_expired(now))
    }
}

macro_rules! session_columns {
    () => {
        "id_hash, user_id, auth_time, created_at, last_seen_at, idle_expires_at, \
         absolute_expires_at, revoked_at"
    };
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id_hash: String,
    user_id: String,
    auth_time: i64,
    created_at: i64,
    last_seen_at: i64,
    idle_expires_at: i64,
    absolute_expires_at: i64,
    revoked_at: Option<i64>,
}

impl From<SessionRow> for SessionRecord {
    fn from(row: SessionRow) -> Self {
        SessionRecord {
            id_hash: row.id_hash,
            user_id: row.user_id,
            auth_time: Timestamp(row.auth_time),
            created_at: Timestamp(row.created_at),
            last_seen_at: Timestamp(row.last_seen_at),
            idle_expires_at: Timestamp(row.idle_expires_at),
            absolute_expires_at: Timestamp(row.absolute_expires_at),
            revoked_at: row.revoked_at.map(Timestamp),
        }
    }
}

for_each_engine! {
    pub(crate) async fn create(db: &Db, session: &SessionRecord) -> Result<(), StoreError> {
        let _turn = db.turn_to_write().await?;
        sqlx::query(concat!(
            "INSERT INTO sessions (",
            session_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&session.id_hash)
        .bind(&session.user_id)
        .bind(session.auth_time.0)
        .bind(session.created_at.0)
        .bind(session.last_seen_at.0)
        .bind(session.idle_expires_at.min(session.absolute_expires_at).0)
        .bind(session.absolute_expires_at.0)
        .bind(session.revoked_at.map(|t| t.0))
        .execute(&db.pool)
        .await
        .map_err(|e| or_missing(e, error))?;
        Ok(())
    }

    pub(crate) async fn get(db: &Db, id_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        let row: Option<SessionRow> =
            sqlx::query_as(concat!("SELECT ", session_columns!(), " FROM sessions WHERE id_hash = $1"))
                .bind(id_hash)
                .fetch_optional(&db.pool)
                .await
                .map_err(error)?;
        Ok(row.map(SessionRecord::from))
    }

    pub(crate) async fn touch(
        db: &Db,
        id_hash: &str,
        last_seen_at: Timestamp,
        idle_expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        let _turn = db.turn_to_write().await?;
        sqlx::query(
            "UPDATE sessions SET last_seen_at = $2,
                 idle_expires_at = CASE WHEN $3 < absolute_expires_at THEN $3
                                        ELSE absolute_expires_at END
             WHERE id_hash = $1 AND revoked_at IS NULL AND idle_expires_at > $2",
        )
        .bind(id_hash)
        .bind(last_seen_at.0)
        .bind(idle_expires_at.0)
        .execute(&db.pool)
        .await
        .map_err(error)?;
        Ok(())
    }

    pub(crate) async fn revoke(db: &Db, id_hash: &str, at: Timestamp) -> Result<bool, StoreError> {
        let _turn = db.turn_to_write().await?;
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $2
             WHERE id_hash = $1 AND revoked_at IS NULL AND idle_expires_at > $2",
        )
        .bind(id_hash)
        .bind(at.0)
        .execute(&db.pool)
        .await
        .map_err(error)?;
        Ok(done.rows_affected() > 0)
    }

    pub(crate) async fn list_for_user(
        db: &Db,
        user_id: &str,
        now: Timestamp,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let rows: Vec<SessionRow> = sqlx::query_as(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions
             WHERE user_id = $1 AND revoked_at IS NULL AND idle_expires_at > $2
             ORDER BY created_at DESC, id_hash DESC"
        ))
        .bind(user_id)
        .bind(now.0)
        .fetch_all(&db.pool)
        .await
        .map_err(error)?;
        Ok(rows.into_iter().map(SessionRecord::from).collect())
    }

    pub(crate) async fn revoke_for_user(
        db: &Db,
        user_id: &str,
        at: Timestamp,
        entry: &AuditEntry,
    ) -> Result<u64, StoreError> {
        let mut tx = begin_write(db).await?;
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $2
             WHERE user_id = $1 AND revoked_at IS NULL AND idle_expires_at > $2",
        )
        .bind(user_id)
        .bind(at.0)
        .execute(&mut *tx)
        .await
        .map_err(error)?;
        audit::finish(tx, entry).await?;
        Ok(done.rows_affected())
    }

    pub(crate) async fn put_flash(
        db: &Db,
        id_hash: &str,
        subject: &str,
        sealed: &[u8],
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        let _turn = db.turn_to_write().await?;
        sqlx::query(
            "INSERT INTO session_flashes (session_hash, subject, sealed, expires_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (session_hash, subject)
             DO UPDATE SET sealed = excluded.sealed, expires_at = excluded.expires_at",
        )
        .bind(id_hash)
        .bind(subject)
        .bind(sealed)
        .bind(expires_at.0)
        .execute(&db.pool)
        .await
        .map_err(|e| or_missing(e, error))?;
        Ok(())
    }

    pub(crate) async fn take_flash(
        db: &Db,
        id_hash: &str,
        subject: &str,
        now: Timestamp,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let _turn = db.turn_to_write().await?;
        let taken: Option<(Vec<u8>, i64)> = sqlx::query_as(
            "DELETE FROM session_flashes WHERE session_hash = $1 AND subject = $2
             RETURNING sealed, expires_at",
        )
        .bind(id_hash)
        .bind(subject)
        .fetch_optional(&db.pool)
        .await
        .map_err(error)?;
        Ok(taken.and_then(|(sealed, expires_at)| (expires_at > now.0).then_some(sealed)))
    }

    /// The idle expiry is clamped to the absolute one, so it alone tells expiry.
    pub(crate) async fn purge_expired(db: &Db, now: Timestamp) -> Result<u64, StoreError> {
        expiry::purge(db, "DELETE FROM sessions WHERE idle_expires_at <= $1 OR revoked_at <= $1", now.0)
            .await
    }
}
