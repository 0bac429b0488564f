//! ThetaSecure's HTTP surface: the OAuth endpoints, the admin API and the operations
//! endpoints. Handlers are thin: extract, call one use case, map the result.

pub mod admin;
mod error;
mod extract;
mod oauth;
mod ops;

use axum::Router;
use axum::http::{HeaderName, header};
use thetasecure_app::App;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;

pub use error::ApiError;
pub use ops::Metrics;

/// Bodies larger than this are refused before any handler runs (SECURITY D4).
const MAX_BODY_BYTES: usize = 64 * 1024;

/// The whole HTTP surface. With `admin_separate`, the admin API and `/metrics` are left
/// out; serve them with [`admin_router`] on their own listener.
pub fn router(app: App, metrics: Metrics, admin_separate: bool) -> Router {
    let mut routes = oauth::routes().merge(ops::public_routes());
    if !admin_separate {
        routes = routes.merge(admin::routes()).merge(ops::admin_routes());
    }
    with_middleware(routes.with_state(app), metrics)
}

/// The admin API and `/metrics`, for `--admin-listen`.
pub fn admin_router(app: App, metrics: Metrics) -> Router {
    with_middleware(
        admin::routes().merge(ops::admin_routes()).with_state(app),
        metrics,
    )
}

/// The router type the binary passes back to [`serve`].
pub type HttpRouter = Router;

/// Serves `router` on `listener` until `shutdown` completes, then lets in-flight
/// requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The peer address feeds the brute-force throttle of client authentication.
    let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await
}

fn with_middleware(router: Router, metrics: Metrics) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let router = router
        .layer(axum::middleware::from_fn_with_state(
            metrics.clone(),
            ops::track_requests,
        ))
        .layer(axum::Extension(metrics))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(PropagateRequestIdLayer::new(request_id.clone()));
    // Per-request spans only when debug logging asks for them: without them and the
    // timeout layer that stood here, the token and introspection paths came out ahead in
    // every pair of A/B runs of bench/run (docs/performance.md). Store calls carry their
    // own timeouts (pool acquire, busy timeout), which answer 503 rather than hang.
    let router = if tracing::enabled!(target: "thetasecure_web", tracing::Level::DEBUG) {
        router.layer(TraceLayer::new_for_http().make_span_with(ops::request_span))
    } else {
        router
    };
    router
        .layer(SetRequestIdLayer::new(
            request_id,
            SequentialRequestId::new(),
        ))
        // Credentials must never reach a log line, whatever a span formatter prints.
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::COOKIE,
        ]))
}

/// Request ids unique to this process run: a random prefix chosen at start and a counter.
/// A UUID per request would cost a `getrandom` system call on the hot path.
#[derive(Clone)]
struct SequentialRequestId {
    prefix: std::sync::Arc<str>,
    counter: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl SequentialRequestId {
    fn new() -> Self {
        let prefix: String = thetasecure_core::random::bytes::<6>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Self {
            prefix: prefix.into(),
            counter: Default::default(),
        }
    }
}

impl MakeRequestId for SequentialRequestId {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        axum::http::HeaderValue::from_str(&format!("{}-{n:x}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}
