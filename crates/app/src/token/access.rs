//! Validation of our own access tokens, for introspection, revocation and the admin API.
//! A token is active while its signature verifies, it has not expired, its client exists
//! and is active, and neither the token nor all of its client's tokens were revoked.

use thetasecure_core::Timestamp;
use thetasecure_core::client::Client;
use thetasecure_core::ids::ClientId;
use thetasecure_core::token::{ACCESS_TOKEN_TYP, AccessTokenClaims};

use crate::{App, TokenError};

/// A token that is active right now, with the client it was issued to.
#[derive(Debug, Clone)]
pub struct ActiveToken {
    pub claims: AccessTokenClaims,
    pub client: Client,
}

/// A uuid v7 whose timestamp is the issuing instant by our `Clock`, so revocation
/// "of every token issued before T" compares instants from one clock, to the millisecond.
pub(crate) fn new_jti(issued_at: Timestamp) -> String {
    let millis = u64::try_from(issued_at.0).unwrap_or(0);
    let ts = uuid::Timestamp::from_unix(
        uuid::NoContext,
        millis / 1000,
        ((millis % 1000) * 1_000_000) as u32,
    );
    uuid::Uuid::new_v7(ts).to_string()
}

fn jti_issued_at(jti: &str) -> Option<Timestamp> {
    let uuid = uuid::Uuid::parse_str(jti).ok()?;
    let (secs, nanos) = uuid.get_timestamp()?.to_unix();
    let millis = secs
        .checked_mul(1000)?
        .checked_add(u64::from(nanos / 1_000_000))?;
    Some(Timestamp(i64::try_from(millis).ok()?))
}

impl App {
    /// `Ok(None)` for anything that is not an active token of ours; `Err` only when
    /// storage failed, so an outage is never reported as "inactive" or "active".
    pub async fn active_access_token(
        &self,
        token: &str,
    ) -> Result<Option<ActiveToken>, TokenError> {
        let keys = self.0.keys.current();
        let Ok(verified) = keys.verify::<AccessTokenClaims>(token, ACCESS_TOKEN_TYP) else {
            return Ok(None);
        };
        let claims = verified.claims;
        let now = self.clock().now();
        if claims.iss != self.issuer() || claims.exp <= now.unix_seconds() {
            return Ok(None);
        }
        let Some(issued_at) = jti_issued_at(&claims.jti) else {
            return Ok(None);
        };
        let Some(client_id) = ClientId::parse(&claims.client_id) else {
            return Ok(None);
        };
        let Some(client) = self.store().clients().get(&client_id).await? else {
            return Ok(None);
        };
        if !client.is_active()
            || client
                .tokens_revoked_before
                .is_some_and(|before| issued_at < before)
        {
            return Ok(None);
        }
        if self
            .store()
            .tokens()
            .is_access_token_revoked(&claims.jti)
            .await?
        {
            return Ok(None);
        }
        Ok(Some(ActiveToken { claims, client }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jti_carries_the_issuing_instant() {
        let at = Timestamp(1_795_710_057_123);
        assert_eq!(jti_issued_at(&new_jti(at)), Some(at));
        assert_ne!(new_jti(at), new_jti(at));
        assert_eq!(jti_issued_at("not-a-uuid"), None);
    }
}
