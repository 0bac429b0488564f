//! The token endpoint's grants, one file each.

pub mod access;
mod client_credentials;
mod revocation_rechecks;

pub(crate) use revocation_rechecks::RevocationRechecks;

use std::sync::OnceLock;

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

/// A successful token response (RFC 6749 §5.1); the web layer writes it.
#[derive(Debug)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u32,
    pub scope: String,
}
