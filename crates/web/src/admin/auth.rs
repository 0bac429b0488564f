//! The admin API's door: the `Bearer` header read here, the decision made in
//! `thetasecure_app::admin_access`, and each refusal answered as RFC 6750 says.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use thetasecure_app::App;
use thetasecure_app::admin_access::AdminAccessError;
use thetasecure_app::audit::Actor;
use thetasecure_core::ErrorCode;

use crate::error::ApiError;

/// Proof that the caller is an administrator; admin handlers take one as an argument.
pub struct AdminPrincipal {
    pub actor: Actor,
}

impl FromRequestParts<App> for AdminPrincipal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                value
                    .strip_prefix("Bearer ")
                    .or_else(|| value.strip_prefix("bearer "))
            })
            .map(str::trim);
        match app.admin_actor(bearer).await {
            Ok(actor) => Ok(AdminPrincipal { actor }),
            Err(refused) => Err(refusal(refused)),
        }
    }
}

fn refusal(refused: AdminAccessError) -> ApiError {
    let description = refused.to_string();
    match refused {
        AdminAccessError::NoToken => ApiError::new(ErrorCode::InvalidToken, description)
            .with_challenge("Bearer realm=\"thetasecure\""),
        AdminAccessError::InvalidToken => ApiError::new(ErrorCode::InvalidToken, description)
            .with_challenge("Bearer realm=\"thetasecure\", error=\"invalid_token\""),
        AdminAccessError::LacksAdminScope => {
            ApiError::new(ErrorCode::InsufficientScope, description).with_challenge(
                "Bearer realm=\"thetasecure\", error=\"insufficient_scope\", scope=\"admin\"",
            )
        }
        AdminAccessError::Unchecked(error) => ApiError::from_token_error(error, false),
    }
}
