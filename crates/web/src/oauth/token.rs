//! `/oauth2/token`, `/oauth2/introspect` and `/oauth2/revoke`.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use std::net::IpAddr;
use thetasecure_app::token::TokenRequest;
use thetasecure_app::{App, ClientCredentials};
use thetasecure_core::OAuthError;

use super::{bodies, no_store};
use crate::error::ApiError;
use crate::extract::{ClientAddress, OAuthForm};

pub async fn token(
    State(app): State<App>,
    ClientAddress(source): ClientAddress,
    form: OAuthForm,
) -> Result<Response, ApiError> {
    let grant = app
        .requested_grant(form.get("grant_type"))
        .map_err(|e| ApiError::from_token_error(e, false))?;
    let (client, basic) = form.client_authentication(source)?;
    let request = TokenRequest {
        scope: form.get("scope"),
        code: form.get("code"),
        redirect_uri: form.get("redirect_uri"),
        code_verifier: form.get("code_verifier"),
        refresh_token: form.get("refresh_token"),
        username: form.get("username"),
        password: form.get("password"),
    };
    let issued = app
        .grant(grant, &client, &request)
        .await
        .map_err(|e| ApiError::from_token_error(e, basic))?;
    // Debug, not info: a line per token would cost more than the rest of the request.
    tracing::debug!(client_id = %client.client_id(), grant_type = grant.as_str(), "token issued");
    Ok(json_no_store(bodies::token_response(&issued)))
}

pub async fn introspect(
    State(app): State<App>,
    ClientAddress(source): ClientAddress,
    form: OAuthForm,
) -> Result<Response, ApiError> {
    let (credentials, basic, token) = caller_and_token(&form, source)?;
    let answer = app
        .introspect(&credentials, token)
        .await
        .map_err(|e| ApiError::from_token_error(e, basic))?;
    Ok(json_no_store(bodies::introspection(&answer)))
}

pub async fn revoke(
    State(app): State<App>,
    ClientAddress(source): ClientAddress,
    form: OAuthForm,
) -> Result<Response, ApiError> {
    let (client, basic) = form.client_authentication(source)?;
    let token = required_token(&form)?;
    app.revoke_token(&client, token)
        .await
        .map_err(|e| ApiError::from_token_error(e, basic))?;
    Ok(no_store(()))
}

/// A JSON body written in `bodies`, never cached. Built directly rather than
/// from a `(headers, body)` tuple, which writes a `text/plain` content type first and
/// then replaces it: the token and introspection answers are the hot path.
fn json_no_store(body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    no_store(response)
}

/// The caller's credentials (and whether Basic carried them) and the `token` parameter,
/// as introspection (RFC 7662 §2.1) takes them.
fn caller_and_token(
    form: &OAuthForm,
    source: IpAddr,
) -> Result<(ClientCredentials, bool, &str), ApiError> {
    let (credentials, basic) = form.client_credentials(source)?;
    Ok((credentials, basic, required_token(form)?))
}

/// The `token` parameter of introspection and revocation (RFC 7009 §2.1).
fn required_token(form: &OAuthForm) -> Result<&str, ApiError> {
    Ok(form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?)
}
