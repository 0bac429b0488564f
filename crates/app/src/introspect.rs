//! Token introspection (RFC 7662). The caller authenticates as a confidential client; a
//! caller holding `admin` or `introspect` may introspect any token, any other caller only
//! its own. Everything else is `{"active": false}` with no reason given (§2.2, §4).

use std::sync::Arc;

use crate::cache::VerifiedClaims;
use crate::{App, ClientCredentials, TokenError};

const PRIVILEGED_SCOPES: &[&str] = &["admin", "introspect"];

/// The introspection answer: inactive, with no reason given, or every claim of an
/// active token (with the claims as JSON, serialized once when the signature verified).
#[derive(Debug)]
pub enum Introspection {
    Inactive,
    Active(Arc<VerifiedClaims>),
}

impl App {
    pub async fn introspect(
        &self,
        caller: &ClientCredentials,
        token: &str,
    ) -> Result<Introspection, TokenError> {
        let caller = self.authenticate_client(caller).await?;
        let caller = &caller.client;
        let Some(active) = self.active_access_token(token).await? else {
            return Ok(Introspection::Inactive);
        };
        let privileged = PRIVILEGED_SCOPES
            .iter()
            .any(|scope| caller.metadata.scope.contains(scope));
        if !privileged && active.client.client.client_id != caller.client_id {
            return Ok(Introspection::Inactive);
        }
        Ok(Introspection::Active(active.verified))
    }
}
