//! The token endpoint's floor: the echo plus what no token endpoint can skip, minting
//! and signing one access token per request with the key parsed once, as ThetaSecure
//! signs (same claims, same `jti`, same JWS code, a key id of the same length) and
//! answering with the headers RFC 6749 §5.1 requires. ThetaSecure's
//! `client_credentials` rate divided by this server's, in the same run, is how close it
//! comes to what the signature allows.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Router, routing::post};
use thetasecure_app::keys::{SigningAlg, SigningKey};
use thetasecure_app::token::access::access_token_claims;
use thetasecure_core::clock::{Clock, SystemClock};

const ISSUER: &str = "http://127.0.0.1:8080";
const CLIENT_ID: &str = "ts_abcdefghijklmnopqrstuvwxyz";
const SCOPE: &str = "directory.read";
const TTL_SECONDS: u32 = 3600;
/// As long as ThetaSecure's key ids (32 hex digits), so the header weighs the same.
const KEY_ID: &str = "0123456789abcdef0123456789abcdef";

async fn mint(State(key): State<Arc<SigningKey>>) -> Response {
    let claims = access_token_claims(
        ISSUER,
        CLIENT_ID,
        CLIENT_ID,
        SCOPE.to_owned(),
        SystemClock.now(),
        TTL_SECONDS,
    );
    let token = match key.sign_access_token(&claims) {
        Ok(token) => token,
        Err(err) => return (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response(),
    };
    let body = format!(
        r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":{TTL_SECONDS},"scope":"{SCOPE}"}}"#
    );
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        body,
    )
        .into_response()
}

pub(crate) async fn run(listen: SocketAddr, alg: SigningAlg) -> anyhow::Result<()> {
    let key = SigningKey::generate(KEY_ID.into(), alg)?;
    // The token scenario's path, and `/` for a quick look with curl.
    let app = Router::new()
        .route("/oauth2/token", post(mint))
        .route("/", post(mint))
        .with_state(Arc::new(key));
    crate::serve(listen, app).await
}
