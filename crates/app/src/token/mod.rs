//! The token endpoint's grants, one file each.

pub mod access;
mod authorization_code;
mod client_credentials;
mod password;
mod refresh;
mod revocation_rechecks;

pub(crate) use revocation_rechecks::RevocationRechecks;

use std::sync::{Arc, OnceLock};

use thetasecure_core::client::Client;
use thetasecure_core::grant::GrantType;
use thetasecure_core::oidc::{IdTokenClaims, IdTokenInput};
use thetasecure_core::{ErrorCode, OAuthError};

use crate::keys::{SigningAlg, SigningKey};

use crate::client_auth::ClientAuthentication;
use crate::{App, TokenError};

impl App {
    /// The grants the token endpoint serves. Parsed before the client is authenticated,
    /// so a request for a grant this server does not serve (the password grant unless
    /// enabled, SECURITY E5) is refused as such (RFC 6749 §5.2).
    pub fn requested_grant(&self, grant_type: Option<&str>) -> Result<GrantType, TokenError> {
        let grant_type =
            grant_type.ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
        match GrantType::parse(grant_type) {
            Some(
                grant @ (GrantType::ClientCredentials
                | GrantType::AuthorizationCode
                | GrantType::RefreshToken),
            ) => Ok(grant),
            Some(GrantType::Password) if self.settings().allow_password_grant => {
                Ok(GrantType::Password)
            }
            _ => Err(unsupported(grant_type)),
        }
    }
}

fn unsupported(grant_type: &str) -> TokenError {
    OAuthError::new(
        ErrorCode::UnsupportedGrantType,
        format!("grant_type `{grant_type}` is not supported here"),
    )
    .into()
}

/// A token request's parameters besides the grant type and the client's credentials.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenRequest<'a> {
    pub scope: Option<&'a str>,
    pub code: Option<&'a str>,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
    pub refresh_token: Option<&'a str>,
    /// The password grant's resource owner credentials (RFC 6749 §4.3.2).
    pub username: Option<&'a str>,
    pub password: Option<&'a str>,
}

impl App {
    /// Issues tokens for `grant` (from [`App::requested_grant`]).
    pub async fn grant(
        &self,
        grant: GrantType,
        client: &ClientAuthentication,
        request: &TokenRequest<'_>,
    ) -> Result<TokenResponse, TokenError> {
        match (grant, client) {
            (GrantType::ClientCredentials, ClientAuthentication::Secret(credentials)) => {
                self.client_credentials_grant(credentials, request.scope)
                    .await
            }
            // Public clients never get client_credentials: they hold nothing to prove.
            (GrantType::ClientCredentials, ClientAuthentication::Public { .. }) => Err(
                TokenError::InvalidClient("client authentication is required"),
            ),
            (GrantType::AuthorizationCode, client) => {
                self.authorization_code_grant(client, request).await
            }
            (GrantType::RefreshToken, client) => self.refresh_token_grant(client, request).await,
            (GrantType::Password, ClientAuthentication::Secret(credentials)) => {
                self.password_grant(credentials, request).await
            }
            // Only confidential clients may hold the password grant (SPEC 9).
            (GrantType::Password, ClientAuthentication::Public { .. }) => Err(
                TokenError::InvalidClient("client authentication is required"),
            ),
        }
    }
}

/// A signed access token for `client`, on behalf of `subject`, with its claims and
/// lifetime (the client's own, or the server's).
pub(crate) struct SignedAccessToken {
    pub token: String,
    pub claims: thetasecure_core::token::AccessTokenClaims,
    pub ttl: u32,
}

impl App {
    pub(crate) fn sign_access_token(
        &self,
        client: &Client,
        subject: &str,
        scope: String,
        now: thetasecure_core::Timestamp,
    ) -> Result<SignedAccessToken, TokenError> {
        let ttl = client
            .metadata
            .access_token_ttl_seconds
            .unwrap_or(self.settings().access_token_ttl_seconds);
        let claims = access::access_token_claims(
            self.issuer(),
            subject,
            client.client_id.as_str(),
            scope,
            now,
            ttl,
        );
        let token = self
            .signing_key(self.settings().signing_alg)?
            .sign_access_token(&claims)
            .map_err(|e| TokenError::Internal(Box::new(e)))?;
        Ok(SignedAccessToken { token, claims, ttl })
    }

    /// An OpenID Connect ID token (OIDC Core §2) for the sign-in `input` describes, signed
    /// with the active key of the ID-token algorithm.
    pub(crate) fn sign_id_token<'a>(
        &self,
        input: impl FnOnce(&'static str) -> IdTokenInput<'a>,
    ) -> Result<String, TokenError> {
        let key = self.signing_key(self.settings().id_token_signing_alg)?;
        let claims = IdTokenClaims::new(input(key.alg().as_str())).ok_or_else(|| {
            TokenError::Internal(Box::new(crate::error::InternalFailure(format!(
                "no at_hash for {}",
                key.alg()
            ))))
        })?;
        key.sign_id_token(&claims)
            .map_err(|e| TokenError::Internal(Box::new(e)))
    }

    /// The active key of `alg`; every algorithm the settings use has one from the start.
    fn signing_key(&self, alg: SigningAlg) -> Result<Arc<SigningKey>, TokenError> {
        self.0.keys.current().active(alg).cloned().ok_or_else(|| {
            TokenError::Internal(Box::new(crate::error::InternalFailure(format!(
                "no active {alg} signing key"
            ))))
        })
    }
}

/// Refuses a client not registered for `grant` (RFC 6749 §5.2 `unauthorized_client`).
pub(crate) fn require_grant(client: &Client, grant: GrantType) -> Result<(), TokenError> {
    if client.metadata.allows_grant(grant) {
        Ok(())
    } else {
        Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            format!("this client is not registered for the {grant} grant"),
        )
        .into())
    }
}

/// `invalid_grant` with the one description every unusable code or refresh token gets,
/// so a caller learns nothing about which check failed (RFC 6749 §5.2).
pub(crate) fn invalid_grant(what: &str) -> TokenError {
    OAuthError::new(
        ErrorCode::InvalidGrant,
        format!("the {what} is invalid, expired, revoked or was issued to another client"),
    )
    .into()
}

/// The `thetasecure_tokens_issued_total` counters by grant, registered at the first token
/// rather than through the macro on every one (label hashing and a registry lookup per
/// token). The binary installs its recorder before it serves, so the first token finds it.
#[derive(Default)]
pub(crate) struct TokensIssued {
    client_credentials: OnceLock<metrics::Counter>,
    authorization_code: OnceLock<metrics::Counter>,
    refresh_token: OnceLock<metrics::Counter>,
    password: OnceLock<metrics::Counter>,
}

impl App {
    /// Counts an access token issued to `client_id` by `grant`: the metric, and the
    /// client's usage for the console (noted in memory, written by the next flush).
    pub(crate) fn token_issued(
        &self,
        grant: GrantType,
        client_id: &thetasecure_core::ids::ClientId,
        now: thetasecure_core::Timestamp,
    ) {
        let issued = &self.0.tokens_issued;
        let counter = match grant {
            GrantType::ClientCredentials => issued.client_credentials(),
            GrantType::AuthorizationCode => issued.authorization_code(),
            GrantType::RefreshToken => issued.refresh_token(),
            GrantType::Password => issued.password(),
        };
        counter.increment(1);
        self.0.usage.token_issued(client_id, now);
    }
}

impl TokensIssued {
    fn client_credentials(&self) -> &metrics::Counter {
        self.client_credentials.get_or_init(|| {
            metrics::counter!("thetasecure_tokens_issued_total", "grant_type" => "client_credentials")
        })
    }

    fn authorization_code(&self) -> &metrics::Counter {
        self.authorization_code.get_or_init(|| {
            metrics::counter!("thetasecure_tokens_issued_total", "grant_type" => "authorization_code")
        })
    }

    fn refresh_token(&self) -> &metrics::Counter {
        self.refresh_token.get_or_init(|| {
            metrics::counter!("thetasecure_tokens_issued_total", "grant_type" => "refresh_token")
        })
    }

    fn password(&self) -> &metrics::Counter {
        self.password.get_or_init(
            || metrics::counter!("thetasecure_tokens_issued_total", "grant_type" => "password"),
        )
    }
}

/// A successful token response (RFC 6749 §5.1); the web layer writes it.
#[derive(Debug)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u32,
    pub scope: String,
    /// For the user grants (code, refresh, password), when the client may refresh.
    pub refresh_token: Option<String>,
    /// For a user's tokens when the granted scope holds `openid` (OIDC Core §3.1.3.3).
    pub id_token: Option<String>,
}
