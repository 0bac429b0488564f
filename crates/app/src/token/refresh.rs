//! The refresh token grant (RFC 6749 §6) with rotation on every use and reuse detection
//! (RFC 9700 §4.14.2): presenting a refresh token that was already rotated revokes its
//! whole family, with every access token issued from it, and is audited.

use serde_json::json;
use thetasecure_core::grant::GrantType;
use thetasecure_core::opaque::hash_of;
use thetasecure_core::scope::ScopeSet;
use thetasecure_core::{ErrorCode, OAuthError, Timestamp};
use thetasecure_store::{RefreshTokenRecord, Rotation};

use super::authorization_code::Grant;
use super::{TokenRequest, TokenResponse, invalid_grant};
use crate::audit::{self, Actor};
use crate::client_auth::ClientAuthentication;
use crate::{App, TokenError};

impl App {
    pub(crate) async fn refresh_token_grant(
        &self,
        authentication: &ClientAuthentication,
        request: &TokenRequest<'_>,
    ) -> Result<TokenResponse, TokenError> {
        let entry = self.authenticate(authentication).await?;
        let client = &entry.client;
        super::require_grant(client, GrantType::RefreshToken)?;
        let presented = request
            .refresh_token
            .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
        let token_hash = hash_of(presented);
        let tokens = self.store().refresh_tokens();
        let Some(current) = tokens.get(&token_hash).await? else {
            return Err(invalid_grant("refresh token"));
        };
        if current.client_id != client.client_id {
            return Err(invalid_grant("refresh token"));
        }
        let now = self.clock().now();
        if current.rotated_at.is_some() {
            self.revoke_reused_family(&current, now).await?;
            return Err(invalid_grant("refresh token"));
        }
        if current.revoked_at.is_some() || current.expires_at <= now {
            return Err(invalid_grant("refresh token"));
        }
        // A refresh may narrow the scope, never widen it (RFC 6749 §6).
        let granted = ScopeSet::from_trusted(&current.scope);
        let scope = match request.scope {
            None => granted,
            Some(raw) => {
                let asked = ScopeSet::parse(raw).map_err(|why| {
                    OAuthError::new(ErrorCode::InvalidScope, format!("scope {why}"))
                })?;
                if let Some(beyond) = asked.first_missing_from(&granted) {
                    return Err(OAuthError::new(
                        ErrorCode::InvalidScope,
                        format!("scope `{beyond}` was not granted to this refresh token"),
                    )
                    .into());
                }
                asked
            }
        };
        let user = match self.store().users().get(&current.user_id).await? {
            Some(user) if user.is_active() => user,
            _ => return Err(invalid_grant("refresh token")),
        };
        let issued = self.user_tokens(
            &entry,
            Grant {
                user: &user,
                scope: &scope,
                auth_time: current.auth_time,
                // OIDC Core §12.2: a refreshed ID token carries no nonce.
                nonce: None,
                session_id_hash: current.session_id_hash.clone(),
                family: Some((current.family_id.clone(), current.expires_at)),
            },
        )?;
        // The client has the refresh grant, so `user_tokens` made a successor, unless the
        // narrowed scope asks for OpenID without offline access: then the family ends here.
        let Some(successor) = issued.refresh.as_ref() else {
            return Err(OAuthError::new(
                ErrorCode::InvalidScope,
                "a refresh with openid needs offline_access",
            )
            .into());
        };
        match tokens.rotate(&token_hash, now, successor).await? {
            Rotation::Rotated => {
                self.0.tokens_issued.refresh_token().increment(1);
                Ok(issued.response)
            }
            Rotation::AlreadyRotated(_) => {
                self.revoke_reused_family(&current, now).await?;
                Err(invalid_grant("refresh token"))
            }
            Rotation::Revoked(_) | Rotation::Expired(_) | Rotation::Unknown => {
                Err(invalid_grant("refresh token"))
            }
        }
    }

    /// Someone holds a refresh token that was already used: the legitimate client or an
    /// attacker, and the server cannot tell which, so the whole family goes.
    async fn revoke_reused_family(
        &self,
        reused: &RefreshTokenRecord,
        now: Timestamp,
    ) -> Result<(), TokenError> {
        let entry = audit::entry(
            &Actor::system(),
            now,
            "refresh_token.reused",
            "client",
            reused.client_id.as_str(),
            json!({"user_id": reused.user_id, "family_id": reused.family_id}),
        );
        self.store()
            .refresh_tokens()
            .revoke_family(&reused.family_id, now, Some(&entry))
            .await?;
        tracing::warn!(client_id = %reused.client_id, family_id = %reused.family_id, "refresh token reused; its family is revoked");
        Ok(())
    }
}
