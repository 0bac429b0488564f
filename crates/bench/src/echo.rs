//! The baseline: what one pinned core serves with axum and nothing else.

use std::net::SocketAddr;

use axum::{Router, http::header, response::IntoResponse, routing::post};

const BODY: &str = r#"{"ok":true}"#;

async fn answer() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], BODY)
}

pub(crate) async fn run(listen: SocketAddr) -> anyhow::Result<()> {
    let app = Router::new().route("/", post(answer));
    crate::serve(listen, app).await
}
