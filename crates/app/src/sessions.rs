//! Browser sessions: who is signed in on this browser. The cookie carries a random id;
//! the store keeps only its hash, with idle and absolute lifetimes, so an admin can end
//! a session everywhere and a stolen database holds no usable cookie.

use thetasecure_core::Timestamp;
use thetasecure_core::opaque::{OpaqueKind, OpaqueToken, hash_of};
use thetasecure_core::user::User;
use thetasecure_store::SessionRecord;

use crate::{AdminError, App};

/// A session not used for this long ends (OWASP ASVS 3.3.2 asks for an idle limit).
pub const SESSION_IDLE_SECONDS: i64 = 30 * 60;
/// However active, a session ends this long after sign-in (ASVS 3.3.4).
pub const SESSION_ABSOLUTE_SECONDS: i64 = 12 * 3600;

/// A live session and its user.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: User,
    /// When the user last proved their password (OIDC `auth_time`).
    pub auth_time: Timestamp,
    /// The stored key of the session, to bind codes and tokens to it.
    pub session_hash: String,
}

fn store_error(error: thetasecure_store::StoreError) -> AdminError {
    AdminError::from_store(error, "session")
}

impl App {
    /// A new session for `user`, who just signed in; the value is for the cookie, once.
    /// A new id every time, never the one the browser had (session fixation).
    pub async fn start_session(&self, user: &User) -> Result<OpaqueToken, AdminError> {
        let token = OpaqueToken::generate(OpaqueKind::Session);
        let now = self.clock().now();
        let record = SessionRecord {
            id_hash: token.hash(),
            user_id: user.id.clone(),
            auth_time: now,
            created_at: now,
            last_seen_at: now,
            idle_expires_at: now.plus_seconds(SESSION_IDLE_SECONDS),
            absolute_expires_at: now.plus_seconds(SESSION_ABSOLUTE_SECONDS),
            revoked_at: None,
        };
        self.store()
            .sessions()
            .create(&record)
            .await
            .map_err(store_error)?;
        Ok(token)
    }

    /// The session a cookie names, if it is live and its user active; using it moves its
    /// idle expiry forward.
    pub async fn session(&self, cookie: &str) -> Result<Option<SignedIn>, AdminError> {
        let id_hash = hash_of(cookie);
        let sessions = self.store().sessions();
        let Some(record) = sessions.get(&id_hash).await.map_err(store_error)? else {
            return Ok(None);
        };
        let now = self.clock().now();
        if !record.is_live(now) {
            return Ok(None);
        }
        let user = match self.store().users().get(&record.user_id).await {
            Ok(Some(user)) if user.is_active() => user,
            Ok(_) => return Ok(None),
            Err(error) => return Err(store_error(error)),
        };
        let idle_expires_at = now
            .plus_seconds(SESSION_IDLE_SECONDS)
            .min(record.absolute_expires_at);
        sessions
            .touch(&id_hash, now, idle_expires_at)
            .await
            .map_err(store_error)?;
        Ok(Some(SignedIn {
            user,
            auth_time: record.auth_time,
            session_hash: id_hash,
        }))
    }

    /// Ends the session a cookie names, if any.
    pub async fn end_session(&self, cookie: &str) -> Result<(), AdminError> {
        self.store()
            .sessions()
            .revoke(&hash_of(cookie), self.clock().now())
            .await
            .map_err(store_error)?;
        Ok(())
    }
}
