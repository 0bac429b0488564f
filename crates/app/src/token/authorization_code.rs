//! The authorization code grant (RFC 6749 §4.1.3, RFC 7636 §4.6). A code is redeemed
//! once: redemption is a compare-and-set in the transaction that stores the refresh
//! token, and a second redemption, racing or late, revokes everything the code produced
//! (RFC 6749 §4.1.2, SECURITY 1.4).

use serde_json::json;
use thetasecure_core::grant::GrantType;
use thetasecure_core::oidc::{IdTokenInput, OPENID_SCOPE};
use thetasecure_core::opaque::{OpaqueKind, OpaqueToken, hash_of};
use thetasecure_core::pkce::CodeChallenge;
use thetasecure_core::scope::ScopeSet;
use thetasecure_core::user::User;
use thetasecure_core::{ErrorCode, OAuthError, Timestamp};
use thetasecure_store::{AuthorizationCodeRecord, RefreshTokenRecord};

use super::{SignedAccessToken, TokenRequest, TokenResponse, invalid_grant};
use crate::audit::{self, Actor};
use crate::cache::ClientEntry;
use crate::client_auth::ClientAuthentication;
use crate::{App, TokenError};

/// Tokens for a user, about to be issued: the signed access token and, where the client
/// may refresh, the new refresh token and the record that stores it.
pub(super) struct UserTokens {
    pub response: TokenResponse,
    pub access_token_jti: String,
    pub access_token_expires_at: Timestamp,
    pub refresh: Option<RefreshTokenRecord>,
}

/// What a user's tokens are issued from: a code, or the refresh token before them (or,
/// for the password grant, the sign-in it just checked).
pub(super) struct Grant<'a> {
    pub user: &'a User,
    pub scope: &'a ScopeSet,
    /// When the user signed in; an ID token names it, refreshed or not.
    pub auth_time: Timestamp,
    /// The authorization request's `nonce`, for the ID token of the code's redemption.
    pub nonce: Option<&'a str>,
    pub session_id_hash: Option<String>,
    /// The family to continue; a code or a password starts a new one, which ends the
    /// absolute lifetime after `auth_time` (`Settings::refresh_tokens`).
    pub family: Option<String>,
}

impl App {
    pub(crate) async fn authorization_code_grant(
        &self,
        authentication: &ClientAuthentication,
        request: &TokenRequest<'_>,
    ) -> Result<TokenResponse, TokenError> {
        let entry = self.authenticate(authentication).await?;
        let client = &entry.client;
        super::require_grant(client, GrantType::AuthorizationCode)?;
        let code = request
            .code
            .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
        let code_hash = hash_of(code);
        let codes = self.store().authorization_codes();
        let Some((record, user)) = codes.get_with_user(&code_hash).await? else {
            return Err(invalid_grant("code"));
        };
        if record.client_id != client.client_id {
            return Err(invalid_grant("code"));
        }
        let now = self.clock().now();
        if record.redeemed_at.is_some() {
            self.revoke_replayed_code(&record, &code_hash, now).await?;
            return Err(invalid_grant("code"));
        }
        if record.expires_at <= now || !redirect_uri_matches(&record, &entry, request) {
            return Err(invalid_grant("code"));
        }
        // PKCE (RFC 7636 §4.6): a verifier for a code issued without a challenge, or none
        // for a code issued with one, fails too.
        let proved = match (&record.code_challenge, request.code_verifier) {
            (Some(challenge), Some(verifier)) => {
                CodeChallenge::from_trusted(challenge.clone()).is_proved_by(verifier)
            }
            (None, None) => true,
            _ => false,
        };
        if !proved {
            return Err(OAuthError::new(
                ErrorCode::InvalidGrant,
                "code_verifier does not match the code_challenge of the authorization request",
            )
            .into());
        }
        if !user.is_active() {
            return Err(invalid_grant("code"));
        }
        let scope = ScopeSet::from_trusted(&record.scope);
        let tokens = self.user_tokens(
            &entry,
            Grant {
                user: &user,
                scope: &scope,
                auth_time: record.auth_time,
                nonce: record.nonce.as_deref(),
                session_id_hash: record.session_id_hash.clone(),
                family: None,
            },
        )?;
        let won = codes
            .redeem(
                &code_hash,
                now,
                &tokens.access_token_jti,
                tokens.access_token_expires_at,
                tokens.refresh.as_ref(),
            )
            .await?;
        if !won {
            // Another redemption got there first, and this one is the replay; or the
            // user was disabled since the code was read, and it stays unredeemed.
            let redeemed = codes
                .get(&code_hash)
                .await?
                .is_some_and(|code| code.redeemed_at.is_some());
            if redeemed {
                self.revoke_replayed_code(&record, &code_hash, now).await?;
            }
            return Err(invalid_grant("code"));
        }
        self.token_issued(GrantType::AuthorizationCode, &client.client_id, now);
        Ok(tokens.response)
    }

    /// Revokes what a code that was presented again produced (RFC 6749 §4.1.2), audited.
    async fn revoke_replayed_code(
        &self,
        record: &AuthorizationCodeRecord,
        code_hash: &str,
        now: Timestamp,
    ) -> Result<(), TokenError> {
        let entry = audit::entry(
            &Actor::system(),
            now,
            "authorization_code.replayed",
            "client",
            record.client_id.as_str(),
            json!({"user_id": record.user_id}),
        );
        let revoked = self
            .store()
            .authorization_codes()
            .revoke_grants(code_hash, now, &entry)
            .await?;
        self.forget_revoked(&revoked);
        tracing::warn!(client_id = %record.client_id, "authorization code presented twice; its tokens are revoked");
        Ok(())
    }

    /// Signs an access token for the user; where the scope holds `openid`, an ID token
    /// with it; and where the client has the refresh grant and (for OpenID requests)
    /// `offline_access` was granted, makes a refresh token. Every grant that issues
    /// tokens to a user goes through here.
    pub(super) fn user_tokens(
        &self,
        entry: &ClientEntry,
        grant: Grant<'_>,
    ) -> Result<UserTokens, TokenError> {
        let client = &entry.client;
        let now = self.clock().now();
        let SignedAccessToken {
            token: access_token,
            claims,
            ttl,
        } = self.sign_access_token(client, &grant.user.id, grant.scope.to_string(), now)?;
        let access_token_expires_at = Timestamp::from_unix_seconds(claims.exp);
        let id_token = if grant.scope.contains(OPENID_SCOPE) {
            Some(self.sign_id_token(|alg| IdTokenInput {
                issuer: self.issuer(),
                user: grant.user,
                client_id: client.client_id.as_str(),
                scope: grant.scope,
                issued_at: now,
                auth_time: grant.auth_time,
                nonce: grant.nonce,
                access_token: &access_token,
                alg,
            })?)
        } else {
            None
        };
        let refreshable = client.metadata.allows_grant(GrantType::RefreshToken)
            && (!grant.scope.contains(OPENID_SCOPE) || grant.scope.contains("offline_access"));
        // Dies unused after the idle lifetime, never past the family's absolute end.
        let expires_at = self
            .settings()
            .refresh_tokens
            .token_expires_at(now, grant.auth_time);
        let (refresh, refresh_token) = if refreshable && expires_at > now {
            let token = OpaqueToken::generate(OpaqueKind::RefreshToken);
            let family_id = grant
                .family
                .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
            let record = RefreshTokenRecord {
                token_hash: token.hash(),
                family_id,
                client_id: client.client_id.clone(),
                user_id: grant.user.id.clone(),
                scope: grant.scope.to_string(),
                auth_time: grant.auth_time,
                session_id_hash: grant.session_id_hash,
                created_at: now,
                expires_at,
                rotated_at: None,
                revoked_at: None,
                access_token_jti: Some(claims.jti.clone()),
                access_token_expires_at: Some(access_token_expires_at),
                successor_hash: None,
            };
            (Some(record), Some(token.expose().to_owned()))
        } else {
            (None, None)
        };
        Ok(UserTokens {
            access_token_jti: claims.jti.clone(),
            access_token_expires_at,
            refresh,
            response: TokenResponse {
                access_token,
                token_type: "Bearer",
                expires_in: ttl,
                scope: claims.scope,
                refresh_token,
                id_token,
            },
        })
    }
}

/// The token request's `redirect_uri` must be the one the code was issued for (RFC 6749
/// §4.1.3); it may be left out only when the client has just the one.
fn redirect_uri_matches(
    record: &AuthorizationCodeRecord,
    entry: &ClientEntry,
    request: &TokenRequest<'_>,
) -> bool {
    match request.redirect_uri {
        Some(presented) => presented == record.redirect_uri,
        None => {
            let registered = &entry.client.metadata.redirect_uris;
            registered.len() == 1 && registered[0].as_str() == record.redirect_uri
        }
    }
}
