//! The pages people see: sign-in, sign-out (RP-initiated logout) and the error page (the consent page and the
//! console build on them). Server-rendered askama templates, assets embedded in the
//! binary, and one set of layers for every page: a strict Content-Security-Policy with
//! no inline script, no framing, no referrer, no caching.

mod authorize;
mod console;
mod csrf;
mod login;
mod logout;

use askama::Template;
use axum::Router;
use axum::extract::{FromRequest, Path, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::{Cookie, SameSite};
use rust_embed::Embed;
use thetasecure_app::App;

use crate::extract::{Params, body_bytes, has_media_type};

/// The pages of the public listener; with `with_console`, the console too (unless
/// `--admin-listen` moves it to [`admin_routes`]).
pub fn routes(with_console: bool) -> Router<App> {
    let mut routes = Router::new()
        .route(
            "/oauth2/authorize",
            get(authorize::show).post(authorize::submit),
        )
        .route("/consent", post(authorize::consent))
        .merge(sign_in_routes());
    if with_console {
        routes = routes.merge(console::routes());
    }
    routes.layer(middleware::from_fn(page_headers))
}

/// The console for the admin listener, with the sign-in it needs.
pub fn admin_routes() -> Router<App> {
    sign_in_routes()
        .merge(console::routes())
        .layer(middleware::from_fn(page_headers))
}

fn sign_in_routes() -> Router<App> {
    Router::new()
        .route("/login", get(login::show).post(login::submit))
        .route("/logout", get(logout::show).post(logout::submit))
        .route("/assets/{file}", get(asset))
}

/// `form-action` is left out on purpose: browsers apply it to the redirects that follow a
/// form (sign-in → authorize → the client's redirect URI), which would block every
/// client. Forms post only to this origin anyway, and `default-src 'none'` covers the rest.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The headers every page and asset gets.
async fn page_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let fixed = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    // Pages hold per-user state (a CSRF token, a signed-in name); assets may be cached.
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

#[derive(Embed)]
#[folder = "assets/"]
struct Assets;

async fn asset(Path(file): Path<String>) -> Response {
    match Assets::get(&file) {
        Some(content) => {
            let mime = if file.ends_with(".css") {
                "text/css; charset=utf-8"
            } else if file.ends_with(".js") {
                "text/javascript; charset=utf-8"
            } else if file.ends_with(".txt") {
                "text/plain; charset=utf-8"
            } else {
                "application/octet-stream"
            };
            (
                [
                    (header::CONTENT_TYPE, mime),
                    (header::CACHE_CONTROL, "public, max-age=3600"),
                ],
                content.data,
            )
                .into_response()
        }
        None => PageError::new(StatusCode::NOT_FOUND, "Not found", "There is no such file.")
            .into_response(),
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

/// An error shown to a person as a page, never as JSON.
#[derive(Debug)]
pub struct PageError {
    status: StatusCode,
    title: &'static str,
    message: String,
}

impl PageError {
    pub fn new(status: StatusCode, title: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            title,
            message: message.into(),
        }
    }

    /// `message` may be an API-style description ("redirect_uri … is not registered");
    /// on a page it reads as a sentence.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "This request cannot be completed",
            as_sentence(message.into()),
        )
    }

    /// Storage or another internal failure: logged where it is turned into a page (by
    /// the JSON error mapping, which logs), shown without detail.
    pub fn unavailable(error: thetasecure_app::AdminError) -> Self {
        let api = crate::error::ApiError::from(error);
        Self::new(
            api.status(),
            "Something went wrong",
            "The server could not complete this request. Please try again shortly.",
        )
    }
}

/// A capital first letter and a closing full stop.
fn as_sentence(message: String) -> String {
    let mut chars = message.chars();
    let Some(first) = chars.next() else {
        return message;
    };
    let mut sentence: String = first.to_uppercase().chain(chars).collect();
    if !sentence.ends_with(['.', '!', '?']) {
        sentence.push('.');
    }
    sentence
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            title: self.title,
            message: &self.message,
        };
        (self.status, render(&page)).into_response()
    }
}

/// A rendered template; a template that fails to render is a bug, answered plainly.
fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(error = %error, "page template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal server error").into_response()
        }
    }
}

/// An `application/x-www-form-urlencoded` body from a page's form, with the same rules as
/// OAuth forms (a repeated field is refused), refused as a page.
pub struct PageForm(Params);

impl<S: Send + Sync> FromRequest<S> for PageForm {
    type Rejection = PageError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        if !has_media_type(request.headers(), &["application/x-www-form-urlencoded"]) {
            return Err(PageError::bad_request("The form was not sent as a form."));
        }
        let refused = |error: crate::error::ApiError| PageError::bad_request(error.description());
        let bytes = body_bytes(request).await.map_err(refused)?;
        Params::parse(&bytes).map(PageForm).map_err(refused)
    }
}

impl PageForm {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name)
    }

    pub fn into_params(self) -> Params {
        self.0
    }
}

/// A cookie for this server's pages: HttpOnly, path `/`, and, behind an `https` issuer,
/// `Secure` with the `__Host-` prefix (bound to this host). A loopback `http` issuer (a
/// developer's machine) gets neither, as browsers differ on secure cookies over http.
fn cookie(app: &App, name: &'static str, value: String, same_site: SameSite) -> Cookie<'static> {
    Cookie::build((cookie_name(app, name), value))
        .path("/")
        .http_only(true)
        .secure(is_https(app))
        .same_site(same_site)
        .build()
}

/// The name `cookie` gives `name` on this server.
fn cookie_name(app: &App, name: &'static str) -> String {
    if is_https(app) {
        format!("__Host-{name}")
    } else {
        name.to_owned()
    }
}

fn is_https(app: &App) -> bool {
    app.settings().issuer.starts_with("https://")
}

#[cfg(test)]
mod tests {
    use super::as_sentence;

    #[test]
    fn messages_read_as_sentences() {
        assert_eq!(
            as_sentence("the application is not known here".into()),
            "The application is not known here."
        );
        assert_eq!(
            as_sentence("Choose Allow or Deny.".into()),
            "Choose Allow or Deny."
        );
        assert_eq!(as_sentence(String::new()), "");
    }
}
