//! Operations: `/healthz`, `/readyz`, `/metrics`, request metrics and request spans.

use std::sync::OnceLock;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use thetasecure_app::App;

/// The Prometheus recorder. Installed once per process (the `metrics` facade is global).
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
}

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

impl Metrics {
    /// `None` only if another recorder was installed by someone else first.
    pub fn install() -> Option<Metrics> {
        RECORDER
            .get_or_init(|| {
                PrometheusBuilder::new()
                    .set_buckets_for_metric(
                        Matcher::Suffix("duration_seconds".into()),
                        LATENCY_BUCKETS,
                    )
                    .ok()?
                    .install_recorder()
                    .ok()
            })
            .clone()
            .map(|handle| Metrics { handle })
    }
}

pub fn public_routes() -> Router<App> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

pub fn admin_routes() -> Router<App> {
    Router::new().route("/metrics", get(render_metrics))
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(app): State<App>) -> Response {
    match app.store().ready().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(error) => {
            tracing::warn!(%error, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable").into_response()
        }
    }
}

async fn render_metrics(axum::Extension(metrics): axum::Extension<Metrics>) -> String {
    metrics.handle.render()
}

/// Counts requests by route and status and records their latency.
pub async fn track_requests(
    State(_metrics): State<Metrics>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("thetasecure_http_requests_total", "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("thetasecure_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// The span of each request: method, route and request id; never headers or bodies.
/// At debug level: per-request spans are costly on the token path, and metrics count requests.
pub fn request_span(request: &Request) -> tracing::Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str)
        .unwrap_or("unmatched");
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::debug_span!("request", method = %request.method(), route, request_id)
}
