//! Token introspection (RFC 7662). The caller authenticates as a confidential client; a
//! caller holding `admin` or `introspect` may introspect any token, any other caller only
//! its own. Everything else is `{"active": false}` with no reason given (§2.2, §4).

use std::sync::Arc;

use thetasecure_core::opaque::{OpaqueKind, hash_of};

use crate::cache::VerifiedClaims;
use crate::{App, ClientCredentials, TokenError};

const PRIVILEGED_SCOPES: &[&str] = &["admin", "introspect"];

/// The introspection answer: inactive, with no reason given, or every claim of an
/// active token (with the claims as JSON, serialized once when the signature verified).
#[derive(Debug)]
pub enum Introspection {
    Inactive,
    Active(Arc<VerifiedClaims>),
    /// A refresh token that can still be used (not rotated, revoked or expired).
    ActiveRefreshToken(ActiveRefreshToken),
}

/// What introspection tells of a live refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveRefreshToken {
    pub client_id: String,
    pub sub: String,
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
}

impl App {
    pub async fn introspect(
        &self,
        caller: &ClientCredentials,
        token: &str,
    ) -> Result<Introspection, TokenError> {
        let caller = self.authenticate_client(caller).await?;
        let caller = &caller.client;
        let privileged = PRIVILEGED_SCOPES
            .iter()
            .any(|scope| caller.metadata.scope.contains(scope));
        if is_refresh_token(token) {
            let Some(refresh) = self.store().refresh_tokens().get(&hash_of(token)).await? else {
                return Ok(Introspection::Inactive);
            };
            let live = refresh.rotated_at.is_none()
                && refresh.revoked_at.is_none()
                && refresh.expires_at > self.clock().now();
            if !live || (!privileged && refresh.client_id != caller.client_id) {
                return Ok(Introspection::Inactive);
            }
            return Ok(Introspection::ActiveRefreshToken(ActiveRefreshToken {
                client_id: refresh.client_id.to_string(),
                sub: refresh.user_id,
                scope: refresh.scope,
                iat: refresh.created_at.unix_seconds(),
                exp: refresh.expires_at.unix_seconds(),
            }));
        }
        let Some(active) = self.active_access_token(token).await? else {
            return Ok(Introspection::Inactive);
        };
        if !privileged && active.client.client.client_id != caller.client_id {
            return Ok(Introspection::Inactive);
        }
        Ok(Introspection::Active(active.verified))
    }
}

/// Refresh tokens are opaque values with their own prefix; anything else is read as an
/// access token (a JWT), as it always was.
pub(crate) fn is_refresh_token(token: &str) -> bool {
    token.starts_with(OpaqueKind::RefreshToken.prefix())
}
