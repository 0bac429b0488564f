//! `/logout`, the end_session_endpoint of OIDC RP-Initiated Logout 1.0 (GET, and POST as
//! its §2 allows). A signed-in user is asked first, on a form with a CSRF token, so no
//! other site can sign anyone out by sending them here; confirming ends the session and
//! sends the browser to the application's registered `post_logout_redirect_uri`, or
//! shows that they are signed out. The checks are `App::logout_request`'s.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::SameSite;
use thetasecure_app::App;
use thetasecure_app::logout::{LogoutError, LogoutParams, LogoutRequest};

use super::authorize::{redirect, signed_in};
use super::login::{SESSION_COOKIE, query};
use super::{PageError, PageForm, cookie, cookie_name, csrf, render};
use crate::extract::Params;

#[derive(Template)]
#[template(path = "logout.html")]
struct ConfirmPage<'a> {
    csrf_token: &'a str,
    client_name: Option<&'a str>,
    username: &'a str,
    /// The checked request, for the confirmation to be read again from.
    request: Vec<(&'static str, &'a str)>,
}

#[derive(Template)]
#[template(path = "signed_out.html")]
struct SignedOutPage;

pub async fn show(
    State(app): State<App>,
    jar: CookieJar,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    ask(app, jar, &query(raw)?, StatusCode::FOUND).await
}

pub async fn submit(
    State(app): State<App>,
    jar: CookieJar,
    headers: HeaderMap,
    form: PageForm,
) -> Result<Response, PageError> {
    if form.get("confirm") != Some("yes") {
        // An application's own form post of the request: asked as a GET is.
        return ask(app, jar, &form.into_params(), StatusCode::SEE_OTHER).await;
    }
    csrf::check(&app, &jar, &headers, form.get("csrf_token"))?;
    let request = read(&app, &form.into_params()).await?;
    // 303: the browser follows with a GET, whatever the application's URI is.
    sign_out(app, jar, request, StatusCode::SEE_OTHER).await
}

/// The confirmation page; with no one signed in there is nothing to confirm.
async fn ask(
    app: App,
    jar: CookieJar,
    params: &Params,
    status: StatusCode,
) -> Result<Response, PageError> {
    let request = read(&app, params).await?;
    let Some(session) = signed_in(&app, &jar).await? else {
        return sign_out(app, jar, request, status).await;
    };
    let (jar, csrf_token) = csrf::token(&app, jar);
    let carried = [
        (
            "client_id",
            request.client.as_ref().map(|c| c.client_id.as_str()),
        ),
        (
            "post_logout_redirect_uri",
            request.post_logout_redirect_uri.as_deref(),
        ),
        ("state", request.state.as_deref()),
    ];
    let page = ConfirmPage {
        csrf_token: &csrf_token,
        client_name: request.client.as_ref().map(|c| c.client_name.as_str()),
        username: &session.user.profile.username,
        request: carried
            .into_iter()
            .filter_map(|(name, value)| value.map(|value| (name, value)))
            .collect(),
    };
    Ok((jar, render(&page)).into_response())
}

async fn read(app: &App, params: &Params) -> Result<LogoutRequest, PageError> {
    let params = LogoutParams {
        id_token_hint: params.get("id_token_hint"),
        client_id: params.get("client_id"),
        post_logout_redirect_uri: params.get("post_logout_redirect_uri"),
        state: params.get("state"),
    };
    app.logout_request(params)
        .await
        .map_err(|error| match error {
            LogoutError::Refused(why) => PageError::bad_request(why.0),
            LogoutError::Failed(error) => PageError::unavailable(error),
        })
}

/// Ends the session this browser's cookie names (if any) and clears the cookie; then the
/// application's URI, or the signed-out page.
async fn sign_out(
    app: App,
    jar: CookieJar,
    request: LogoutRequest,
    status: StatusCode,
) -> Result<Response, PageError> {
    let jar = match jar.get(&cookie_name(&app, SESSION_COOKIE)) {
        Some(session) => {
            app.end_session(session.value())
                .await
                .map_err(PageError::unavailable)?;
            jar.remove(cookie(&app, SESSION_COOKIE, String::new(), SameSite::Lax))
        }
        None => jar,
    };
    let client_id = request.client.as_ref().map(|c| c.client_id.as_str());
    tracing::info!(client_id, "signed out");
    Ok(match request.redirect {
        Some(location) => (jar, redirect(status, &location)).into_response(),
        None => (jar, render(&SignedOutPage)).into_response(),
    })
}
