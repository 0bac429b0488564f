//! Token introspection (RFC 7662). The caller authenticates as a confidential client; a
//! caller holding `admin` or `introspect` may introspect any token, any other caller only
//! its own. Everything else is `{"active": false}` with no reason given (§2.2, §4).

use std::sync::Arc;

use crate::cache::VerifiedClaims;
use crate::{App, ClientCredentials, TokenError};

const PRIVILEGED_SCOPES: &[&str] = &["admin", "introspect"];

/// The introspection answer: inactive, with no reason given, or every claim of an
/// active token.
#[derive(Debug)]
pub enum Introspection {
    Inactive,
    Active(Arc<VerifiedClaims>),
}

impl Introspection {
    /// The RFC 7662 §2.2 response body. An active token's claims were serialized once,
    /// when its signature was verified; they are spliced in here, not serialized again.
    pub fn to_json(&self) -> String {
        match self {
            Introspection::Inactive => r#"{"active":false}"#.to_owned(),
            Introspection::Active(verified) => {
                let members = verified.json.strip_prefix('{').unwrap_or("}");
                let mut body = String::with_capacity(members.len() + 40);
                body.push_str(r#"{"active":true,"token_type":"Bearer""#);
                if members != "}" {
                    body.push(',');
                }
                body.push_str(members);
                body
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use thetasecure_core::Timestamp;
    use thetasecure_core::token::AccessTokenClaims;

    use crate::token::access::test_claims;

    #[test]
    fn the_response_carries_every_claim_with_active_and_token_type() {
        let claims = AccessTokenClaims {
            sub: "ts_\"x".into(),
            scope: "a b".into(),
            ..test_claims(Timestamp(1_000))
        };
        let active = Introspection::Active(Arc::new(VerifiedClaims::new(claims.clone()).unwrap()));
        let mut expected = serde_json::to_value(&claims).unwrap();
        expected["active"] = json!(true);
        expected["token_type"] = json!("Bearer");
        let body: Value = serde_json::from_str(&active.to_json()).unwrap();
        assert_eq!(body, expected);
        let inactive: Value = serde_json::from_str(&Introspection::Inactive.to_json()).unwrap();
        assert_eq!(inactive, json!({"active": false}));
    }
}
