//! Validation of our own access tokens, for introspection, revocation and the admin API.
//! A token is active while its signature verifies, it has not expired, its client exists
//! and is active, and neither the token nor all of its client's tokens were revoked.

use std::sync::Arc;
use std::time::Instant;
use thetasecure_core::Timestamp;

use thetasecure_core::ids::ClientId;
use thetasecure_core::token::{ACCESS_TOKEN_TYP, AccessTokenClaims};

use crate::cache::{Cached, ClientEntry, Generation, VerifiedClaims};
use crate::keys::JwsError;
use crate::token::revocation_rechecks::Recheck;
use crate::{App, TokenError};

/// A token that is active right now, with the client it was issued to.
#[derive(Debug, Clone)]
pub struct ActiveToken {
    pub verified: Arc<VerifiedClaims>,
    pub client: Arc<ClientEntry>,
}

impl ActiveToken {
    pub fn claims(&self) -> &AccessTokenClaims {
        &self.verified.claims
    }
}

/// The claims of an access token issued at `issued_at` to `client_id` for `scope`
/// (RFC 9068 §2.2): `subject` is the user, or the client itself for client credentials;
/// the issuer is also the audience.
pub fn access_token_claims(
    issuer: &str,
    subject: &str,
    client_id: &str,
    scope: String,
    issued_at: Timestamp,
    ttl_seconds: u32,
) -> AccessTokenClaims {
    let now = issued_at.unix_seconds();
    AccessTokenClaims {
        iss: issuer.to_owned(),
        sub: subject.to_owned(),
        aud: issuer.to_owned(),
        exp: now + i64::from(ttl_seconds),
        iat: now,
        jti: new_jti(issued_at),
        client_id: client_id.to_owned(),
        scope,
    }
}

/// A uuid v7 whose timestamp is the issuing instant by our `Clock`, so revocation
/// "of every token issued before T" compares instants from one clock, to the millisecond.
fn new_jti(issued_at: Timestamp) -> String {
    let millis = u64::try_from(issued_at.0).unwrap_or(0);
    let random = thetasecure_core::random::bytes::<10>();
    uuid::Builder::from_unix_timestamp_millis(millis, &random)
        .into_uuid()
        .to_string()
}

fn jti_issued_at(jti: &str) -> Option<Timestamp> {
    let uuid = uuid::Uuid::parse_str(jti).ok()?;
    let (secs, nanos) = uuid.get_timestamp()?.to_unix();
    let millis = secs
        .checked_mul(1000)?
        .checked_add(u64::from(nanos / 1_000_000))?;
    Some(Timestamp(i64::try_from(millis).ok()?))
}

impl VerifiedClaims {
    /// `None` for claims no token of ours carries: a client id that is not one, or a `jti`
    /// without its issuing instant.
    pub(crate) fn new(claims: AccessTokenClaims) -> Option<Self> {
        let client_id = ClientId::parse(&claims.client_id)?;
        let issued_at = jti_issued_at(&claims.jti)?;
        let json = serde_json::to_string(&claims).ok()?.into();
        Some(Self {
            claims,
            json,
            client_id,
            issued_at,
        })
    }
}

impl App {
    /// `Ok(None)` for anything that is not an active token of ours; `Err` only when
    /// storage failed, so an outage is never reported as "inactive" or "active".
    pub async fn active_access_token(
        &self,
        token: &str,
    ) -> Result<Option<ActiveToken>, TokenError> {
        let Some((verified, revoked)) = self.verified_claims(token).await? else {
            return Ok(None);
        };
        let claims = &verified.claims;
        let now = self.clock().now();
        if revoked || claims.iss != self.issuer() || claims.exp <= now.unix_seconds() {
            return Ok(None);
        }
        let Some(entry) = self.client_entry(&verified.client_id).await? else {
            return Ok(None);
        };
        let client = &entry.client;
        // Times are in milliseconds: a token issued in the same millisecond as a
        // revoke-all cannot be told from one issued just before it, so it goes too.
        if !client.is_active()
            || client
                .tokens_revoked_before
                .is_some_and(|before| verified.issued_at <= before)
        {
            return Ok(None);
        }
        Ok(Some(ActiveToken {
            verified,
            client: entry,
        }))
    }

    /// The claims of a token signed by one of our keys, and whether its `jti` is revoked;
    /// both cached briefly, so repeated introspection skips the signature check. A
    /// cached token's revocation state is re-read in the background as it ages.
    async fn verified_claims(
        &self,
        token: &str,
    ) -> Result<Option<(Arc<VerifiedClaims>, bool)>, TokenError> {
        let cache = &self.0.token_cache;
        let (now, generation) = (Instant::now(), cache.generation(token));
        let verified = match cache.get(token, now) {
            Cached::Fresh(cached) => return Ok(Some(cached)),
            Cached::RefreshDue((verified, revoked)) => {
                self.recheck_revocation(Recheck {
                    token: token.to_owned(),
                    verified: verified.clone(),
                    loaded: now,
                    generation,
                });
                return Ok(Some((verified, revoked)));
            }
            Cached::Missing => match self.verify_signature(token).await? {
                Some(verified) => verified,
                None => return Ok(None),
            },
        };
        let revoked = self
            .check_revocation(token, verified.clone(), now, generation)
            .await?;
        Ok(Some((verified, revoked)))
    }

    /// Reads whether the token's `jti` is revoked and caches the answer with its claims.
    async fn check_revocation(
        &self,
        token: &str,
        verified: Arc<VerifiedClaims>,
        loaded: Instant,
        generation: Generation,
    ) -> Result<bool, TokenError> {
        let revoked = self
            .store()
            .tokens()
            .is_access_token_revoked(&verified.claims.jti)
            .await?;
        self.0
            .token_cache
            .insert(token, verified, revoked, loaded, generation);
        Ok(revoked)
    }

    /// The claims of a token signed by one of our keys, reloading the keys once if it
    /// names a key id we do not know (a key rotated through another instance).
    async fn verify_signature(
        &self,
        token: &str,
    ) -> Result<Option<Arc<VerifiedClaims>>, TokenError> {
        let mut verified = self
            .0
            .keys
            .current()
            .verify::<AccessTokenClaims>(token, ACCESS_TOKEN_TYP);
        if matches!(verified, Err(JwsError::UnknownKey))
            && self.reload_signing_keys_for_unknown_kid().await
        {
            verified = self
                .0
                .keys
                .current()
                .verify::<AccessTokenClaims>(token, ACCESS_TOKEN_TYP);
        }
        Ok(verified
            .ok()
            .and_then(|verified| VerifiedClaims::new(verified.claims))
            .map(Arc::new))
    }

    /// After this instance revoked a token: stop trusting its cached state.
    pub(crate) fn forget_token(&self, token: &str) {
        self.0.token_cache.forget(token);
    }
}

/// Claims of a token issued to `ts_abc` at `issued_at`, for the tests of this crate.
#[cfg(test)]
pub(crate) fn test_claims(issued_at: Timestamp) -> AccessTokenClaims {
    access_token_claims(
        "https://id.example",
        "ts_abc",
        "ts_abc",
        "a".into(),
        issued_at,
        300,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Revoking every token of a client takes the tokens of the revoking millisecond
    /// with it, and spares later ones.
    #[tokio::test]
    async fn revoke_all_takes_the_tokens_of_its_own_millisecond() {
        use crate::audit::Actor;
        use crate::test_support::{credentials, machine_client, sqlite_app};
        use thetasecure_core::clock::FixedClock;

        let clock = Arc::new(FixedClock::new(Timestamp(1_795_000_000_000)));
        let (_database, app) = sqlite_app(clock.clone()).await;
        let (id, secret) = machine_client(&app).await;
        let credentials = credentials(&id, &secret);
        let grant = || app.client_credentials_grant(&credentials, None);
        let same_millisecond = grant().await.unwrap().access_token;
        app.revoke_client_tokens(&Actor::cli(), &id).await.unwrap();
        assert!(
            app.active_access_token(&same_millisecond)
                .await
                .unwrap()
                .is_none()
        );
        clock.advance_seconds(1);
        let next = grant().await.unwrap().access_token;
        assert!(app.active_access_token(&next).await.unwrap().is_some());
    }

    #[test]
    fn jti_carries_the_issuing_instant() {
        let at = Timestamp(1_795_710_057_123);
        assert_eq!(jti_issued_at(&new_jti(at)), Some(at));
        assert_ne!(new_jti(at), new_jti(at));
        assert_eq!(jti_issued_at("not-a-uuid"), None);
    }

    #[test]
    fn verified_claims_carry_their_client_and_issuing_instant() {
        let at = Timestamp(1_795_710_057_123);
        let claims = test_claims(at);
        let verified = VerifiedClaims::new(claims.clone()).unwrap();
        assert_eq!(verified.client_id.as_str(), "ts_abc");
        assert_eq!(verified.issued_at, at);
        let not_an_id = AccessTokenClaims {
            client_id: "ts abc".into(),
            ..claims.clone()
        };
        assert!(VerifiedClaims::new(not_an_id).is_none());
        let no_instant = AccessTokenClaims {
            jti: uuid::Uuid::nil().to_string(),
            ..claims
        };
        assert!(VerifiedClaims::new(no_instant).is_none());
    }
}
