//! `/login`: the sign-in form of SPEC 5 (`username`, `password`, one message for every
//! failure). Signing out is `logout`'s.

use askama::Template;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::SameSite;
use thetasecure_app::App;
use thetasecure_app::sign_in::{SIGN_IN_REFUSED, SignInError};

use super::{PageError, PageForm, cookie, cookie_name, csrf, render};
use crate::extract::{ClientAddress, Params};

pub(crate) const SESSION_COOKIE: &str = "ts_session";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    csrf_token: &'a str,
    return_to: &'a str,
    username: &'a str,
    error: Option<&'a str>,
    client_name: Option<&'a str>,
}

/// Where to go after signing in: a path on this server only, so the form cannot be made
/// an open redirector. Anything else goes to `/`.
fn local_path(return_to: Option<&str>) -> &str {
    match return_to {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && path.len() <= 4096
                && path.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            path
        }
        _ => "/",
    }
}

pub(super) fn query(raw: Option<String>) -> Result<Params, PageError> {
    Params::parse(raw.unwrap_or_default().as_bytes())
        .map_err(|error| PageError::bad_request(error.description()))
}

pub async fn show(
    State(app): State<App>,
    jar: CookieJar,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let params = query(raw)?;
    let (jar, csrf_token) = csrf::token(&app, jar);
    let page = LoginPage {
        csrf_token: &csrf_token,
        return_to: local_path(params.get("return_to")),
        username: params.get("login_hint").unwrap_or_default(),
        error: None,
        client_name: None,
    };
    Ok((jar, render(&page)).into_response())
}

pub async fn submit(
    State(app): State<App>,
    ClientAddress(source): ClientAddress,
    jar: CookieJar,
    headers: HeaderMap,
    form: PageForm,
) -> Result<Response, PageError> {
    csrf::check(&app, &jar, &headers, form.get("csrf_token"))?;
    let username = form.get("username").unwrap_or_default();
    let password = form.get("password").unwrap_or_default();
    let return_to = local_path(form.get("return_to"));
    let user = match app.sign_in(username, password, source).await {
        Ok(user) => user,
        Err(SignInError::Refused) => {
            let (jar, csrf_token) = csrf::token(&app, jar);
            let page = LoginPage {
                csrf_token: &csrf_token,
                return_to,
                username,
                error: Some(SIGN_IN_REFUSED),
                client_name: None,
            };
            return Ok((StatusCode::UNAUTHORIZED, jar, render(&page)).into_response());
        }
        Err(SignInError::Throttled {
            retry_after_seconds,
        }) => {
            let minutes = retry_after_seconds.div_ceil(60);
            let mut page = PageError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many attempts",
                format!("Too many failed sign-ins. Try again in {minutes} minutes."),
            )
            .into_response();
            page.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds));
            return Ok(page);
        }
        Err(SignInError::Failed(error)) => return Err(PageError::unavailable(error)),
    };
    // A new session id at every sign-in; the browser's old session, if any, ends.
    let session_name = cookie_name(&app, SESSION_COOKIE);
    if let Some(old) = jar.get(&session_name) {
        app.end_session(old.value())
            .await
            .map_err(PageError::unavailable)?;
    }
    let session = app
        .start_session(&user)
        .await
        .map_err(PageError::unavailable)?;
    let jar = jar.add(cookie(
        &app,
        SESSION_COOKIE,
        session.expose().to_owned(),
        // Lax: the session must come along when a client sends the browser here.
        SameSite::Lax,
    ));
    tracing::info!(user_id = %user.id, "signed in");
    Ok((jar, see_other(return_to)).into_response())
}

/// 303: the browser follows with a GET, so a reload does not post the form again.
pub(super) fn see_other(location: &str) -> Response {
    super::authorize::redirect(StatusCode::SEE_OTHER, location)
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(
            local_path(Some("/oauth2/authorize?client_id=x")),
            "/oauth2/authorize?client_id=x"
        );
        for elsewhere in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "evil",
            "/a b",
            "",
        ] {
            assert_eq!(local_path(Some(elsewhere)), "/", "{elsewhere}");
        }
        assert_eq!(local_path(None), "/");
    }
}
