//! The token (RFC 6749 §5.1) and introspection (RFC 7662 §2.2) response bodies: the hot
//! path, so written directly rather than through a serializer, each checked against
//! what serde would write.

use serde::Serialize;
use thetasecure_app::introspect::Introspection;
use thetasecure_app::token::TokenResponse;

/// The token response as serde writes it: the fallback, and the reference in tests.
#[derive(Serialize)]
struct TokenBody<'a> {
    access_token: &'a str,
    token_type: &'a str,
    expires_in: u32,
    scope: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<&'a str>,
}

impl<'a> From<&'a TokenResponse> for TokenBody<'a> {
    fn from(response: &'a TokenResponse) -> Self {
        Self {
            access_token: &response.access_token,
            token_type: response.token_type,
            expires_in: response.expires_in,
            scope: &response.scope,
            refresh_token: response.refresh_token.as_deref(),
            id_token: response.id_token.as_deref(),
        }
    }
}

/// Written directly: serde's escaping scan over a 400-byte access token cost 6k
/// instructions per token, and an access token is base64url segments joined by dots,
/// which JSON never escapes. Anything else is escaped as usual.
/// Only the client credentials answer, the hot path, is written by hand.
pub fn token_response(response: &TokenResponse) -> String {
    if response.refresh_token.is_some()
        || response.id_token.is_some()
        || needs_json_escape(&response.access_token)
    {
        return serde_json::to_string(&TokenBody::from(response)).unwrap_or_default();
    }
    let scope = serde_json::to_string(&response.scope).unwrap_or_default();
    let token_type = serde_json::to_string(response.token_type).unwrap_or_default();
    let mut body = String::with_capacity(response.access_token.len() + scope.len() + 80);
    body.push_str(r#"{"access_token":""#);
    body.push_str(&response.access_token);
    body.push_str(r#"","token_type":"#);
    body.push_str(&token_type);
    body.push_str(r#","expires_in":"#);
    body.push_str(&response.expires_in.to_string());
    body.push_str(r#","scope":"#);
    body.push_str(&scope);
    body.push('}');
    body
}

/// A live refresh token as introspection shows it (RFC 7662 §2.2).
#[derive(Serialize)]
struct RefreshTokenBody<'a> {
    active: bool,
    token_type: &'a str,
    client_id: &'a str,
    sub: &'a str,
    scope: &'a str,
    iat: i64,
    exp: i64,
}

/// Whether JSON would escape any byte of `text` (RFC 8259 §7). Without an early exit, so
/// the compiler can check many bytes per instruction.
fn needs_json_escape(text: &str) -> bool {
    text.bytes().fold(false, |found, b| {
        found | (b < 0x20 || b == b'"' || b == b'\\')
    })
}

/// An active token's claims were serialized once, when its signature was verified; they
/// are spliced in here, not serialized again.
pub fn introspection(answer: &Introspection) -> String {
    match answer {
        Introspection::Inactive => r#"{"active":false}"#.to_owned(),
        Introspection::ActiveRefreshToken(refresh) => serde_json::to_string(&RefreshTokenBody {
            active: true,
            token_type: "refresh_token",
            client_id: &refresh.client_id,
            sub: &refresh.sub,
            scope: &refresh.scope,
            iat: refresh.iat,
            exp: refresh.exp,
        })
        .unwrap_or_default(),
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::{Value, json};
    use thetasecure_app::cache::VerifiedClaims;
    use thetasecure_core::Timestamp;
    use thetasecure_core::ids::ClientId;
    use thetasecure_core::token::AccessTokenClaims;

    use super::*;

    #[test]
    fn the_token_body_is_what_serde_would_write() {
        for access_token in ["eyJh.eyJz.c2ln-_", "not \"plain\""] {
            let response = TokenResponse {
                access_token: access_token.to_owned(),
                token_type: "Bearer",
                expires_in: 3600,
                scope: "a b:c".to_owned(),
                refresh_token: None,
                id_token: None,
            };
            let written: Value = serde_json::from_str(&token_response(&response)).unwrap();
            let reference = serde_json::to_value(TokenBody::from(&response)).unwrap();
            assert_eq!(written, reference);
            assert_eq!(written["access_token"], access_token);
        }
        let refreshable = TokenResponse {
            access_token: "a.b.c".to_owned(),
            token_type: "Bearer",
            expires_in: 60,
            scope: "openid offline_access".to_owned(),
            refresh_token: Some("tsr_x".to_owned()),
            id_token: Some("h.p.s".to_owned()),
        };
        let written: Value = serde_json::from_str(&token_response(&refreshable)).unwrap();
        assert_eq!(written["refresh_token"], "tsr_x");
        assert_eq!(written["id_token"], "h.p.s");
    }

    #[test]
    fn the_introspection_body_carries_every_claim_with_active_and_token_type() {
        let claims = AccessTokenClaims {
            iss: "https://id.example".into(),
            sub: "ts_\"x".into(),
            aud: "https://id.example".into(),
            exp: 2_000,
            iat: 1_000,
            jti: "j".into(),
            client_id: "ts_x".into(),
            scope: "a b".into(),
        };
        let verified = VerifiedClaims {
            json: serde_json::to_string(&claims).unwrap().into(),
            claims: claims.clone(),
            client_id: ClientId::generate(),
            issued_at: Timestamp(1_000),
        };
        let active = Introspection::Active(Arc::new(verified));
        let mut expected = serde_json::to_value(&claims).unwrap();
        expected["active"] = json!(true);
        expected["token_type"] = json!("Bearer");
        let body: Value = serde_json::from_str(&introspection(&active)).unwrap();
        assert_eq!(body, expected);
        let inactive: Value =
            serde_json::from_str(&introspection(&Introspection::Inactive)).unwrap();
        assert_eq!(inactive, json!({"active": false}));
    }
}
