//! Authorization-server metadata (RFC 8414, OIDC Discovery 1.0), built from what is
//! actually configured and implemented, so it cannot advertise what the server lacks.

use serde::Serialize;

use crate::grant::{AuthMethod, GrantType, ResponseType};
use crate::oidc;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerMetadata {
    pub issuer: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: String,
    pub jwks_uri: String,
    pub introspection_endpoint: String,
    pub revocation_endpoint: String,
    /// OIDC RP-Initiated Logout 1.0 §2.1; served with the other browser pages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<String>,
    pub scopes_supported: Vec<String>,
    /// REQUIRED by RFC 8414 even when no authorization endpoint is served yet.
    pub response_types_supported: Vec<&'static str>,
    /// Listed explicitly: the RFC 8414 default would advertise implicit.
    pub grant_types_supported: Vec<&'static str>,
    pub token_endpoint_auth_methods_supported: Vec<&'static str>,
    pub introspection_endpoint_auth_methods_supported: Vec<&'static str>,
    pub revocation_endpoint_auth_methods_supported: Vec<&'static str>,
    pub code_challenge_methods_supported: Vec<&'static str>,
    pub authorization_response_iss_parameter_supported: bool,
    /// OpenID Connect Discovery 1.0 §3, present when ID tokens are issued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userinfo_endpoint: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub id_token_signing_alg_values_supported: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subject_types_supported: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub claims_supported: Vec<&'static str>,
}

/// What the server implements, as the metadata builder needs to know it.
pub struct Capabilities<'a> {
    pub grant_types: &'a [GrantType],
    pub response_types: &'a [ResponseType],
    pub pkce_methods: &'a [&'static str],
    /// Whether `/oauth2/authorize` is served; it is not until the authorization-code flow lands.
    pub authorization_endpoint: bool,
    pub scopes: Vec<String>,
    /// The JWS `alg` of ID tokens, when OpenID Connect is served (it needs the code flow).
    pub id_token_signing_alg: Option<&'static str>,
}

impl ServerMetadata {
    pub fn build(issuer: &str, capabilities: Capabilities<'_>) -> Self {
        let issuer = issuer.trim_end_matches('/').to_owned();
        let openid =
            capabilities.authorization_endpoint && capabilities.id_token_signing_alg.is_some();
        let secret_methods = vec![
            AuthMethod::ClientSecretBasic.as_str(),
            AuthMethod::ClientSecretPost.as_str(),
        ];
        Self {
            authorization_endpoint: capabilities
                .authorization_endpoint
                .then(|| format!("{issuer}/oauth2/authorize")),
            token_endpoint: format!("{issuer}/oauth2/token"),
            jwks_uri: format!("{issuer}/oauth2/jwks"),
            introspection_endpoint: format!("{issuer}/oauth2/introspect"),
            revocation_endpoint: format!("{issuer}/oauth2/revoke"),
            end_session_endpoint: capabilities
                .authorization_endpoint
                .then(|| format!("{issuer}/logout")),
            scopes_supported: capabilities.scopes,
            response_types_supported: capabilities
                .response_types
                .iter()
                .map(|r| r.as_str())
                .collect(),
            grant_types_supported: capabilities
                .grant_types
                .iter()
                .map(|g| g.as_str())
                .collect(),
            // Public clients (`none`) use the token endpoint only for the code flow.
            token_endpoint_auth_methods_supported: if capabilities.authorization_endpoint {
                [secret_methods.as_slice(), &[AuthMethod::None.as_str()]].concat()
            } else {
                secret_methods.clone()
            },
            introspection_endpoint_auth_methods_supported: secret_methods.clone(),
            revocation_endpoint_auth_methods_supported: secret_methods,
            code_challenge_methods_supported: capabilities.pkce_methods.to_vec(),
            authorization_response_iss_parameter_supported: capabilities.authorization_endpoint,
            userinfo_endpoint: openid.then(|| format!("{issuer}/oauth2/userinfo")),
            id_token_signing_alg_values_supported: capabilities
                .id_token_signing_alg
                .filter(|_| openid)
                .into_iter()
                .collect(),
            subject_types_supported: if openid {
                oidc::SUBJECT_TYPES_SUPPORTED.to_vec()
            } else {
                Vec::new()
            },
            claims_supported: if openid {
                oidc::CLAIMS_SUPPORTED.to_vec()
            } else {
                Vec::new()
            },
            issuer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_only_what_it_is_given() {
        let metadata = ServerMetadata::build(
            "https://id.example.com/",
            Capabilities {
                grant_types: &[GrantType::ClientCredentials],
                response_types: &[],
                pkce_methods: &[],
                authorization_endpoint: false,
                scopes: vec!["admin".into()],
                id_token_signing_alg: Some("RS256"),
            },
        );
        assert_eq!(metadata.issuer, "https://id.example.com");
        assert_eq!(
            metadata.token_endpoint,
            "https://id.example.com/oauth2/token"
        );
        assert_eq!(metadata.grant_types_supported, ["client_credentials"]);
        let json = serde_json::to_value(&metadata).unwrap();
        assert!(json.get("authorization_endpoint").is_none());
        assert!(json.get("end_session_endpoint").is_none());
        assert!(!json.to_string().contains("implicit"));
        // No code flow, no ID tokens: nothing of OpenID Connect is claimed.
        for member in [
            "userinfo_endpoint",
            "id_token_signing_alg_values_supported",
            "subject_types_supported",
            "claims_supported",
        ] {
            assert!(json.get(member).is_none(), "{member}");
        }
        assert_eq!(
            metadata.token_endpoint_auth_methods_supported,
            ["client_secret_basic", "client_secret_post"]
        );
    }

    #[test]
    fn the_code_flow_brings_its_endpoint_pkce_and_public_clients() {
        let metadata = ServerMetadata::build(
            "https://id.example.com",
            Capabilities {
                grant_types: &[GrantType::AuthorizationCode, GrantType::RefreshToken],
                response_types: &[ResponseType::Code],
                pkce_methods: &["S256"],
                authorization_endpoint: true,
                scopes: vec!["openid".into()],
                id_token_signing_alg: Some("RS256"),
            },
        );
        assert_eq!(
            metadata.authorization_endpoint.as_deref(),
            Some("https://id.example.com/oauth2/authorize")
        );
        assert_eq!(
            metadata.end_session_endpoint.as_deref(),
            Some("https://id.example.com/logout")
        );
        assert_eq!(metadata.response_types_supported, ["code"]);
        assert_eq!(metadata.code_challenge_methods_supported, ["S256"]);
        assert!(metadata.authorization_response_iss_parameter_supported);
        assert_eq!(
            metadata.token_endpoint_auth_methods_supported,
            ["client_secret_basic", "client_secret_post", "none"]
        );
        assert_eq!(
            metadata.introspection_endpoint_auth_methods_supported,
            ["client_secret_basic", "client_secret_post"]
        );
        assert_eq!(
            metadata.userinfo_endpoint.as_deref(),
            Some("https://id.example.com/oauth2/userinfo")
        );
        assert_eq!(metadata.id_token_signing_alg_values_supported, ["RS256"]);
        assert_eq!(metadata.subject_types_supported, ["public"]);
        assert!(metadata.claims_supported.contains(&"nonce"));
    }
}
