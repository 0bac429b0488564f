//! Client authentication with a secret (RFC 6749 §2.3.1). Unknown client, wrong secret
//! and disabled client look the same to the caller, and take the same work: an unknown
//! client is still checked against a hash.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use std::hash::Hasher as _;

use aws_lc_rs::constant_time;
use siphasher::sip128::{Hasher128 as _, SipHasher24};
use thetasecure_core::Timestamp;
use thetasecure_core::grant::AuthMethod;
use thetasecure_core::ids::ClientId;
use thetasecure_core::random;
use thetasecure_core::secret::{PlainSecret, SecretHash};

use crate::cache::{ClientEntry, SecretTag};
use crate::records::SecretRecord;
use crate::{App, TokenError};
use thetasecure_store::StoreError;

/// Tags presented secrets for [`ClientEntry::recently_verified`].
pub(crate) struct SecretTagger(SipHasher24);

impl SecretTagger {
    pub(crate) fn new() -> Self {
        Self(SipHasher24::new_with_key(&random::bytes::<16>()))
    }

    fn tag(&self, secret: &PlainSecret) -> SecretTag {
        let mut hasher = self.0;
        hasher.write(secret.expose().as_bytes());
        hasher.finish128().as_bytes()
    }
}

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

/// How a client identifies itself at the token endpoint (RFC 6749 §2.3; SPEC 3).
#[derive(Debug)]
pub enum ClientAuthentication {
    /// `client_secret_basic` or `client_secret_post`.
    Secret(ClientCredentials),
    /// `none`: a public client names itself and proves nothing; PKCE bounds what it gets.
    Public { client_id: String },
}

impl ClientAuthentication {
    pub fn client_id(&self) -> &str {
        match self {
            Self::Secret(credentials) => &credentials.client_id,
            Self::Public { client_id } => client_id,
        }
    }
}

const AUTH_FAILED: &str = "client authentication failed";

/// Why authentication failed, as far as the throttle is concerned.
enum Refusal {
    /// Unknown client id or wrong secret: counts towards the throttle.
    WrongCredentials,
    /// The caller holds a correct secret, but the client may not use it here (disabled,
    /// public, another authentication method). Never throttled, never counted: the
    /// throttle exists to slow guessing, and this caller is not guessing.
    Refused(&'static str),
    /// The client could not be read.
    Store(StoreError),
}

impl From<StoreError> for Refusal {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl App {
    /// Returns the authenticated, active, confidential client. The secret is verified
    /// before the (client_id, address) throttle is consulted, so a correct secret of an
    /// active client is never refused by it: a fleet still sending a rotated-out secret
    /// from one address must not lock out the new one. Only wrong secrets and unknown
    /// client ids count as failures, and only they are refused while the pair is locked.
    pub(crate) async fn authenticate_client(
        &self,
        credentials: &ClientCredentials,
    ) -> Result<Arc<ClientEntry>, TokenError> {
        let refusal = match self.verify_client_secret(credentials).await {
            Ok(entry) => return Ok(entry),
            Err(refusal) => refusal,
        };
        match refusal {
            Refusal::Store(error) => Err(error.into()),
            Refusal::Refused(why) => Err(TokenError::InvalidClient(why)),
            Refusal::WrongCredentials => {
                let throttle = &self.0.throttle;
                let now = Instant::now();
                let (client_id, source) = (&credentials.client_id, credentials.source);
                if let Err(retry_after_seconds) = throttle.check(client_id, source, now) {
                    return Err(TokenError::Throttled {
                        retry_after_seconds,
                    });
                }
                throttle.record_failure(client_id, source, now);
                Err(TokenError::InvalidClient(AUTH_FAILED))
            }
        }
    }

    /// The active client `authentication` names: a confidential one proved by its secret,
    /// or a public one (`token_endpoint_auth_method` `none`) by its id alone.
    pub(crate) async fn authenticate(
        &self,
        authentication: &ClientAuthentication,
    ) -> Result<Arc<ClientEntry>, TokenError> {
        let client_id = match authentication {
            ClientAuthentication::Secret(credentials) => {
                return self.authenticate_client(credentials).await;
            }
            ClientAuthentication::Public { client_id } => client_id,
        };
        let entry = match ClientId::parse(client_id) {
            Some(id) => self.client_entry(&id).await?,
            None => None,
        };
        match entry {
            Some(entry) if entry.client.is_active() => {
                if entry.client.metadata.is_confidential() {
                    // Naming a confidential client without its secret proves nothing.
                    Err(TokenError::InvalidClient(AUTH_FAILED))
                } else {
                    Ok(entry)
                }
            }
            _ => Err(TokenError::InvalidClient(AUTH_FAILED)),
        }
    }

    async fn verify_client_secret(
        &self,
        credentials: &ClientCredentials,
    ) -> Result<Arc<ClientEntry>, Refusal> {
        let Some(client_id) = ClientId::parse(&credentials.client_id) else {
            self.burn_one_verification(&credentials.secret);
            return Err(Refusal::WrongCredentials);
        };
        let Some(entry) = self.client_entry(&client_id).await? else {
            self.burn_one_verification(&credentials.secret);
            return Err(Refusal::WrongCredentials);
        };
        let client = &entry.client;
        let now = self.clock().now();
        let Some(secret) = self.matching_secret(&entry, &credentials.secret, now) else {
            return Err(Refusal::WrongCredentials);
        };
        if !client.is_active() || !client.metadata.is_confidential() {
            return Err(Refusal::Refused(AUTH_FAILED));
        }
        if client.metadata.token_endpoint_auth_method != credentials.method {
            // Only a caller holding the secret gets this far, so naming the method leaks nothing.
            return Err(Refusal::Refused(
                match client.metadata.token_endpoint_auth_method {
                    AuthMethod::ClientSecretPost => {
                        "this client authenticates with client_secret_post"
                    }
                    _ => "this client authenticates with client_secret_basic",
                },
            ));
        }
        self.0.last_used.note(secret, now);
        self.0.usage.authenticated(&client.client_id, now);
        Ok(entry)
    }

    /// The active secret of `entry` that `presented` matches. The HMAC over the presented
    /// secret was a fifth of an introspection's work, and a client presents the same
    /// secret request after request: the entry remembers a keyed tag of the last secret
    /// that verified, and a presented secret with that tag (compared in constant time)
    /// skips the HMAC. Any other secret, wrong ones included, takes the full path, so
    /// only a caller already holding the secret sees the shorter one. The memo lives as
    /// long as the cached entry (until the client changes or is evicted), is checked
    /// against the secret's expiry at each use, and never holds the secret itself.
    fn matching_secret<'e>(
        &self,
        entry: &'e ClientEntry,
        presented: &PlainSecret,
        now: Timestamp,
    ) -> Option<&'e SecretRecord> {
        let tag = self.0.secret_tagger.tag(presented);
        let remembered = *entry
            .recently_verified
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((index, known)) = remembered
            && constant_time::verify_slices_are_equal(&known, &tag).is_ok()
            && let Some(secret) = entry.secrets.get(index)
            && secret.is_active(now)
        {
            return Some(secret);
        }
        let mut matched = None;
        for (index, secret) in entry.secrets.iter().enumerate() {
            if secret.is_active(now) && self.hasher().verify(presented, &secret.hash) {
                matched = Some((index, secret));
            }
        }
        let (index, secret) = matched?;
        *entry
            .recently_verified
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((index, tag));
        Some(secret)
    }

    /// Keeps the unknown-client path as costly as the wrong-secret path.
    fn burn_one_verification(&self, presented: &PlainSecret) {
        let _ = self
            .hasher()
            .verify(presented, &SecretHash::from_bytes(vec![0; 32]));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use thetasecure_core::clock::FixedClock;
    use thetasecure_core::grant::ClientStatus;

    use super::*;
    use crate::audit::Actor;
    use crate::test_support::{credentials, machine_client, sqlite_app};

    #[test]
    fn tags_depend_on_the_secret_and_the_process_key() {
        let (one, other) = (SecretTagger::new(), SecretTagger::new());
        let secret = PlainSecret::generate();
        assert_eq!(one.tag(&secret), one.tag(&secret));
        assert_ne!(one.tag(&secret), one.tag(&PlainSecret::generate()));
        assert_ne!(one.tag(&secret), other.tag(&secret));
    }

    /// Only guessing counts: a locked-out pair still takes the right secret, and a
    /// disabled client's right secret is refused without counting.
    #[tokio::test]
    async fn the_throttle_refuses_only_wrong_secrets() {
        let clock = Arc::new(FixedClock::new(Timestamp(1_795_000_000_000)));
        let (_database, app) = sqlite_app(clock).await;
        let (id, secret) = machine_client(&app).await;
        let wrong = credentials(&id, &PlainSecret::generate());
        for _ in 0..crate::throttle::MAX_FAILURES {
            let refused = app.authenticate_client(&wrong).await.unwrap_err();
            assert!(
                matches!(refused, TokenError::InvalidClient(_)),
                "{refused:?}"
            );
        }
        let refused = app.authenticate_client(&wrong).await.unwrap_err();
        assert!(
            matches!(refused, TokenError::Throttled { .. }),
            "{refused:?}"
        );
        app.authenticate_client(&credentials(&id, &secret))
            .await
            .unwrap();

        let (other, other_secret) = machine_client(&app).await;
        app.set_client_status(&Actor::cli(), &other, ClientStatus::Disabled)
            .await
            .unwrap();
        for _ in 0..=crate::throttle::MAX_FAILURES {
            let refused = app
                .authenticate_client(&credentials(&other, &other_secret))
                .await
                .unwrap_err();
            assert!(
                matches!(refused, TokenError::InvalidClient(_)),
                "{refused:?}"
            );
        }
    }

    /// The remembered secret is re-checked against the clock on every use: a secret whose
    /// grace period ends while its client is cached stops at once.
    #[tokio::test]
    async fn a_remembered_secret_still_expires_on_time() {
        let clock = Arc::new(FixedClock::new(Timestamp(1_795_000_000_000)));
        let (_database, app) = sqlite_app(clock.clone()).await;
        let (id, old) = machine_client(&app).await;
        let (_, new) = app
            .rotate_secret(&Actor::cli(), &id, Some(10))
            .await
            .unwrap();

        for _ in 0..2 {
            app.authenticate_client(&credentials(&id, &old))
                .await
                .unwrap();
        }
        app.authenticate_client(&credentials(&id, &PlainSecret::generate()))
            .await
            .unwrap_err();
        clock.advance_seconds(11);
        app.authenticate_client(&credentials(&id, &old))
            .await
            .unwrap_err();
        app.authenticate_client(&credentials(&id, &new))
            .await
            .unwrap();
    }
}
