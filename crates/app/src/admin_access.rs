//! Who may call the admin use cases through the admin API: the holder of a bearer
//! access token from this server with the `admin` scope. The CLI needs no token: it
//! acts as `Actor::cli()` on a store it can open.

use crate::audit::Actor;
use crate::{App, TokenError};

/// The scope that makes an access token an administrator's.
pub const ADMIN_SCOPE: &str = "admin";

/// Why a caller is not let in; each maps to its RFC 6750 answer in `web`.
#[derive(Debug, thiserror::Error)]
pub enum AdminAccessError {
    #[error("a bearer access token with the admin scope is required")]
    NoToken,
    #[error("the access token is invalid, expired or revoked")]
    InvalidToken,
    #[error("the access token lacks the admin scope")]
    LacksAdminScope,
    /// The token could not be checked (storage unavailable, …).
    #[error(transparent)]
    Unchecked(#[from] TokenError),
}

impl App {
    /// The administrator presenting `bearer`, the access token of a `Bearer` header.
    pub async fn admin_actor(&self, bearer: Option<&str>) -> Result<Actor, AdminAccessError> {
        let token = bearer.ok_or(AdminAccessError::NoToken)?;
        let active = self
            .active_access_token(token)
            .await?
            .ok_or(AdminAccessError::InvalidToken)?;
        let claims = active.claims();
        if !claims.scope.split(' ').any(|scope| scope == ADMIN_SCOPE) {
            return Err(AdminAccessError::LacksAdminScope);
        }
        Ok(Actor::client(&claims.client_id))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use thetasecure_core::clock::SystemClock;

    use super::*;
    use crate::test_support::{client_credentials_client, credentials, machine_client, sqlite_app};

    #[tokio::test]
    async fn only_a_live_token_with_the_admin_scope_lets_in() {
        let (_database, app) = sqlite_app(Arc::new(SystemClock)).await;
        let (id, secret) = machine_client(&app).await;
        let not_admin = app
            .client_credentials_grant(&credentials(&id, &secret), None)
            .await
            .unwrap()
            .access_token;
        assert!(matches!(
            app.admin_actor(None).await,
            Err(AdminAccessError::NoToken)
        ));
        assert!(matches!(
            app.admin_actor(Some("not-a-token")).await,
            Err(AdminAccessError::InvalidToken)
        ));
        assert!(matches!(
            app.admin_actor(Some(&not_admin)).await,
            Err(AdminAccessError::LacksAdminScope)
        ));

        let (admin_id, admin_secret) = client_credentials_client(&app, "admin").await;
        let admin = app
            .client_credentials_grant(&credentials(&admin_id, &admin_secret), None)
            .await
            .unwrap()
            .access_token;
        let actor = app.admin_actor(Some(&admin)).await.unwrap();
        assert_eq!(actor, Actor::client(&admin_id));
    }
}
