//! Browser sessions: who is signed in on this browser. The cookie carries a random id;
//! the store keeps only its hash, with idle and absolute lifetimes, so an admin can end
//! a session everywhere and a stolen database holds no usable cookie.

use thetasecure_core::Timestamp;
use thetasecure_core::opaque::{OpaqueKind, OpaqueToken, hash_of};
use thetasecure_core::secret::PlainSecret;
use thetasecure_core::user::User;
use thetasecure_store::SessionRecord;

use crate::{AdminError, App};

/// A session not used for this long ends (OWASP ASVS 3.3.2 asks for an idle limit).
pub const SESSION_IDLE_SECONDS: i64 = 30 * 60;
/// However active, a session ends this long after sign-in (ASVS 3.3.4).
pub const SESSION_ABSOLUTE_SECONDS: i64 = 12 * 3600;

/// How long a secret just created or rotated waits, sealed, for the one page that shows
/// it: long enough for the redirect after the form, short enough not to linger.
pub const SECRET_FLASH_SECONDS: i64 = 5 * 60;

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

/// Where a client's secret waits for its session, and what the sealing is bound to.
fn secret_flash(session: &SignedIn, client_id: &str) -> (String, String) {
    let subject = format!("client_secret:{client_id}");
    let context = format!(
        "thetasecure console flash v1\0{}\0{subject}",
        session.session_hash
    );
    (subject, context)
}

impl App {
    /// Keeps a secret just issued for this session's next view of the client, sealed
    /// under the server key (the store never holds it in the clear): the console shows a
    /// secret on the page after the form, once, and a reload must not show it again.
    pub async fn hold_secret_for_session(
        &self,
        session: &SignedIn,
        client_id: &str,
        secret: &PlainSecret,
    ) -> Result<(), AdminError> {
        let (subject, context) = secret_flash(session, client_id);
        let sealed = self.0.server_key.seal(&context, secret.expose().as_bytes());
        let expires_at = self.clock().now().plus_seconds(SECRET_FLASH_SECONDS);
        self.store()
            .sessions()
            .put_flash(&session.session_hash, &subject, &sealed, expires_at)
            .await
            .map_err(store_error)
    }

    /// The secret held for this session and client, removed as it is read: whoever asks
    /// next gets none.
    pub async fn take_secret_for_session(
        &self,
        session: &SignedIn,
        client_id: &str,
    ) -> Result<Option<PlainSecret>, AdminError> {
        let (subject, context) = secret_flash(session, client_id);
        let Some(sealed) = self
            .store()
            .sessions()
            .take_flash(&session.session_hash, &subject, self.clock().now())
            .await
            .map_err(store_error)?
        else {
            return Ok(None);
        };
        let opened = self
            .0
            .server_key
            .open(&context, &sealed)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok());
        // Not ours to open (another server key): as good as none; it is gone either way.
        Ok(opened.map(PlainSecret::new))
    }
}
