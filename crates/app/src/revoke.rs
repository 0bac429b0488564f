//! Token revocation (RFC 7009). A client may revoke only its own tokens; for anyone
//! else's, or for a token we do not recognise, the answer is 200 and nothing changes
//! (§2.2; SECURITY V6: the other client's token survives). A storage failure is an error,
//! never a 200 (fosite CVE-2020-15223).

use thetasecure_core::Timestamp;
use thetasecure_core::opaque::hash_of;
use thetasecure_store::RevokedAccessToken;

use crate::client_auth::ClientAuthentication;
use crate::introspect::is_refresh_token;
use crate::{App, TokenError};

impl App {
    /// Public clients may revoke their own tokens too (RFC 7009 §2.1): a native app
    /// signing its user out revokes its refresh token, and with it the whole family
    /// and the access tokens issued from it (SPEC 5).
    pub async fn revoke_token(
        &self,
        caller: &ClientAuthentication,
        token: &str,
    ) -> Result<(), TokenError> {
        let caller = self.authenticate(caller).await?;
        let caller = &caller.client;
        if is_refresh_token(token) {
            let tokens = self.store().refresh_tokens();
            if let Some(refresh) = tokens.get(&hash_of(token)).await?
                && refresh.client_id == caller.client_id
            {
                let revoked = tokens
                    .revoke_family(&refresh.family_id, self.clock().now(), None)
                    .await?;
                self.forget_revoked(&revoked);
            }
            return Ok(());
        }
        let Some(active) = self.active_access_token(token).await? else {
            return Ok(());
        };
        if active.client.client.client_id != caller.client_id {
            return Ok(());
        }
        let revoked = RevokedAccessToken {
            jti: active.claims().jti.clone(),
            client_id: caller.client_id.clone(),
            expires_at: Timestamp::from_unix_seconds(active.claims().exp),
        };
        self.store().tokens().revoke_access_token(&revoked).await?;
        self.forget_token(token);
        Ok(())
    }
}
