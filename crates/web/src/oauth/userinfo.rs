//! `/oauth2/userinfo` (OIDC Core §5.3): the bearer token from the `Authorization` header,
//! or for POST from the form's `access_token` (RFC 6750 §2.1, §2.2), never both.

use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use thetasecure_app::App;
use thetasecure_app::userinfo::UserInfoError;
use thetasecure_core::{ErrorCode, OAuthError};

use super::no_store;
use crate::error::ApiError;
use crate::extract::{OAuthForm, has_media_type};

pub async fn get(State(app): State<App>, headers: HeaderMap) -> Result<Response, ApiError> {
    let bearer = headers.get(header::AUTHORIZATION).and_then(bearer);
    answer(&app, bearer).await
}

pub async fn post(State(app): State<App>, request: Request) -> Result<Response, ApiError> {
    if !has_media_type(request.headers(), &["application/x-www-form-urlencoded"]) {
        return get(State(app), request.headers().clone()).await;
    }
    let form = OAuthForm::from_request(request, &()).await?;
    let header = form.authorization().and_then(bearer);
    let bearer = match (header, form.get("access_token")) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request(
                "access_token must be sent in the Authorization header or the body, not both",
            )
            .into());
        }
        (Some(token), None) | (None, Some(token)) => Some(token),
        (None, None) => None,
    };
    answer(&app, bearer).await
}

async fn answer(app: &App, bearer: Option<&str>) -> Result<Response, ApiError> {
    match app.userinfo(bearer).await {
        Ok(info) => Ok(no_store(Json(info))),
        Err(refused) => Err(refusal(refused)),
    }
}

/// The token of an `Authorization: Bearer` header (the scheme is case-insensitive).
fn bearer(value: &HeaderValue) -> Option<&str> {
    let (scheme, token) = value.to_str().ok()?.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// RFC 6750 §3: a request without a token gets a bare challenge, the others its error.
fn refusal(refused: UserInfoError) -> ApiError {
    let description = refused.to_string();
    match refused {
        UserInfoError::NoToken => ApiError::new(ErrorCode::InvalidToken, description)
            .with_challenge("Bearer realm=\"thetasecure\""),
        UserInfoError::InvalidToken => ApiError::new(ErrorCode::InvalidToken, description)
            .with_challenge("Bearer realm=\"thetasecure\", error=\"invalid_token\""),
        UserInfoError::InsufficientScope => {
            ApiError::new(ErrorCode::InsufficientScope, description).with_challenge(
                "Bearer realm=\"thetasecure\", error=\"insufficient_scope\", scope=\"openid\"",
            )
        }
        UserInfoError::Unchecked(error) => ApiError::from_token_error(error, false),
    }
}
