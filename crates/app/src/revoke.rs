//! Token revocation (RFC 7009). A client may revoke only its own tokens; for anyone
//! else's, or for a token we do not recognise, the answer is 200 and nothing changes
//! (§2.2; SECURITY V6: the other client's token survives). A storage failure is an error,
//! never a 200 (fosite CVE-2020-15223).

use thetasecure_core::Timestamp;
use thetasecure_store::RevokedAccessToken;

use crate::{App, ClientCredentials, TokenError};

impl App {
    pub async fn revoke_token(
        &self,
        caller: &ClientCredentials,
        token: &str,
    ) -> Result<(), TokenError> {
        let caller = self.authenticate_client(caller).await?;
        let caller = &caller.client;
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
