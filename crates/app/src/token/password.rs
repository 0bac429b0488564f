//! The resource owner password credentials grant (RFC 6749 §4.3), as SPEC 9 decides:
//! served only where the server enables it (RFC 9700 §2.4 says it MUST NOT be used),
//! then only for confidential clients registered for it. The username and password go
//! through the sign-in page's own check (Argon2id on the bounded pool, the same work for
//! unknown users, the per-user and per-address failure limits). Every use is audited,
//! never with the password.

use serde_json::{Value, json};
use thetasecure_core::grant::GrantType;
use thetasecure_core::scope::ScopeSet;
use thetasecure_core::user::User;
use thetasecure_core::{ErrorCode, OAuthError};
use thetasecure_store::StoreError;

use super::TokenRequest;
use super::TokenResponse;
use super::authorization_code::Grant;
use crate::audit::{self, Actor};
use crate::cache::ClientEntry;
use crate::sign_in::SignInError;
use crate::{AdminError, App, ClientCredentials, TokenError};

impl App {
    pub(crate) async fn password_grant(
        &self,
        credentials: &ClientCredentials,
        request: &TokenRequest<'_>,
    ) -> Result<TokenResponse, TokenError> {
        // A secret was verified, so the client is confidential (public clients cannot
        // register the grant either); it must also be registered for it.
        let entry = self.authenticate_client(credentials).await?;
        let client = &entry.client;
        if let Err(refused) = super::require_grant(client, GrantType::Password) {
            let username = request.username.unwrap_or_default();
            self.audit_password_grant(&entry, "password_grant.refused", username, None)
                .await?;
            return Err(refused);
        }
        let username = request
            .username
            .ok_or_else(|| OAuthError::invalid_request("username is required"))?;
        let password = request
            .password
            .ok_or_else(|| OAuthError::invalid_request("password is required"))?;
        let scope = requested_scope(request.scope, &client.metadata.scope)?;
        let user = match self.sign_in(username, password, credentials.source).await {
            Ok(user) => user,
            Err(refusal) => return Err(self.refused(&entry, username, refusal).await),
        };
        let now = self.clock().now();
        // The user signs in with this request: an ID token (for `openid`) names now.
        let issued = self.user_tokens(
            &entry,
            Grant {
                user: &user,
                scope: &scope,
                auth_time: now,
                nonce: None,
                session_id_hash: None,
                family: None,
            },
        )?;
        let audit_entry = self.password_grant_entry(
            &entry,
            "password_grant.issued",
            username,
            Some(&user),
            json!({"scope": scope.to_string(), "refresh_token": issued.refresh.is_some()}),
        );
        match &issued.refresh {
            // The family's first token and the audit entry, in one transaction.
            Some(refresh) => {
                let stored = self
                    .store()
                    .refresh_tokens()
                    .insert_audited(refresh, &audit_entry)
                    .await;
                match stored {
                    // Disabled or deleted since the sign-in.
                    Err(StoreError::NotFound) => return Err(super::invalid_grant("user")),
                    other => other?,
                }
            }
            None => self.store().audit().record(&audit_entry).await?,
        }
        self.token_issued(GrantType::Password, &client.client_id, now);
        tracing::info!(client_id = %client.client_id, user_id = %user.id, "password grant issued tokens");
        Ok(issued.response)
    }

    /// The token error for a failed sign-in, audited: `invalid_grant` (RFC 6749 §5.2)
    /// for wrong credentials, 429 with an `invalid_grant` body while locked out.
    async fn refused(
        &self,
        entry: &ClientEntry,
        username: &str,
        refusal: SignInError,
    ) -> TokenError {
        let (action, error) = match refusal {
            SignInError::Refused => (
                "password_grant.rejected",
                TokenError::Rejected(OAuthError::new(
                    ErrorCode::InvalidGrant,
                    "username or password is invalid",
                )),
            ),
            SignInError::Throttled {
                retry_after_seconds,
            } => (
                "password_grant.throttled",
                TokenError::SignInThrottled {
                    retry_after_seconds,
                },
            ),
            SignInError::Failed(failure) => return token_error(failure),
        };
        match self
            .audit_password_grant(entry, action, username, None)
            .await
        {
            Ok(()) => error,
            Err(failure) => failure,
        }
    }

    async fn audit_password_grant(
        &self,
        entry: &ClientEntry,
        action: &str,
        username: &str,
        user: Option<&User>,
    ) -> Result<(), TokenError> {
        let audit_entry = self.password_grant_entry(entry, action, username, user, json!({}));
        Ok(self.store().audit().record(&audit_entry).await?)
    }

    /// An audit entry about a use of the grant by the client: the username as given
    /// (never the password), and the user's id once known.
    fn password_grant_entry(
        &self,
        entry: &ClientEntry,
        action: &str,
        username: &str,
        user: Option<&User>,
        mut details: Value,
    ) -> thetasecure_store::AuditEntry {
        details["username"] = json!(thetasecure_core::text::shown(username));
        if let Some(user) = user {
            details["user_id"] = json!(user.id);
        }
        audit::entry(
            &Actor::client(entry.client.client_id.as_str()),
            self.clock().now(),
            action,
            "client",
            entry.client.client_id.as_str(),
            details,
        )
    }
}

/// The requested scope, within the client's; omitted, the client's whole scope
/// (RFC 6749 §3.3, as for client credentials).
fn requested_scope(requested: Option<&str>, allowed: &ScopeSet) -> Result<ScopeSet, TokenError> {
    let Some(raw) = requested else {
        return Ok(allowed.clone());
    };
    let asked = ScopeSet::parse(raw)
        .map_err(|why| OAuthError::new(ErrorCode::InvalidScope, format!("scope {why}")))?;
    if let Some(beyond) = asked.first_missing_from(allowed) {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!("scope `{beyond}` is not granted to this client"),
        )
        .into());
    }
    Ok(asked)
}

/// A sign-in that could not be checked (the store, the hash pool).
fn token_error(failure: AdminError) -> TokenError {
    match failure {
        AdminError::Unavailable(cause) => TokenError::Unavailable(cause),
        other => TokenError::Internal(Box::new(other)),
    }
}
