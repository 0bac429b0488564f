//! The token endpoint's grants, one file each.

pub mod access;
mod client_credentials;

use serde::Serialize;

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u32,
    pub scope: String,
}
