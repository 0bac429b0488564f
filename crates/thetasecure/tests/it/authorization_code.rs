//! The authorization code flow as a browser and a native app go through it: authorize,
//! sign in, consent, code, token, refresh, on both engines, through real HTTP.

use std::collections::BTreeMap;

use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

/// RFC 7636 Appendix B.
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
pub(crate) const DESKTOP: &str = "thetasecure-desktop-agent";
pub(crate) const CALLBACK: &str = "http://127.0.0.1:51000/callback";

/// A browser: follows no redirect by itself, keeps cookies by name.
pub(crate) struct Browser {
    base: String,
    pub(crate) http: reqwest::Client,
    pub(crate) cookies: BTreeMap<String, String>,
}

pub(crate) struct Page {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Page {
    pub(crate) fn location(&self) -> String {
        self.headers[LOCATION].to_str().unwrap().to_owned()
    }

    /// The value of the hidden input `name`.
    pub(crate) fn field(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no {name} in {}", self.body))
            + marker.len();
        let end = self.body[start..].find('"').unwrap() + start;
        self.body[start..end]
            .replace("&#38;", "&")
            .replace("&amp;", "&")
    }
}

impl Browser {
    pub(crate) fn new(server: &Api) -> Browser {
        Self::with_headers(server, HeaderMap::new())
    }

    /// A browser behind a proxy that says it forwards for `address`.
    pub(crate) fn forwarded_for(server: &Api, address: &str) -> Browser {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", address.parse().unwrap());
        Self::with_headers(server, headers)
    }

    fn with_headers(server: &Api, headers: HeaderMap) -> Browser {
        Browser {
            base: server.base.clone(),
            http: reqwest::Client::builder()
                .redirect(Policy::none())
                .default_headers(headers)
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub(crate) async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let response = request
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        for set in response.headers().get_all(SET_COOKIE) {
            let pair = set.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        Page {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.text().await.unwrap(),
        }
    }

    pub(crate) fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with('/') {
            format!("{}{path_or_url}", self.base)
        } else {
            path_or_url.to_owned()
        }
    }

    pub(crate) async fn get(&mut self, path: &str) -> Page {
        let request = self.http.get(self.url(path));
        self.send(request).await
    }

    pub(crate) async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let request = self.http.post(self.url(path)).form(form);
        self.send(request).await
    }

    /// Signs in on the page `login` (a redirect to /login), as `username`.
    pub(crate) async fn sign_in(&mut self, login: &str, username: &str, password: &str) -> Page {
        let page = self.get(login).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let (csrf, return_to) = (page.field("csrf_token"), page.field("return_to"));
        self.post(
            "/login",
            &[
                ("username", username),
                ("password", password),
                ("csrf_token", &csrf),
                ("return_to", &return_to),
            ],
        )
        .await
    }
}

/// An authorization request of `client_id`; `changes` replace (or add) parameters.
pub(crate) fn authorize_path(client_id: &str, changes: &[(&str, &str)]) -> String {
    let mut params = vec![
        ("client_id", client_id),
        ("redirect_uri", CALLBACK),
        ("response_type", "code"),
        ("scope", "openid offline_access"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("state", "st&te"),
    ];
    for (name, value) in changes {
        match params.iter_mut().find(|(existing, _)| existing == name) {
            Some(param) => param.1 = value,
            None => params.push((name, value)),
        }
    }
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.extend_pairs(params);
    format!("/oauth2/authorize?{}", query.finish())
}

/// The query of a redirect to the client, as a map.
pub(crate) fn callback_query(location: &str) -> BTreeMap<String, String> {
    let url = url::Url::parse(location).unwrap();
    assert_eq!(&url[..url::Position::AfterPath], CALLBACK, "{location}");
    url.query_pairs().into_owned().collect()
}

pub(crate) async fn token(server: &Api, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = server
        .http
        .post(server.url("/oauth2/token"))
        .form(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["cache-control"], "no-store");
    (response.status(), response.json().await.unwrap())
}

pub(crate) async fn redeem(server: &TestApp, code: &str) -> (StatusCode, Value) {
    token(
        server,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", VERIFIER),
            ("client_id", DESKTOP),
        ],
    )
    .await
}

pub(crate) async fn active(server: &TestApp, token: &str) -> Value {
    server
        .introspect(("ts_admin_client", ADMIN_SECRET), token)
        .await
}

/// A code for the desktop agent: through the sign-in page, or straight back when the
/// browser is signed in already.
pub(crate) async fn code_for_admin(server: &TestApp, browser: &mut Browser) -> String {
    let start = browser.get(&authorize_path(DESKTOP, &[])).await;
    assert_eq!(start.status, StatusCode::FOUND);
    let mut back = start.location();
    if back.starts_with("/login?return_to=") {
        let signed_in = browser.sign_in(&back, "admin", ADMIN_PASSWORD).await;
        assert_eq!(
            signed_in.status,
            StatusCode::SEE_OTHER,
            "{}",
            signed_in.body
        );
        let returned = browser.get(&signed_in.location()).await;
        assert_eq!(returned.status, StatusCode::FOUND, "{}", returned.body);
        back = returned.location();
    }
    let query = callback_query(&back);
    assert_eq!(query["state"], "st&te");
    assert_eq!(query["iss"], server.issuer());
    query["code"].clone()
}

both_engines! {
    async fn a_user_signs_in_and_the_native_app_gets_tokens_it_can_refresh(server: TestApp) {
        let mut browser = Browser::new(&server);
        let code = code_for_admin(&server, &mut browser).await;
        assert!(code.starts_with("tsc_"));

        let (status, tokens) = redeem(&server, &code).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        assert_eq!(tokens["token_type"], "Bearer");
        assert_eq!(tokens["scope"], "openid offline_access");
        let access = tokens["access_token"].as_str().unwrap().to_owned();
        let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
        assert!(refresh.starts_with("tsr_"));
        let introspected = active(&server, &access).await;
        assert_eq!(introspected["active"], true);
        assert_eq!(introspected["client_id"], DESKTOP);
        let (_, users) = server.admin(Method::GET, "/api/v1/users?search=admin", None).await;
        assert_eq!(introspected["sub"], users["items"][0]["id"]);

        // Rotation: the new pair works, the old refresh token once more is reuse.
        let refresh_form = |token: &str| vec![("grant_type", "refresh_token".to_owned()), ("refresh_token", token.to_owned()), ("client_id", DESKTOP.to_owned())];
        let form: Vec<(&str, String)> = refresh_form(&refresh);
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, rotated) = token(&server, &form).await;
        assert_eq!(status, StatusCode::OK, "{rotated}");
        let next_refresh = rotated["refresh_token"].as_str().unwrap().to_owned();
        let next_access = rotated["access_token"].as_str().unwrap().to_owned();
        assert_ne!(next_refresh, refresh);
        assert_eq!(active(&server, &next_access).await["active"], true);

        let (status, reused) = token(&server, &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(reused["error"], "invalid_grant");
        // The whole family went with it, and its access tokens.
        let form: Vec<(&str, String)> = refresh_form(&next_refresh);
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, _) = token(&server, &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        server.advance_seconds(2);
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        assert_eq!(active(&server, &next_access).await["active"], false);
        let (_, audit) = server.admin(Method::GET, "/api/v1/audit-events", None).await;
        assert!(audit["items"].as_array().unwrap().iter().any(|e| e["action"] == "refresh_token.reused"), "{audit}");
    }

    async fn a_code_works_once_and_its_replay_revokes_its_tokens(server: TestApp) {
        let mut browser = Browser::new(&server);
        let code = code_for_admin(&server, &mut browser).await;
        let (status, tokens) = redeem(&server, &code).await;
        assert_eq!(status, StatusCode::OK);
        let access = tokens["access_token"].as_str().unwrap().to_owned();
        let (status, replayed) = redeem(&server, &code).await;
        assert_eq!((status, replayed["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        assert_eq!(active(&server, &access).await["active"], false);
        let refresh = tokens["refresh_token"].as_str().unwrap();
        let (status, _) = token(&server, &[("grant_type", "refresh_token"), ("refresh_token", refresh), ("client_id", DESKTOP)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        // A wrong verifier, another redirect URI, an expired code: refused.
        let code = code_for_admin(&server, &mut browser).await;
        let (status, refused) = token(&server, &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", CALLBACK), ("code_verifier", &VERIFIER.replace('d', "e")), ("client_id", DESKTOP)]).await;
        assert_eq!((status, refused["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
        let code = code_for_admin(&server, &mut browser).await;
        let (status, _) = token(&server, &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", "http://127.0.0.1:51001/callback"), ("code_verifier", VERIFIER), ("client_id", DESKTOP)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let code = code_for_admin(&server, &mut browser).await;
        server.advance_seconds(61);
        let (status, _) = redeem(&server, &code).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        // Public clients never get client_credentials.
        let (status, refused) = token(&server, &[("grant_type", "client_credentials"), ("client_id", DESKTOP)]).await;
        assert_eq!((status, refused["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
    }

    async fn requests_that_cannot_redirect_show_a_page_and_the_rest_go_back_with_an_error(server: TestApp) {
        let mut browser = Browser::new(&server);
        for path in [
            authorize_path("ts_nobody", &[]),
            authorize_path(DESKTOP, &[("redirect_uri", "http://127.0.0.1:51000/other")]),
            "/oauth2/authorize?response_type=code".to_owned(),
        ] {
            let page = browser.get(&path).await;
            assert_eq!(page.status, StatusCode::BAD_REQUEST, "{path}");
            assert!(page.headers.get(LOCATION).is_none());
            assert!(page.body.contains("<h1>"), "{}", page.body);
        }
        for (extra, error) in [
            (vec![("code_challenge_method", "plain")], "invalid_request"),
            (vec![("response_type", "token")], "unsupported_response_type"),
            (vec![("scope", "openid admin")], "invalid_scope"),
            (vec![("prompt", "none")], "login_required"),
        ] {
            let path = authorize_path(DESKTOP, &extra);
            let page = browser.get(&path).await;
            assert_eq!(page.status, StatusCode::FOUND, "{extra:?}: {}", page.body);
            let query = callback_query(&page.location());
            assert_eq!(query["error"], error, "{extra:?}");
            assert_eq!(query["state"], "st&te");
            assert_eq!(query["iss"], server.issuer());
        }
    }

    async fn the_sign_in_page_is_strict(server: TestApp) {
        let mut browser = Browser::new(&server);
        let page = browser.get("/login?return_to=%2F").await;
        assert_eq!(page.status, StatusCode::OK);
        let csp = page.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(page.headers["referrer-policy"], "no-referrer");
        assert_eq!(page.headers["cache-control"], "no-store");
        assert!(page.body.contains("name=\"username\"") && page.body.contains("name=\"password\"") && page.body.contains("type=\"submit\""));
        assert!(!page.body.contains("<script"));
        let css = browser.get("/assets/thetasecure.css").await;
        assert_eq!(css.status, StatusCode::OK);
        assert!(css.headers["content-type"].to_str().unwrap().starts_with("text/css"));

        // One message for a wrong password and an unknown user; nothing signed in.
        for (username, password) in [("admin", "not the password"), ("nobody", ADMIN_PASSWORD)] {
            let refused = browser.sign_in("/login", username, password).await;
            assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
            assert!(refused.body.contains("Invalid username or password"), "{}", refused.body);
            assert!(!browser.cookies.contains_key("ts_session"));
        }
        // Both refusals are in the audit log, without the password.
        let (status, audited) = server.admin(Method::GET, "/api/v1/audit-events?action=user.sign_in_failed", None).await;
        assert_eq!(status, StatusCode::OK);
        let usernames: Vec<_> = audited["items"].as_array().unwrap().iter().map(|event| event["details"]["username"].as_str().unwrap()).collect();
        assert_eq!(usernames, ["nobody", "admin"], "{audited}");
        assert!(!audited.to_string().contains(ADMIN_PASSWORD));
        // Without the form's token, or from another origin: refused.
        let refused = browser.post("/login", &[("username", "admin"), ("password", ADMIN_PASSWORD), ("csrf_token", "forged")]).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let csrf = browser.get("/login").await.field("csrf_token");
        let request = browser.http.post(browser.url("/login")).header("origin", "https://evil.example").form(&[("username", "admin"), ("password", ADMIN_PASSWORD), ("csrf_token", csrf.as_str())]);
        assert_eq!(browser.send(request).await.status, StatusCode::FORBIDDEN);
        assert!(!browser.cookies.contains_key("ts_session"));

        // An open redirect through return_to is not possible.
        let signed_in = browser.post("/login", &[("username", "admin"), ("password", ADMIN_PASSWORD), ("csrf_token", &csrf), ("return_to", "https://evil.example/")]).await;
        assert_eq!((signed_in.status, signed_in.location().as_str()), (StatusCode::SEE_OTHER, "/"));
        assert!(browser.cookies.contains_key("ts_session"));
        // Signing out ends the session: authorize asks for a sign-in again.
        let signed_out = browser.post("/logout", &[("csrf_token", &csrf), ("confirm", "yes")]).await;
        assert_eq!(signed_out.status, StatusCode::OK);
        assert!(!browser.cookies.contains_key("ts_session"));
        let again = browser.get(&authorize_path(DESKTOP, &[])).await;
        assert!(again.location().starts_with("/login?"));
    }

    async fn consent_is_asked_remembered_and_may_be_denied(server: TestApp) {
        let (_, created) = server.admin(Method::POST, "/api/v1/clients", Some(json!({
            "client_name": "Partner App", "grant_types": ["authorization_code"], "token_endpoint_auth_method": "none",
            "redirect_uris": [CALLBACK], "scope": "openid profile", "require_user_consent": true,
        }))).await;
        let partner = created["client_id"].as_str().unwrap().to_owned();
        let path = authorize_path(&partner, &[("scope", "openid profile")]);
        let mut browser = Browser::new(&server);
        let login = browser.get(&path).await.location();
        let signed_in = browser.sign_in(&login, "admin", ADMIN_PASSWORD).await;
        let consent = browser.get(&signed_in.location()).await;
        assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
        assert!(consent.body.contains("Partner App") && consent.body.contains("Read your name and profile information."), "{}", consent.body);
        let fields: Vec<(String, String)> = ["csrf_token", "client_id", "redirect_uri", "state", "response_type", "scope", "code_challenge", "code_challenge_method"]
            .iter().map(|name| (name.to_string(), consent.field(name))).collect();
        let answer = |decision: &'static str| {
            let mut form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            form.push(("decision", decision));
            form.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect::<Vec<_>>()
        };
        let denied = browser.post("/consent", &answer("deny").iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>()).await;
        assert_eq!(denied.status, StatusCode::SEE_OTHER);
        assert_eq!(callback_query(&denied.location())["error"], "access_denied");
        let allowed = browser.post("/consent", &answer("allow").iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>()).await;
        assert!(callback_query(&allowed.location()).contains_key("code"));
        // Remembered: the same scopes need no page.
        let again = browser.get(&path).await;
        assert_eq!(again.status, StatusCode::FOUND);
        assert!(callback_query(&again.location()).contains_key("code"));
        // Without offline_access, no refresh token (and the client lacks the grant).
        let code = callback_query(&again.location())["code"].clone();
        let (status, tokens) = token(&server, &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", CALLBACK), ("code_verifier", VERIFIER), ("client_id", &partner)]).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        assert!(tokens.get("refresh_token").is_none());
    }

    async fn failed_sign_ins_are_limited_per_username(server: TestApp) {
        let mut browser = Browser::new(&server);
        for _ in 0..5 {
            let refused = browser.sign_in("/login", "Admin", "a wrong password").await;
            assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        }
        let locked = browser.sign_in("/login", "admin", ADMIN_PASSWORD).await;
        assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS, "{}", locked.body);
        assert_eq!(locked.headers["retry-after"], "900");
        assert!(!browser.cookies.contains_key("ts_session"));
        // The window passes; the right password works again.
        server.advance_seconds(15 * 60);
        let signed_in = browser.sign_in("/login", "admin", ADMIN_PASSWORD).await;
        assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    }

    async fn a_new_password_or_revoke_tokens_ends_what_was_granted(server: TestApp) {
        let mut browser = Browser::new(&server);
        let code = code_for_admin(&server, &mut browser).await;
        let (_, tokens) = redeem(&server, &code).await;
        let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
        let (_, users) = server.admin(Method::GET, "/api/v1/users?search=admin", None).await;
        let admin = users["items"][0]["id"].as_str().unwrap().to_owned();
        let (status, _) = server.admin(Method::PATCH, &format!("/api/v1/users/{admin}"), Some(json!({"password": "a brand new admin password"}))).await;
        assert_eq!(status, StatusCode::OK);
        let again = browser.get(&authorize_path(DESKTOP, &[])).await;
        assert!(again.location().starts_with("/login?"), "the session ended");
        let (status, _) = token(&server, &[("grant_type", "refresh_token"), ("refresh_token", &refresh), ("client_id", DESKTOP)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "the refresh token went with it");

        // The client's revoke-tokens takes its refresh tokens too.
        let signed_in = browser.sign_in(&again.location(), "admin", "a brand new admin password").await;
        let back = browser.get(&signed_in.location()).await;
        let code = callback_query(&back.location())["code"].clone();
        let (_, tokens) = redeem(&server, &code).await;
        let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
        let (status, _) = server.admin(Method::POST, &format!("/api/v1/clients/{DESKTOP}/revoke-tokens"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = token(&server, &[("grant_type", "refresh_token"), ("refresh_token", &refresh), ("client_id", DESKTOP)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }

    async fn the_mobile_app_signs_in_through_its_private_use_scheme(server: TestApp) {
        const MOBILE: &str = "thetasecure-mobile-app";
        const MOBILE_CALLBACK: &str = "com.thetasecure.mobile:/oauth2/callback";
        let mut browser = Browser::new(&server);
        let path = authorize_path(MOBILE, &[("redirect_uri", MOBILE_CALLBACK)]);
        let login = browser.get(&path).await.location();
        let signed_in = browser.sign_in(&login, "admin", ADMIN_PASSWORD).await;
        let back = browser.get(&signed_in.location()).await;
        let location = back.location();
        assert!(location.starts_with(&format!("{MOBILE_CALLBACK}?code=tsc_")), "{location}");
        let query: BTreeMap<String, String> = url::Url::parse(&location).unwrap().query_pairs().into_owned().collect();
        // Left out, the redirect URI is the client's only one; given, it must match.
        let (status, tokens) = token(&server, &[("grant_type", "authorization_code"), ("code", &query["code"]), ("code_verifier", VERIFIER), ("client_id", MOBILE)]).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        let refresh = tokens["refresh_token"].as_str().unwrap();
        let (status, refreshed) = token(&server, &[("grant_type", "refresh_token"), ("refresh_token", refresh), ("client_id", MOBILE)]).await;
        assert_eq!(status, StatusCode::OK, "{refreshed}");
        // Another client cannot use the mobile app's refresh token.
        let next = refreshed["refresh_token"].as_str().unwrap();
        let (status, _) = token(&server, &[("grant_type", "refresh_token"), ("refresh_token", next), ("client_id", DESKTOP)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }

    /// SECURITY 1.1: a redirect URI is the registered one, exactly (but for a loopback
    /// port); every mutation is refused on a page, without redirecting.
    async fn redirect_uri_mutations_never_redirect(server: TestApp) {
        let (_, created) = server.admin(Method::POST, "/api/v1/clients", Some(json!({
            "client_name": "Web", "grant_types": ["authorization_code"], "redirect_uris": ["https://app.example.com/cb"], "scope": "openid",
        }))).await;
        let web = created["client_id"].as_str().unwrap().to_owned();
        let mut browser = Browser::new(&server);
        for mutated in [
            "https://app.example.com/cb/extra",
            "https://app.example.com/cb?x=1",
            "https://APP.example.com/cb",
            "https://app.example.com/CB",
            "https://app.example.com/cb/",
            "https://app.example.com:8443/cb",
            "https://app.example.com/cb#frag",
            "https://user@app.example.com/cb",
            "http://app.example.com/cb",
            "https://app.example.com.evil.example/cb",
        ] {
            let page = browser.get(&authorize_path(&web, &[("redirect_uri", mutated), ("scope", "openid")])).await;
            assert_eq!(page.status, StatusCode::BAD_REQUEST, "{mutated}");
            assert!(page.headers.get(LOCATION).is_none(), "{mutated}");
        }
        let page = browser.get(&authorize_path(&web, &[("redirect_uri", "https://app.example.com/cb"), ("scope", "openid")])).await;
        assert_eq!(page.status, StatusCode::FOUND);
        assert!(page.location().starts_with("/login?"));
    }

    async fn a_code_without_its_verifier_is_refused(server: TestApp) {
        let mut browser = Browser::new(&server);
        let code = code_for_admin(&server, &mut browser).await;
        let (status, refused) = token(&server, &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", CALLBACK), ("client_id", DESKTOP)]).await;
        assert_eq!((status, refused["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
        // And a confidential client cannot redeem a public client's code.
        let (other, secret) = server.machine_client("Other", "directory.read").await;
        let response = server.http.post(server.url("/oauth2/token")).basic_auth(&other, Some(&secret))
            .form(&[("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", CALLBACK), ("code_verifier", VERIFIER)])
            .send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }

    async fn refresh_tokens_are_introspected_and_revoked_with_their_family(server: TestApp) {
        let mut browser = Browser::new(&server);
        let code = code_for_admin(&server, &mut browser).await;
        let (_, tokens) = redeem(&server, &code).await;
        let (access, refresh) = (tokens["access_token"].as_str().unwrap(), tokens["refresh_token"].as_str().unwrap());
        let seen = active(&server, refresh).await;
        assert_eq!((seen["active"].as_bool(), seen["token_type"].as_str(), seen["client_id"].as_str()), (Some(true), Some("refresh_token"), Some(DESKTOP)));
        // Another client's revocation changes nothing (RFC 7009 §2.2).
        let (other, secret) = server.machine_client("Other", "directory.read").await;
        let response = server.http.post(server.url("/oauth2/revoke")).basic_auth(&other, Some(&secret)).form(&[("token", refresh)]).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(active(&server, refresh).await["active"], true);
        // The public client signs its user out: the family and its access token go.
        let response = server.http.post(server.url("/oauth2/revoke")).form(&[("token", refresh), ("client_id", DESKTOP)]).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(active(&server, refresh).await["active"], false);
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        assert_eq!(active(&server, access).await["active"], false);
        let (status, _) = token(&server, &[("grant_type", "refresh_token"), ("refresh_token", refresh), ("client_id", DESKTOP)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }

    async fn an_admin_sees_and_ends_a_users_sessions_consents_and_refresh_tokens(server: TestApp) {
        let (_, created) = server.admin(Method::POST, "/api/v1/clients", Some(json!({
            "client_name": "Partner App", "grant_types": ["authorization_code"], "token_endpoint_auth_method": "none",
            "redirect_uris": [CALLBACK], "scope": "openid profile", "require_user_consent": true,
        }))).await;
        let partner = created["client_id"].as_str().unwrap().to_owned();
        let mut browser = Browser::new(&server);
        let code = code_for_admin(&server, &mut browser).await;
        let (_, tokens) = redeem(&server, &code).await;
        let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
        let consent = browser.get(&authorize_path(&partner, &[("scope", "openid profile")])).await;
        let mut form: Vec<(String, String)> = ["csrf_token", "client_id", "redirect_uri", "state", "response_type", "scope", "code_challenge", "code_challenge_method"]
            .iter().map(|name| (name.to_string(), consent.field(name))).collect();
        form.push(("decision".into(), "allow".into()));
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(browser.post("/consent", &form).await.status, StatusCode::SEE_OTHER);

        let (_, users) = server.admin(Method::GET, "/api/v1/users?search=admin", None).await;
        let user = format!("/api/v1/users/{}", users["items"][0]["id"].as_str().unwrap());
        let (status, sessions) = server.admin(Method::GET, &format!("{user}/sessions"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(sessions["items"].as_array().unwrap().len(), 1, "{sessions}");
        assert!(!sessions.to_string().contains(browser.cookies["ts_session"].as_str()));
        let (_, consents) = server.admin(Method::GET, &format!("{user}/consents"), None).await;
        assert_eq!(consents["items"][0]["client_id"], partner.as_str());
        assert_eq!(consents["items"][0]["scope"], "openid profile");
        let (_, families) = server.admin(Method::GET, &format!("{user}/refresh-tokens"), None).await;
        assert_eq!(families["items"].as_array().unwrap().len(), 1);
        assert_eq!(families["items"][0]["client_id"], DESKTOP);
        assert!(!families.to_string().contains(&refresh));

        // Forgotten consent is asked for again.
        let (status, _) = server.admin(Method::DELETE, &format!("{user}/consents/{partner}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = server.admin(Method::DELETE, &format!("{user}/consents/{partner}"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let again = browser.get(&authorize_path(&partner, &[("scope", "openid profile")])).await;
        assert_eq!(again.status, StatusCode::OK, "the consent page again");
        // Revoked refresh tokens stop working; ended sessions ask for a sign-in.
        let (status, _) = server.admin(Method::DELETE, &format!("{user}/refresh-tokens"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = token(&server, &[("grant_type", "refresh_token"), ("refresh_token", &refresh), ("client_id", DESKTOP)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = server.admin(Method::DELETE, &format!("{user}/sessions"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (_, sessions) = server.admin(Method::GET, &format!("{user}/sessions"), None).await;
        assert_eq!(sessions["items"], json!([]));
        assert!(browser.get(&authorize_path(DESKTOP, &[])).await.location().starts_with("/login?"));
    }

    /// SECURITY 1.4: 20 redemptions of one code at once, split across two instances of
    /// one deployment, give one success and 19 `invalid_grant`, never a 5xx; the same
    /// for 20 rotations of one refresh token.
    async fn racing_redemptions_and_rotations_have_one_winner(server: TestApp) {
        let second = server.second_instance().await;
        let mut browser = Browser::new(&server);
        let code = code_for_admin(&server, &mut browser).await;
        let form = |token: &str, grant: &str| -> Vec<(String, String)> {
            let mut form = vec![("grant_type".to_owned(), grant.to_owned()), ("client_id".to_owned(), DESKTOP.to_owned())];
            if grant == "authorization_code" {
                form.extend([("code".to_owned(), token.to_owned()), ("redirect_uri".to_owned(), CALLBACK.to_owned()), ("code_verifier".to_owned(), VERIFIER.to_owned())]);
            } else {
                form.push(("refresh_token".to_owned(), token.to_owned()));
            }
            form
        };
        let race = |form: Vec<(String, String)>| {
            let requests = (0..20).map(|i| {
                let instance: &Api = if i % 2 == 0 { &server } else { &second };
                instance.http.post(instance.url("/oauth2/token")).form(&form).send()
            });
            futures::future::join_all(requests)
        };
        let answers = race(form(&code, "authorization_code")).await;
        let mut statuses: Vec<u16> = answers.iter().map(|a| a.as_ref().unwrap().status().as_u16()).collect();
        statuses.sort_unstable();
        assert_eq!(statuses, [&[200][..], &[400; 19][..]].concat(), "{statuses:?}");
        let mut winner = None;
        for answer in answers {
            let answer = answer.unwrap();
            let ok = answer.status() == StatusCode::OK;
            let body: Value = answer.json().await.unwrap();
            if ok {
                winner = Some(body);
            } else {
                assert_eq!(body["error"], "invalid_grant");
            }
        }
        // The losers were replays: the winner's tokens went with them.
        let refresh = winner.unwrap()["refresh_token"].as_str().unwrap().to_owned();
        let (status, _) = token(&server, &[("grant_type", "refresh_token"), ("refresh_token", &refresh), ("client_id", DESKTOP)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        let code = code_for_admin(&server, &mut browser).await;
        let (_, tokens) = redeem(&server, &code).await;
        let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
        let answers = race(form(&refresh, "refresh_token")).await;
        let mut statuses: Vec<u16> = answers.iter().map(|a| a.as_ref().unwrap().status().as_u16()).collect();
        statuses.sort_unstable();
        assert_eq!(statuses, [&[200][..], &[400; 19][..]].concat(), "{statuses:?}");
    }

    /// Failures counted on one instance count on the other: the limit is the store's.
    async fn the_sign_in_limit_holds_across_instances_and_disabled_users_are_out(server: TestApp) {
        let second = server.second_instance().await;
        let (mut first_browser, mut second_browser) = (Browser::new(&server), Browser::new(&second));
        for attempt in 0..5 {
            let browser = if attempt % 2 == 0 { &mut first_browser } else { &mut second_browser };
            assert_eq!(browser.sign_in("/login", "admin", "a wrong password").await.status, StatusCode::UNAUTHORIZED);
        }
        let locked = second_browser.sign_in("/login", "admin", ADMIN_PASSWORD).await;
        assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
        server.advance_seconds(15 * 60);

        // A disabled user cannot sign in, and their refresh tokens stop working.
        let (_, alice) = server.admin(Method::POST, "/api/v1/users", Some(json!({"username": "alice", "password": "alice's long password"}))).await;
        let start = first_browser.get(&authorize_path(DESKTOP, &[])).await;
        let signed_in = first_browser.sign_in(&start.location(), "alice", "alice's long password").await;
        let back = first_browser.get(&signed_in.location()).await;
        let code = callback_query(&back.location())["code"].clone();
        let (_, tokens) = redeem(&server, &code).await;
        let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
        let alice_path = format!("/api/v1/users/{}", alice["id"].as_str().unwrap());
        let (status, _) = server.admin(Method::PATCH, &alice_path, Some(json!({"status": "disabled"}))).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = token(&server, &[("grant_type", "refresh_token"), ("refresh_token", &refresh), ("client_id", DESKTOP)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let mut fresh = Browser::new(&server);
        let refused = fresh.sign_in("/login", "alice", "alice's long password").await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        assert!(refused.body.contains("Invalid username or password"));
    }
}

/// Behind an `https` issuer, every cookie is `__Host-`, Secure, HttpOnly and SameSite.
async fn cookies_behind_https(engine: Engine) {
    let Some(server) = TestApp::builder(engine)
        .issuer("https://id.example.com")
        .start()
        .await
    else {
        return;
    };
    let mut browser = Browser::new(&server);
    let page = browser.get("/login").await;
    let csrf_cookie = page.headers[SET_COOKIE].to_str().unwrap().to_owned();
    for attribute in [
        "__Host-ts_csrf=",
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/",
    ] {
        assert!(csrf_cookie.contains(attribute), "{csrf_cookie}");
    }
    let csrf = page.field("csrf_token");
    let signed_in = browser
        .post(
            "/login",
            &[
                ("username", "admin"),
                ("password", ADMIN_PASSWORD),
                ("csrf_token", &csrf),
                ("return_to", "/"),
            ],
        )
        .await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.body
    );
    let session_cookie = signed_in.headers[SET_COOKIE].to_str().unwrap().to_owned();
    for attribute in [
        "__Host-ts_session=tsx_",
        "HttpOnly",
        "Secure",
        "SameSite=Lax",
        "Path=/",
    ] {
        assert!(session_cookie.contains(attribute), "{session_cookie}");
    }
    assert!(!session_cookie.contains("Domain"), "{session_cookie}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_behind_https_sqlite() {
    cookies_behind_https(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_behind_https_postgres() {
    cookies_behind_https(Engine::Postgres).await;
}
