//! Token introspection (RFC 7662). The caller authenticates as a confidential client; a
//! caller holding `admin` or `introspect` may introspect any token, any other caller only
//! its own. Everything else is `{"active": false}` with no reason given (§2.2, §4).

use std::sync::Arc;

use serde::Serialize;
use thetasecure_core::token::AccessTokenClaims;

use crate::{App, ClientCredentials, TokenError};

const PRIVILEGED_SCOPES: &[&str] = &["admin", "introspect"];

/// The introspection response: `active: false` alone, or every claim of an active token.
#[derive(Debug, Serialize)]
pub struct Introspection {
    pub active: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub token: Option<ActiveTokenInfo>,
}

#[derive(Debug, Serialize)]
pub struct ActiveTokenInfo {
    pub token_type: &'static str,
    #[serde(flatten)]
    pub claims: Arc<AccessTokenClaims>,
}

impl App {
    pub async fn introspect(
        &self,
        caller: &ClientCredentials,
        token: &str,
    ) -> Result<Introspection, TokenError> {
        let caller = self.authenticate_client(caller).await?;
        let caller = &caller.client;
        let inactive = Introspection {
            active: false,
            token: None,
        };
        let Some(active) = self.active_access_token(token).await? else {
            return Ok(inactive);
        };
        let privileged = PRIVILEGED_SCOPES
            .iter()
            .any(|scope| caller.metadata.scope.contains(scope));
        if !privileged && active.client.client.client_id != caller.client_id {
            return Ok(inactive);
        }
        Ok(Introspection {
            active: true,
            token: Some(ActiveTokenInfo {
                token_type: "Bearer",
                claims: active.claims,
            }),
        })
    }
}
