//! Discovery metadata and the JWK Set.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use thetasecure_app::App;

use crate::error::ApiError;

pub async fn metadata(State(app): State<App>) -> Result<Response, ApiError> {
    let metadata = app
        .server_metadata()
        .await
        .map_err(|cause| ApiError::unavailable_because(&cause))?;
    Ok(Json(metadata).into_response())
}

pub async fn jwks(State(app): State<App>) -> Response {
    let mut response = Json(app.jwks()).into_response();
    // Short, so a rotated key is seen soon; long enough to spare the server.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    response
}
