//! The OAuth 2.0 / OIDC protocol endpoints.

mod bodies;
mod discovery;
mod token;
mod userinfo;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use thetasecure_app::App;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/oauth2/token", post(token::token))
        .route("/oauth2/introspect", post(token::introspect))
        .route("/oauth2/revoke", post(token::revoke))
        .route("/oauth2/jwks", get(discovery::jwks))
        .route("/oauth2/userinfo", get(userinfo::get).post(userinfo::post))
        .route(
            "/.well-known/openid-configuration",
            get(discovery::metadata),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(discovery::metadata),
        )
}

/// Responses carrying tokens or token state are never cached (RFC 6749 §5.1).
pub fn no_store(response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
