//! The refresh token grant (RFC 6749 §6) with rotation on every use and reuse detection
//! (RFC 9700 §4.14.2): presenting a refresh token that was already rotated revokes its
//! whole family, with every access token issued from it, and is audited — unless the
//! server has a reuse grace window (SPEC 5) and the same client retries within it after
//! the rotation: then the pair issued moments before is retired and a fresh one issued.

use serde_json::json;
use thetasecure_core::grant::GrantType;
use thetasecure_core::opaque::hash_of;
use thetasecure_core::scope::ScopeSet;
use thetasecure_core::user::User;
use thetasecure_core::{ErrorCode, OAuthError, Timestamp};
use thetasecure_store::{RefreshTokenRecord, Rotation};

use super::authorization_code::{Grant, UserTokens};
use super::{TokenRequest, TokenResponse, invalid_grant};
use crate::audit::{self, Actor};
use crate::cache::ClientEntry;
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
        let Some((current, user)) = tokens.get_with_user(&token_hash).await? else {
            return Err(invalid_grant("refresh token"));
        };
        let now = self.clock().now();
        if current.rotated_at.is_some() {
            return self
                .presented_again(&entry, current, &user, request, now)
                .await;
        }
        if current.client_id != client.client_id
            || current.revoked_at.is_some()
            || current.expires_at <= now
        {
            return Err(invalid_grant("refresh token"));
        }
        let issued = self
            .successor_tokens(&entry, &current, &user, request)
            .await?;
        let Some(successor) = issued.refresh.as_ref() else {
            return Err(invalid_grant("refresh token"));
        };
        match tokens.rotate(&token_hash, now, successor).await? {
            Rotation::Rotated => {
                self.token_issued(GrantType::RefreshToken, &client.client_id, now);
                Ok(issued.response)
            }
            // A concurrent request rotated it first: this one is a retry or reuse.
            Rotation::AlreadyRotated(rotated) => {
                self.presented_again(&entry, rotated, &user, request, now)
                    .await
            }
            Rotation::Revoked(_)
            | Rotation::Expired(_)
            | Rotation::UserInactive
            | Rotation::Unknown => Err(invalid_grant("refresh token")),
        }
    }

    /// The tokens that follow `current`, `user`'s, in its family, for `request`'s scope.
    async fn successor_tokens(
        &self,
        entry: &ClientEntry,
        current: &RefreshTokenRecord,
        user: &User,
        request: &TokenRequest<'_>,
    ) -> Result<UserTokens, TokenError> {
        // A setting lowered since the token was issued ends its family sooner.
        let now = self.clock().now();
        if self
            .settings()
            .refresh_tokens
            .family_expires_at(current.auth_time)
            <= now
        {
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
        if !user.is_active() {
            return Err(invalid_grant("refresh token"));
        }
        let issued = self.user_tokens(
            entry,
            Grant {
                user,
                scope: &scope,
                auth_time: current.auth_time,
                // OIDC Core §12.2: a refreshed ID token carries no nonce.
                nonce: None,
                session_id_hash: current.session_id_hash.clone(),
                family: Some(current.family_id.clone()),
            },
        )?;
        // The client has the refresh grant and the family has not ended, so
        // `user_tokens` made a successor, unless the narrowed scope asks for OpenID
        // without offline access: then the family ends here.
        if issued.refresh.is_none() {
            return Err(OAuthError::new(
                ErrorCode::InvalidScope,
                "a refresh with openid needs offline_access",
            )
            .into());
        }
        Ok(issued)
    }

    /// A rotated token presented again: a retry by its client within the grace window
    /// whose successor is still unused gets a fresh pair in place of that successor;
    /// anything else is reuse.
    async fn presented_again(
        &self,
        entry: &ClientEntry,
        rotated: RefreshTokenRecord,
        user: &User,
        request: &TokenRequest<'_>,
        now: Timestamp,
    ) -> Result<TokenResponse, TokenError> {
        let policy = &self.settings().refresh_tokens;
        let retry = rotated.client_id == entry.client.client_id
            && rotated.revoked_at.is_none()
            && rotated
                .rotated_at
                .is_some_and(|at| policy.is_retry(at, now));
        let successor = match (&rotated.successor_hash, retry) {
            (Some(hash), true) => self.store().refresh_tokens().get(hash).await?,
            _ => None,
        };
        let successor = match successor {
            // Used: whoever holds it got the response, so this is no retry.
            Some(s) if s.rotated_at.is_none() && s.revoked_at.is_none() => s,
            // Retired by a concurrent retry (or its family revoked, which took this token
            // too): that one stands, and nothing more needs revoking.
            Some(s) if s.rotated_at.is_none() => return Err(invalid_grant("refresh token")),
            _ => {
                self.revoke_reused_family(&rotated, now).await?;
                return Err(invalid_grant("refresh token"));
            }
        };
        let issued = self
            .successor_tokens(entry, &rotated, user, request)
            .await?;
        let Some(fresh) = issued.refresh.as_ref() else {
            return Err(invalid_grant("refresh token"));
        };
        let audit = audit::entry(
            &Actor::system(),
            now,
            "refresh_token.retried",
            "client",
            rotated.client_id.as_str(),
            json!({"user_id": rotated.user_id, "family_id": rotated.family_id}),
        );
        let retired = self
            .store()
            .refresh_tokens()
            .replace_successor(
                &rotated.token_hash,
                &successor.token_hash,
                now,
                fresh,
                &audit,
            )
            .await?;
        let Some(retired) = retired else {
            // Another retry, or a use of the successor, came first: that one stands.
            return Err(invalid_grant("refresh token"));
        };
        self.forget_revoked(&retired);
        tracing::info!(client_id = %rotated.client_id, family_id = %rotated.family_id, "refresh token retried within the grace window; the pair before is retired");
        self.token_issued(GrantType::RefreshToken, &entry.client.client_id, now);
        Ok(issued.response)
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
        let revoked = self
            .store()
            .refresh_tokens()
            .revoke_family(&reused.family_id, now, Some(&entry))
            .await?;
        self.forget_revoked(&revoked);
        tracing::warn!(client_id = %reused.client_id, family_id = %reused.family_id, "refresh token reused; its family is revoked");
        Ok(())
    }
}
