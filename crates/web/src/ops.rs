//! Operations: `/healthz`, `/readyz`, `/metrics`, request metrics and request spans.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, RwLock};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use thetasecure_app::App;
use tower::{Layer, Service};

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

    /// Folds the latency samples recorded since the last call into the histograms. The
    /// recorder buffers every sample until then, so without it memory grows with traffic
    /// between scrapes.
    pub fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }
}

pub fn public_routes() -> Router<App> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

pub fn admin_routes(metrics: Metrics) -> Router<App> {
    Router::new().route(
        "/metrics",
        get(move || async move { metrics.handle.render() }),
    )
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(app): State<App>) -> Response {
    match app.ready().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(error) => {
            tracing::warn!(error = %thetasecure_core::ErrorChain(&error), "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable").into_response()
        }
    }
}

/// Counts requests by route, method and status and records their latency, as a tower
/// layer inside the router (where the matched route is known).
#[derive(Clone)]
pub struct TrackRequestsLayer(Arc<RequestHandles>);

impl TrackRequestsLayer {
    pub fn new() -> Self {
        Self(Arc::default())
    }
}

impl<S> Layer<S> for TrackRequestsLayer {
    type Service = TrackRequests<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TrackRequests {
            inner,
            handles: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub struct TrackRequests<S> {
    inner: S,
    handles: Arc<RequestHandles>,
}

impl<S> Service<Request> for TrackRequests<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = TrackedResponse<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or("unmatched", MatchedPath::as_str);
        TrackedResponse {
            route: self.handles.route(route),
            method: request.method().clone(),
            started: Instant::now(),
            inner: self.inner.call(request),
        }
    }
}

pin_project_lite::pin_project! {
    pub struct TrackedResponse<F> {
        route: Arc<RouteHandles>,
        method: Method,
        started: Instant,
        #[pin]
        inner: F,
    }
}

impl<F, E> Future for TrackedResponse<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        if let Ok(response) = &result {
            this.route
                .record(this.method, response.status(), *this.started);
        }
        Poll::Ready(result)
    }
}

/// Metric handles registered once per route, method and status: registering through the
/// `metrics` macros on every request (label strings, key hashing, a registry lookup) cost
/// more than routing the request.
#[derive(Default)]
struct RequestHandles {
    routes: RwLock<HashMap<Box<str>, Arc<RouteHandles>>>,
}

impl RequestHandles {
    fn route(&self, route: &str) -> Arc<RouteHandles> {
        if let Some(handles) = read(&self.routes).get(route) {
            return handles.clone();
        }
        write(&self.routes)
            .entry(route.into())
            .or_insert_with(|| {
                Arc::new(RouteHandles {
                    route: route.into(),
                    duration: metrics::histogram!(
                        "thetasecure_http_request_duration_seconds",
                        "route" => route.to_owned()
                    ),
                    requests: RwLock::default(),
                })
            })
            .clone()
    }
}

struct RouteHandles {
    route: Box<str>,
    duration: metrics::Histogram,
    requests: RwLock<Vec<(Method, StatusCode, metrics::Counter)>>,
}

impl RouteHandles {
    fn record(&self, method: &Method, status: StatusCode, started: Instant) {
        self.duration.record(started.elapsed().as_secs_f64());
        let counted = read(&self.requests)
            .iter()
            .find(|(m, s, _)| m == method && *s == status)
            .map(|(_, _, counter)| counter.increment(1))
            .is_some();
        if !counted {
            let counter = metrics::counter!(
                "thetasecure_http_requests_total",
                "route" => self.route.to_string(),
                "method" => method.to_string(),
                "status" => status.as_u16().to_string()
            );
            counter.increment(1);
            write(&self.requests).push((method.clone(), status, counter));
        }
    }
}

/// The handles stay usable after a panic elsewhere: they hold no invariant a panic could break.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
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
