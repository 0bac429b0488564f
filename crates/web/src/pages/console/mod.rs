//! The admin console (`/console`, SPEC 8): server-rendered pages over the same use cases
//! as the admin API, entered through the sign-in page by users with `is_admin`. Every
//! change is a CSRF-protected form post, audited as `user:<username>`; htmx and a small
//! script of ours only enhance pages that work without JavaScript.

mod audit;
mod client_form;
mod clients;
mod scopes;
mod usage;
mod users;

use std::borrow::Cow;

use askama::Template;
use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use thetasecure_app::audit::Actor;
use thetasecure_app::sessions::SignedIn;
use thetasecure_app::{AdminError, App};

use super::login::see_other;
use super::{PageError, csrf, render};
use crate::extract::{body_bytes, has_media_type};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/", get(|| async { see_other("/console") }))
        .route("/console", get(|| async { see_other("/console/clients") }))
        .route("/console/clients", get(clients::list).post(clients::create))
        .route("/console/clients/new", get(clients::chooser))
        .route("/console/clients/new/{kind}", get(clients::new_form))
        .route("/console/clients/{client_id}", get(clients::details))
        .route(
            "/console/clients/{client_id}/edit",
            get(clients::edit_form).post(clients::update),
        )
        .route(
            "/console/clients/{client_id}/delete",
            get(clients::confirm_delete).post(clients::delete),
        )
        .route("/console/clients/{client_id}/status", post(clients::status))
        .route("/console/clients/{client_id}/rotate", post(clients::rotate))
        .route(
            "/console/clients/{client_id}/secrets/{secret_id}/revoke",
            post(clients::revoke_secret),
        )
        .route(
            "/console/clients/{client_id}/revoke-tokens",
            post(clients::revoke_tokens),
        )
        .route("/console/scopes", get(scopes::list).post(scopes::create))
        .route("/console/scopes/{name}", post(scopes::update))
        .route("/console/scopes/{name}/delete", post(scopes::delete))
        .route("/console/users", get(users::list).post(users::create))
        .route("/console/users/new", get(users::new_form))
        .route("/console/users/{user_id}", get(users::details))
        .route("/console/users/{user_id}/status", post(users::status))
        .route("/console/users/{user_id}/password", post(users::password))
        .route("/console/users/{user_id}/sign-out", post(users::sign_out))
        .route("/console/audit", get(audit::list))
}

/// The console's sections, for the navigation and `aria-current`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Clients,
    Scopes,
    Users,
    Audit,
}

impl Section {
    fn name(self) -> &'static str {
        match self {
            Self::Clients => "clients",
            Self::Scopes => "scopes",
            Self::Users => "users",
            Self::Audit => "audit",
        }
    }
}

/// What every console page's shell shows: who is signed in, the section, the form token.
pub struct Shell {
    pub username: String,
    pub display_name: String,
    pub csrf_token: String,
    /// The section's name (`clients`, `scopes`, …).
    pub section: &'static str,
}

/// A signed-in administrator; console handlers take one, so none can be reached without.
/// Anyone else is sent to sign in, or, signed in without `is_admin`, refused.
pub struct ConsoleAdmin {
    pub signed_in: SignedIn,
    pub actor: Actor,
    csrf_token: String,
    jar: CookieJar,
}

impl FromRequestParts<App> for ConsoleAdmin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_headers(&parts.headers);
        let signed_in = super::authorize::signed_in(app, &jar)
            .await
            .map_err(IntoResponse::into_response)?;
        let Some(signed_in) = signed_in else {
            // A form posted after the session ended comes back to its page, not the post.
            let return_to = if parts.method == axum::http::Method::GET {
                parts
                    .uri
                    .path_and_query()
                    .map_or("/console", |p| p.as_str())
            } else {
                "/console"
            };
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("return_to", return_to)
                .finish();
            return Err(see_other(&format!("/login?{query}")));
        };
        if !signed_in.user.profile.is_admin {
            return Err(PageError::new(
                StatusCode::FORBIDDEN,
                "Administrators only",
                format!(
                    "You are signed in as {}, who is not an administrator. Sign out and sign in as an administrator to use the console.",
                    signed_in.user.profile.username
                ),
            )
            .into_response());
        }
        let (jar, csrf_token) = csrf::token(app, jar);
        Ok(Self {
            actor: Actor::user(&signed_in.user.profile.username),
            signed_in,
            csrf_token,
            jar,
        })
    }
}

impl ConsoleAdmin {
    pub fn shell(&self, section: Section) -> Shell {
        let profile = &self.signed_in.user.profile;
        Shell {
            username: profile.username.clone(),
            display_name: profile
                .display_name
                .clone()
                .filter(|name| !name.is_empty())
                .unwrap_or_else(|| profile.username.clone()),
            csrf_token: self.csrf_token.clone(),
            section: section.name(),
        }
    }

    /// A rendered page with this browser's cookies (a new CSRF cookie, when it had none).
    pub fn page(self, status: StatusCode, template: &impl Template) -> Response {
        (status, self.jar, render(template)).into_response()
    }

    /// Refuses a form without this browser's token, or sent from another origin.
    pub fn check_form(
        &self,
        app: &App,
        headers: &HeaderMap,
        form: &ConsoleForm,
    ) -> Result<(), PageError> {
        let token = match form.all("csrf_token").as_slice() {
            [one] => Some(*one),
            _ => None,
        };
        csrf::check(app, &self.jar, headers, token)
    }
}

/// A console form: `application/x-www-form-urlencoded`, where lists (redirect URIs,
/// scopes, grant types) are fields repeated, as browsers send them.
pub struct ConsoleForm(Vec<(String, String)>);

/// More fields than any console form has are not a console form.
const MAX_FORM_FIELDS: usize = 200;

impl<S: Send + Sync> FromRequest<S> for ConsoleForm {
    type Rejection = PageError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        if !has_media_type(request.headers(), &["application/x-www-form-urlencoded"]) {
            return Err(PageError::bad_request("The form was not sent as a form."));
        }
        let bytes = body_bytes(request)
            .await
            .map_err(|error| PageError::bad_request(error.description()))?;
        let fields: Vec<(String, String)> = url::form_urlencoded::parse(&bytes)
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .take(MAX_FORM_FIELDS + 1)
            .collect();
        if fields.len() > MAX_FORM_FIELDS {
            return Err(PageError::bad_request("The form has too many fields."));
        }
        Ok(Self(fields))
    }
}

impl ConsoleForm {
    /// The field's value; the first, if repeated.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(candidate, _)| candidate == name)
            .map(|(_, value)| value.as_str())
    }

    /// The field's value trimmed, or empty.
    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().trim().to_owned()
    }

    /// Every value of a repeated field, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(candidate, _)| candidate == name)
            .map(|(_, value)| value.as_str())
            .collect()
    }

    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// A use case's description as a sentence, leaving a field's name (`grant_types: …`)
/// as the API spells it.
pub fn sentence(description: String) -> String {
    let first_word = description.split([' ', ':']).next().unwrap_or_default();
    if first_word.contains(['_', '`', '.']) {
        let mut text = description;
        if !text.ends_with(['.', '!', '?']) {
            text.push('.');
        }
        text
    } else {
        super::as_sentence(description)
    }
}

/// How an admin use case's refusal reads on a page: its description as a sentence.
pub fn refusal_text(error: &AdminError) -> Option<String> {
    match error {
        AdminError::Invalid(error) => Some(sentence(error.description.clone())),
        AdminError::Conflict(why) => Some(sentence(why.clone())),
        AdminError::NotFound(what) => Some(format!("No such {what}.")),
        AdminError::Unavailable(_) | AdminError::Internal(_) => None,
    }
}

/// An admin use case's failure as a whole page: not found, or the server's fault.
pub fn failure_page(error: AdminError) -> Response {
    match error {
        AdminError::NotFound(what) => PageError::new(
            StatusCode::NOT_FOUND,
            "Not found",
            format!("There is no such {what}. It may have been deleted."),
        )
        .into_response(),
        AdminError::Invalid(error) => {
            PageError::bad_request(error.description.clone()).into_response()
        }
        AdminError::Conflict(why) => {
            PageError::new(StatusCode::CONFLICT, "This cannot be done", why).into_response()
        }
        other => PageError::unavailable(other).into_response(),
    }
}

/// Whether htmx sent the request (it then wants the fragment it will swap in).
pub fn from_htmx(headers: &HeaderMap) -> bool {
    headers
        .get("hx-request")
        .is_some_and(|v| v.as_bytes() == b"true")
}

/// `path` with `pairs` as its query, the empty ones left out.
pub fn with_query(path: &str, pairs: &[(&str, &str)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (name, value) in pairs.iter().filter(|(_, value)| !value.is_empty()) {
        query.append_pair(name, value);
        any = true;
    }
    if any {
        format!("{path}?{}", query.finish())
    } else {
        path.to_owned()
    }
}

/// A path segment from an id a person or the store chose, escaped for a URL.
pub fn segment(id: &str) -> Cow<'_, str> {
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"-_.~:".contains(&b);
    if id.bytes().all(plain) {
        return Cow::Borrowed(id);
    }
    let mut escaped = String::with_capacity(id.len() * 3);
    for byte in id.bytes() {
        if plain(byte) {
            escaped.push(char::from(byte));
        } else {
            escaped.push_str(&format!("%{byte:02X}"));
        }
    }
    Cow::Owned(escaped)
}

/// A time as a person reads it in a table, and its RFC 3339 form for `<time datetime>`.
pub struct When {
    pub iso: String,
    pub shown: String,
}

impl When {
    pub fn of(at: thetasecure_core::Timestamp) -> Self {
        let iso = at.to_rfc3339();
        // 2025-11-26T16:20:57.123Z → 2025-11-26 16:20 UTC
        let shown = match (iso.get(..10), iso.get(11..16)) {
            (Some(day), Some(time)) => format!("{day} {time} UTC"),
            _ => iso.clone(),
        };
        Self { iso, shown }
    }
}
