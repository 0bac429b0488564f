//! Cross-site request forgery protection for every form (login CSRF included): the form
//! carries the token held in this browser's cookie (double submit, bound to the browser),
//! and a browser's `Origin`, when it sends one, must be this server's.

use axum::http::{HeaderMap, StatusCode, header};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::SameSite;
use data_encoding::BASE64URL_NOPAD;
use thetasecure_app::App;

use super::{PageError, cookie, cookie_name};

const NAME: &str = "ts_csrf";

/// This browser's token and the jar that sets it: the cookie's, or a new one.
pub fn token(app: &App, jar: CookieJar) -> (CookieJar, String) {
    if let Some(existing) = jar.get(&cookie_name(app, NAME)) {
        let value = existing.value().to_owned();
        return (jar, value);
    }
    let value = BASE64URL_NOPAD.encode(&thetasecure_core::random::bytes::<32>());
    // Strict: no other site's page can make the browser send it.
    let jar = jar.add(cookie(app, NAME, value.clone(), SameSite::Strict));
    (jar, value)
}

/// Refuses a form that does not carry this browser's token, or that another origin sent.
pub fn check(
    app: &App,
    jar: &CookieJar,
    headers: &HeaderMap,
    presented: Option<&str>,
) -> Result<(), PageError> {
    let expected = jar
        .get(&cookie_name(app, NAME))
        .map(|c| c.value().to_owned());
    let matches = match (expected, presented) {
        (Some(expected), Some(presented)) if !expected.is_empty() => {
            thetasecure_core::secret::equal_in_constant_time(&expected, presented)
        }
        _ => false,
    };
    if !matches || !same_origin(headers) {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "This form has expired",
            "The form was not sent from this page, or it is too old. Go back, reload the page and try again.",
        ));
    }
    Ok(())
}

/// Whether the request's `Origin` (when the browser sent one) names the host it was sent
/// to. `null` (a sandboxed or privacy-sensitive context) is not this server.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    // Under `Referrer-Policy: no-referrer` browsers send `Origin: null` on a same-origin
    // form post (Fetch: "serializing a request origin"); Fetch Metadata, which no page can
    // set, then says where the form was.
    if origin.as_bytes() == b"null" {
        return headers
            .get("sec-fetch-site")
            .is_some_and(|site| site.as_bytes() == b"same-origin");
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest);
    matches!((origin_host, host), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(origin: Option<&'static str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("id.example:8443"));
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, HeaderValue::from_static(origin));
        }
        headers
    }

    #[test]
    fn only_this_hosts_origin_or_none() {
        assert!(same_origin(&headers(None)));
        assert!(same_origin(&headers(Some("https://id.example:8443"))));
        assert!(!same_origin(&headers(Some("https://evil.example"))));
        assert!(!same_origin(&headers(Some("https://id.example"))));
        assert!(!same_origin(&headers(Some("null"))));
    }

    #[test]
    fn a_null_origin_passes_only_when_fetch_metadata_says_same_origin() {
        let mut same = headers(Some("null"));
        same.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(same_origin(&same));
        let mut cross = headers(Some("null"));
        cross.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!same_origin(&cross));
    }
}
