//! The sign-in floor: one Argon2id verification per `POST /`, with the parameters and
//! the bounded pool ThetaSecure's sign-in uses (`thetasecure_app::passwords`), of a
//! password against a hash made once at start. ThetaSecure's sign-in rate divided by
//! this server's, in the same run, is how close it comes to what the hash allows.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Router, routing::post};
use thetasecure_app::passwords::{self, PasswordHashing};

const PASSWORD: &str = "a bench password of some length";

struct Verifier {
    hashing: PasswordHashing,
    phc: String,
}

async fn verify(State(verifier): State<Arc<Verifier>>) -> StatusCode {
    match verifier
        .hashing
        .verify(PASSWORD.to_owned(), verifier.phc.clone())
        .await
    {
        Ok(true) => StatusCode::OK,
        Ok(false) => StatusCode::UNAUTHORIZED,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

pub(crate) async fn run(listen: SocketAddr) -> anyhow::Result<()> {
    let phc = passwords::hash(PASSWORD).map_err(anyhow::Error::msg)?;
    let verifier = Arc::new(Verifier {
        hashing: PasswordHashing::default(),
        phc,
    });
    let app = Router::new()
        .route("/login", post(verify))
        .route("/", post(verify))
        .with_state(verifier);
    crate::serve(listen, app).await
}
