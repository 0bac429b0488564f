//! ThetaSecure's HTTP surface: the OAuth endpoints, the admin API and the operations
//! endpoints. Handlers are thin: extract, call one use case, map the result.

pub mod admin;
mod error;
mod extract;
mod oauth;
mod ops;
mod pages;
mod unambiguous_json;

use std::any::Any;
use std::convert::Infallible;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;
use axum::routing::future::RouteFuture;
use thetasecure_app::App;
use tower::Service;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;

pub use error::ApiError;
pub use ops::Metrics;

/// Bodies larger than this are refused before they are read whole (SECURITY D4).
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole HTTP surface. With `admin_separate`, the admin API and `/metrics` are left
/// out; serve them with [`admin_router`] on their own listener.
pub fn router(app: App, metrics: Metrics, admin_separate: bool) -> HttpService {
    let mut routes = oauth::routes()
        .merge(pages::routes(!admin_separate))
        .merge(ops::public_routes());
    if !admin_separate {
        routes = routes
            .merge(admin::routes())
            .merge(ops::admin_routes(metrics));
    }
    HttpService::new(routes.with_state(app))
}

/// The admin API, the console (with its sign-in page) and `/metrics`, for `--admin-listen`.
pub fn admin_router(app: App, metrics: Metrics) -> HttpService {
    HttpService::new(
        admin::routes()
            .merge(pages::admin_routes())
            .merge(ops::admin_routes(metrics))
            .with_state(app),
    )
}

/// The router type the binary passes back to [`serve`].
pub type HttpRouter = HttpService;

/// Serves `service` on `listener` until `shutdown` completes, then lets in-flight
/// requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: HttpService,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::ServiceExt as _;
    // The peer address feeds the brute-force throttle of client authentication.
    let service = service.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await
}

/// The router with what every request gets, whatever its route: a request id (kept when
/// the caller sent one, echoed in the response) and a panic guard that answers 500.
///
/// One service of a static type around the router rather than `Router::layer`s: axum
/// boxes each layer per route, and boxing and cloning those on every request cost more
/// than the token and introspection handlers themselves (docs/performance.md).
#[derive(Clone)]
pub struct HttpService {
    router: Router,
    request_ids: SequentialRequestId,
    /// Whether request spans are on; only they read a generated id from the request.
    traced: bool,
}

impl HttpService {
    fn new(router: Router) -> Self {
        let router = router.layer(ops::TrackRequestsLayer::new());
        // Per-request spans only when debug logging asks for them: without them and the
        // timeout layer that stood here, the token and introspection paths came out ahead
        // in every pair of A/B runs of bench/run (docs/performance.md). Store calls carry
        // their own timeouts (pool acquire, busy timeout), which answer 503 rather than hang.
        let traced = tracing::enabled!(target: "thetasecure_web", tracing::Level::DEBUG);
        let router = if traced {
            router
                .layer(TraceLayer::new_for_http().make_span_with(ops::request_span))
                // Credentials must never reach a log line, whatever a span formatter prints.
                .layer(SetSensitiveRequestHeadersLayer::new([
                    header::AUTHORIZATION,
                    header::COOKIE,
                ]))
        } else {
            router
        };
        Self {
            router,
            request_ids: SequentialRequestId::new(),
            traced,
        }
    }
}

impl Service<Request> for HttpService {
    type Response = Response;
    type Error = Infallible;
    type Future = HttpResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let request_id = match request.headers().get(&REQUEST_ID) {
            Some(sent) => Some(sent.clone()),
            None => {
                let id = self.request_ids.next();
                // The request's header map is sized for what the caller sent; one more
                // header regrows it, which untraced requests need not pay for.
                if self.traced
                    && let Some(id) = &id
                {
                    request.headers_mut().insert(REQUEST_ID, id.clone());
                }
                id
            }
        };
        HttpResponseFuture {
            request_id,
            inner: self.router.call(request),
        }
    }
}

pin_project_lite::pin_project! {
    pub struct HttpResponseFuture {
        request_id: Option<HeaderValue>,
        #[pin]
        inner: RouteFuture<Infallible>,
    }
}

impl Future for HttpResponseFuture {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let inner = this.inner;
        let mut response = match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(Ok(response))) => response,
            Ok(Poll::Ready(Err(never))) => match never {},
            Err(panic) => panic_response(panic),
        };
        if let Some(id) = this.request_id.take() {
            response.headers_mut().insert(REQUEST_ID, id);
        }
        Poll::Ready(Ok(response))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("handler panicked")]
struct HandlerPanicked;

/// A panic in a handler becomes a plain 500 JSON error, never a dropped connection.
fn panic_response(_panic: Box<dyn Any + Send + 'static>) -> Response {
    use axum::response::IntoResponse as _;
    ApiError::internal(&HandlerPanicked).into_response()
}

/// Request ids unique to this process run: a random prefix chosen at start and a counter,
/// as `<12 hex digits>-<16 hex digits>`. A UUID per request would cost a `getrandom`
/// system call, and `format!` a tenth of an introspection's instructions.
#[derive(Clone)]
struct SequentialRequestId {
    prefix: [u8; 12],
    counter: Arc<AtomicU64>,
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

impl SequentialRequestId {
    fn new() -> Self {
        let mut prefix = [0u8; 12];
        for (pair, byte) in prefix
            .chunks_exact_mut(2)
            .zip(thetasecure_core::random::bytes::<6>())
        {
            pair[0] = HEX_DIGITS[usize::from(byte >> 4)];
            pair[1] = HEX_DIGITS[usize::from(byte & 0xf)];
        }
        Self {
            prefix,
            counter: Default::default(),
        }
    }

    fn next(&self) -> Option<HeaderValue> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut id = [0u8; 29];
        id[..12].copy_from_slice(&self.prefix);
        id[12] = b'-';
        for (position, digit) in id[13..].iter_mut().enumerate() {
            let shift = 60 - 4 * position;
            *digit = HEX_DIGITS[((n >> shift) & 0xf) as usize];
        }
        HeaderValue::from_bytes(&id).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_a_fixed_prefix_and_a_counter() {
        let ids = SequentialRequestId::new();
        let first = ids.next().unwrap();
        let second = ids.next().unwrap();
        let (first, second) = (first.to_str().unwrap(), second.to_str().unwrap());
        assert_eq!(first.len(), 29);
        assert_eq!(first[..13], second[..13]);
        assert_eq!(&first[12..], "-0000000000000000");
        assert_eq!(&second[12..], "-0000000000000001");
        assert!(first[..12].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(
            first[..12],
            SequentialRequestId::new().next().unwrap().to_str().unwrap()[..12]
        );
    }
}
