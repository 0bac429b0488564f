//! Who may call the admin API: a bearer access token from this server holding `admin`.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use thetasecure_app::App;
use thetasecure_app::audit::Actor;
use thetasecure_core::ErrorCode;

use crate::error::ApiError;

const ADMIN_SCOPE: &str = "admin";

/// Proof that the caller is an administrator; admin handlers take one as an argument.
pub struct AdminPrincipal {
    pub actor: Actor,
}

impl FromRequestParts<App> for AdminPrincipal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                value
                    .strip_prefix("Bearer ")
                    .or_else(|| value.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidToken,
                    "a bearer access token with the admin scope is required",
                )
                .with_challenge("Bearer realm=\"thetasecure\"")
            })?;
        let active = app
            .active_access_token(token)
            .await
            .map_err(|e| ApiError::from_token_error(e, false))?
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidToken,
                    "the access token is invalid, expired or revoked",
                )
                .with_challenge("Bearer realm=\"thetasecure\", error=\"invalid_token\"")
            })?;
        if !active
            .claims()
            .scope
            .split(' ')
            .any(|scope| scope == ADMIN_SCOPE)
        {
            return Err(ApiError::new(
                ErrorCode::InsufficientScope,
                "the access token lacks the admin scope",
            )
            .with_challenge(
                "Bearer realm=\"thetasecure\", error=\"insufficient_scope\", scope=\"admin\"",
            ));
        }
        Ok(AdminPrincipal {
            actor: Actor::client(&active.claims().client_id),
        })
    }
}
