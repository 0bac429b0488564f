//! The token endpoint's grants, one file each.

pub mod access;
mod client_credentials;
mod revocation_rechecks;

pub(crate) use revocation_rechecks::RevocationRechecks;

use std::sync::OnceLock;

use serde::Serialize;
use thetasecure_core::grant::GrantType;
use thetasecure_core::{ErrorCode, OAuthError};

use crate::{App, ClientCredentials, TokenError};

/// The grants the token endpoint serves. Parsed before the client is authenticated, so
/// a request for a grant this server does not serve is refused as such (RFC 6749 §5.2).
pub fn requested_grant(grant_type: Option<&str>) -> Result<GrantType, TokenError> {
    let grant_type =
        grant_type.ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
    match GrantType::parse(grant_type) {
        Some(grant @ GrantType::ClientCredentials) => Ok(grant),
        _ => Err(unsupported(grant_type)),
    }
}

fn unsupported(grant_type: &str) -> TokenError {
    OAuthError::new(
        ErrorCode::UnsupportedGrantType,
        format!("grant_type `{grant_type}` is not supported here"),
    )
    .into()
}

impl App {
    /// Issues a token for `grant` (from [`requested_grant`]).
    pub async fn grant(
        &self,
        grant: GrantType,
        credentials: &ClientCredentials,
        requested_scope: Option<&str>,
    ) -> Result<TokenResponse, TokenError> {
        match grant {
            GrantType::ClientCredentials => {
                self.client_credentials_grant(credentials, requested_scope)
                    .await
            }
            other => Err(unsupported(other.as_str())),
        }
    }
}

/// The `thetasecure_tokens_issued_total` counters by grant, registered at the first token
/// rather than through the macro on every one (label hashing and a registry lookup per
/// token). The binary installs its recorder before it serves, so the first token finds it.
#[derive(Default)]
pub(crate) struct TokensIssued {
    client_credentials: OnceLock<metrics::Counter>,
}

impl TokensIssued {
    pub(crate) fn client_credentials(&self) -> &metrics::Counter {
        self.client_credentials.get_or_init(|| {
            metrics::counter!("thetasecure_tokens_issued_total", "grant_type" => "client_credentials")
        })
    }
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u32,
    pub scope: String,
}

impl TokenResponse {
    /// The response body. Written directly: serde's escaping scan over a 400-byte access
    /// token cost 6k instructions per token, and an access token is base64url segments
    /// joined by dots, which JSON never escapes. Anything else is escaped as usual.
    pub fn to_json(&self) -> String {
        if needs_json_escape(&self.access_token) {
            return serde_json::to_string(self).unwrap_or_default();
        }
        let scope = serde_json::to_string(&self.scope).unwrap_or_default();
        let token_type = serde_json::to_string(self.token_type).unwrap_or_default();
        let mut body = String::with_capacity(self.access_token.len() + scope.len() + 80);
        body.push_str(r#"{"access_token":""#);
        body.push_str(&self.access_token);
        body.push_str(r#"","token_type":"#);
        body.push_str(&token_type);
        body.push_str(r#","expires_in":"#);
        body.push_str(&self.expires_in.to_string());
        body.push_str(r#","scope":"#);
        body.push_str(&scope);
        body.push('}');
        body
    }
}

/// Whether JSON would escape any byte of `text` (RFC 8259 §7). Without an early exit, so
/// the compiler can check many bytes per instruction.
fn needs_json_escape(text: &str) -> bool {
    text.bytes().fold(false, |found, b| {
        found | (b < 0x20 || b == b'"' || b == b'\\')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_what_serde_would_write() {
        for access_token in ["eyJh.eyJz.c2ln-_", "not \"plain\""] {
            let response = TokenResponse {
                access_token: access_token.to_owned(),
                token_type: "Bearer",
                expires_in: 3600,
                scope: "a b:c".to_owned(),
            };
            let written: serde_json::Value = serde_json::from_str(&response.to_json()).unwrap();
            assert_eq!(written, serde_json::to_value(&response).unwrap());
        }
    }
}
