//! The client credentials grant (RFC 6749 §4.4). Fast by design: a keyed hash, not a
//! password hash; no write per token; the key pair is parsed once.

use thetasecure_core::grant::GrantType;
use thetasecure_core::scope::ScopeSet;
use thetasecure_core::{ErrorCode, OAuthError};

use super::TokenResponse;
use crate::{App, ClientCredentials, TokenError};

impl App {
    pub async fn client_credentials_grant(
        &self,
        credentials: &ClientCredentials,
        requested_scope: Option<&str>,
    ) -> Result<TokenResponse, TokenError> {
        let entry = self.authenticate_client(credentials).await?;
        let client = &entry.client;
        super::require_grant(client, GrantType::ClientCredentials)?;
        let scope = match requested_scope {
            None => client.metadata.scope.clone(),
            Some(raw) => {
                let requested = ScopeSet::parse(raw).map_err(|err| {
                    OAuthError::new(ErrorCode::InvalidScope, format!("scope {err}"))
                })?;
                if let Some(beyond) = requested.first_missing_from(&client.metadata.scope) {
                    return Err(OAuthError::new(
                        ErrorCode::InvalidScope,
                        format!("scope `{beyond}` is not granted to this client"),
                    )
                    .into());
                }
                requested
            }
        };
        let now = self.clock().now();
        let signed =
            self.sign_access_token(client, client.client_id.as_str(), scope.to_string(), now)?;
        self.token_issued(GrantType::ClientCredentials, &client.client_id, now);
        Ok(TokenResponse {
            access_token: signed.token,
            token_type: "Bearer",
            expires_in: signed.ttl,
            scope: signed.claims.scope,
            refresh_token: None,
            id_token: None,
        })
    }
}
