//! Client authentication with a secret (RFC 6749 §2.3.1). Unknown client, wrong secret
//! and disabled client look the same to the caller, and take the same work: an unknown
//! client is still checked against a hash.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use thetasecure_core::grant::AuthMethod;
use thetasecure_core::ids::ClientId;
use thetasecure_core::secret::{PlainSecret, SecretHash};

use crate::cache::ClientEntry;
use crate::{App, TokenError};

/// Credentials as presented, with the method the caller used to present them and the
/// address they came from (for brute-force protection).
pub struct ClientCredentials {
    pub client_id: String,
    pub secret: PlainSecret,
    pub method: AuthMethod,
    pub source: IpAddr,
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

const AUTH_FAILED: &str = "client authentication failed";

impl App {
    /// Returns the authenticated, active, confidential client. Failures count towards the
    /// (client_id, address) throttle, whatever their cause.
    pub(crate) async fn authenticate_client(
        &self,
        credentials: &ClientCredentials,
    ) -> Result<Arc<ClientEntry>, TokenError> {
        let throttle = &self.0.throttle;
        let now = Instant::now();
        if let Err(retry_after_seconds) =
            throttle.check(&credentials.client_id, credentials.source, now)
        {
            return Err(TokenError::Throttled {
                retry_after_seconds,
            });
        }
        let result = self.verify_client_secret(credentials).await;
        if let Err(TokenError::InvalidClient(_)) = result {
            throttle.record_failure(&credentials.client_id, credentials.source, now);
        }
        result
    }

    async fn verify_client_secret(
        &self,
        credentials: &ClientCredentials,
    ) -> Result<Arc<ClientEntry>, TokenError> {
        let Some(client_id) = ClientId::parse(&credentials.client_id) else {
            self.burn_one_verification(&credentials.secret);
            return Err(TokenError::InvalidClient(AUTH_FAILED));
        };
        let Some(entry) = self.client_entry(&client_id).await? else {
            self.burn_one_verification(&credentials.secret);
            return Err(TokenError::InvalidClient(AUTH_FAILED));
        };
        let client = &entry.client;
        let now = self.clock().now();
        let mut matched = None;
        for secret in entry.secrets.iter().filter(|secret| secret.is_active(now)) {
            if self.hasher().verify(&credentials.secret, &secret.hash) {
                matched = Some(secret);
            }
        }
        let Some(secret) = matched else {
            return Err(TokenError::InvalidClient(AUTH_FAILED));
        };
        if !client.is_active() || !client.metadata.is_confidential() {
            return Err(TokenError::InvalidClient(AUTH_FAILED));
        }
        if client.metadata.token_endpoint_auth_method != credentials.method {
            // Only a caller holding the secret gets this far, so naming the method leaks nothing.
            return Err(TokenError::InvalidClient(
                match client.metadata.token_endpoint_auth_method {
                    AuthMethod::ClientSecretPost => {
                        "this client authenticates with client_secret_post"
                    }
                    _ => "this client authenticates with client_secret_basic",
                },
            ));
        }
        self.0.last_used.note(secret, now);
        Ok(entry)
    }

    /// Keeps the unknown-client path as costly as the wrong-secret path.
    fn burn_one_verification(&self, presented: &PlainSecret) {
        let _ = self
            .hasher()
            .verify(presented, &SecretHash::from_bytes(vec![0; 32]));
    }
}
