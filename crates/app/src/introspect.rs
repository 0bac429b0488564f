//! Token introspection (RFC 7662). The caller authenticates as a confidential client; a
//! caller holding `admin` or `introspect` may introspect any token, any other caller only
//! its own. Everything else is `{"active": false}` with no reason given (§2.2, §4).

use serde_json::{Value, json};

use crate::{App, ClientCredentials, TokenError};

const PRIVILEGED_SCOPES: &[&str] = &["admin", "introspect"];

impl App {
    pub async fn introspect(
        &self,
        caller: &ClientCredentials,
        token: &str,
    ) -> Result<Value, TokenError> {
        let caller = self.authenticate_client(caller).await?;
        let inactive = json!({"active": false});
        let Some(active) = self.active_access_token(token).await? else {
            return Ok(inactive);
        };
        let privileged = PRIVILEGED_SCOPES
            .iter()
            .any(|scope| caller.metadata.scope.contains(scope));
        if !privileged && active.client.client_id != caller.client_id {
            return Ok(inactive);
        }
        let claims = active.claims;
        Ok(json!({
            "active": true,
            "scope": claims.scope,
            "client_id": claims.client_id,
            "token_type": "Bearer",
            "exp": claims.exp,
            "iat": claims.iat,
            "sub": claims.sub,
            "aud": claims.aud,
            "iss": claims.iss,
            "jti": claims.jti,
        }))
    }
}
