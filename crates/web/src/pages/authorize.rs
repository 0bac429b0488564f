//! `/oauth2/authorize` (GET, and POST as OIDC Core §3.1.2.1 allows) and the consent
//! form's answer. The decisions are `App::authorize`'s; this file only turns them into
//! redirects and pages.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use thetasecure_app::App;
use thetasecure_app::authorize::{Authorization, AuthorizeError, AuthorizeParams, ScopeShown};
use thetasecure_app::sessions::SignedIn;
use thetasecure_core::authorize::RequestParams;

use super::login::SESSION_COOKIE;
use super::{PageError, PageForm, cookie_name, csrf, render};
use crate::extract::Params;

/// The parameters a request is re-read from after sign-in or consent. `prompt` and
/// `max_age` are left out: the sign-in (or consent) that follows satisfies them.
const CARRIED: &[&str] = &[
    "client_id",
    "redirect_uri",
    "state",
    "response_type",
    "scope",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "login_hint",
];

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    client_name: &'a str,
    username: &'a str,
    scopes: &'a [ScopeShown],
    csrf_token: &'a str,
    request: Vec<(&'a str, &'a str)>,
}

fn params_of(params: &Params) -> AuthorizeParams<'_> {
    AuthorizeParams {
        client_id: params.get("client_id"),
        redirect_uri: params.get("redirect_uri"),
        state: params.get("state"),
        request: RequestParams {
            response_type: params.get("response_type"),
            scope: params.get("scope"),
            code_challenge: params.get("code_challenge"),
            code_challenge_method: params.get("code_challenge_method"),
            nonce: params.get("nonce"),
            prompt: params.get("prompt"),
            max_age: params.get("max_age"),
            login_hint: params.get("login_hint"),
            request_object: params.get("request").is_some() || params.get("request_uri").is_some(),
        },
    }
}

fn carried(params: &Params) -> Vec<(&'static str, &str)> {
    CARRIED
        .iter()
        .filter_map(|name| params.get(name).map(|value| (*name, value)))
        .collect()
}

/// The live session this browser's cookie names, if any.
pub(super) async fn signed_in(app: &App, jar: &CookieJar) -> Result<Option<SignedIn>, PageError> {
    match jar.get(&cookie_name(app, SESSION_COOKIE)) {
        Some(cookie) => app
            .session(cookie.value())
            .await
            .map_err(PageError::unavailable),
        None => Ok(None),
    }
}

pub async fn show(
    State(app): State<App>,
    jar: CookieJar,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let params = Params::parse(raw.unwrap_or_default().as_bytes())
        .map_err(|error| PageError::bad_request(error.description()))?;
    authorize(app, jar, params).await
}

pub async fn submit(
    State(app): State<App>,
    jar: CookieJar,
    form: PageForm,
) -> Result<Response, PageError> {
    authorize(app, jar, form.into_params()).await
}

async fn authorize(app: App, jar: CookieJar, params: Params) -> Result<Response, PageError> {
    let session = signed_in(&app, &jar).await?;
    let decision = app.authorize(params_of(&params), session.as_ref()).await;
    match decision.map_err(refused)? {
        Authorization::Redirect(location) => Ok(redirect(StatusCode::FOUND, &location)),
        Authorization::SignIn { login_hint, .. } => {
            let mut return_to = url::form_urlencoded::Serializer::new(String::new());
            return_to.extend_pairs(carried(&params));
            let mut login = url::form_urlencoded::Serializer::new(String::new());
            login.append_pair(
                "return_to",
                &format!("/oauth2/authorize?{}", return_to.finish()),
            );
            if let Some(hint) = &login_hint {
                login.append_pair("login_hint", hint);
            }
            Ok(redirect(
                StatusCode::FOUND,
                &format!("/login?{}", login.finish()),
            ))
        }
        Authorization::Consent {
            client_name,
            scopes,
        } => {
            let username = session
                .as_ref()
                .map(|s| s.user.profile.username.as_str())
                .unwrap_or_default();
            let (jar, csrf_token) = csrf::token(&app, jar);
            let page = ConsentPage {
                client_name: &client_name,
                username,
                scopes: &scopes,
                csrf_token: &csrf_token,
                request: carried(&params),
            };
            Ok((jar, render(&page)).into_response())
        }
    }
}

/// `POST /consent`: the user's answer, with the request it answers.
pub async fn consent(
    State(app): State<App>,
    jar: CookieJar,
    headers: HeaderMap,
    form: PageForm,
) -> Result<Response, PageError> {
    csrf::check(&app, &jar, &headers, form.get("csrf_token"))?;
    let Some(session) = signed_in(&app, &jar).await? else {
        return Err(PageError::new(
            StatusCode::UNAUTHORIZED,
            "Your session has ended",
            "Sign in again from the application to continue.",
        ));
    };
    let allow = match form.get("decision") {
        Some("allow") => true,
        Some("deny") => false,
        _ => return Err(PageError::bad_request("Choose Allow or Deny.")),
    };
    let params = form.into_params();
    let location = app
        .answer_consent(params_of(&params), &session, allow)
        .await
        .map_err(refused)?;
    // 303: the browser follows with a GET, whatever the client's URI is.
    Ok(redirect(StatusCode::SEE_OTHER, &location))
}

fn refused(error: AuthorizeError) -> PageError {
    match error {
        AuthorizeError::NoRedirect(why) => PageError::bad_request(why),
        AuthorizeError::Failed(error) => PageError::unavailable(error),
    }
}

pub(super) fn redirect(status: StatusCode, location: &str) -> Response {
    let mut response = status.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}
