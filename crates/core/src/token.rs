//! Access-token claims (RFC 9068 §2.2).

use serde::{Deserialize, Serialize};

/// The claims of a JWT access token. `sub` is the client for client_credentials tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub client_id: String,
    pub scope: String,
}

/// Default lifetime of an access token when the client sets none.
pub const DEFAULT_ACCESS_TOKEN_TTL_SECONDS: u32 = 3600;

/// The media type in the JOSE header of RFC 9068 access tokens.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
