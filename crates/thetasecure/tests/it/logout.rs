//! RP-initiated logout (OIDC RP-Initiated Logout 1.0) through the real pages: the
//! confirmation, the session really ended, the browser sent only to a registered
//! `post_logout_redirect_uri` with `state`, and the client field through the admin API.

use reqwest::header::LOCATION;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::authorization_code::{
    Browser, CALLBACK, Page, VERIFIER, authorize_path, callback_query, token,
};
use crate::support::*;

const BYE: &str = "https://app.example.com/signed-out";
/// Every character class a `state` may bring: spaces, reserved and non-ASCII characters,
/// and what already looks encoded.
const STATE: &str = "a b+c&d=é%20/~?#x";

/// A public code-flow client with `BYE` registered; its client_id.
async fn logout_client(server: &TestApp) -> String {
    let created = server
        .create_client(json!({
            "client_name": "Logout Demo", "grant_types": ["authorization_code"],
            "token_endpoint_auth_method": "none", "redirect_uris": [CALLBACK],
            "post_logout_redirect_uris": [BYE, "https://app.example.com/other"], "scope": "openid",
        }))
        .await;
    assert_eq!(
        created["post_logout_redirect_uris"],
        json!([BYE, "https://app.example.com/other"])
    );
    created["client_id"].as_str().unwrap().to_owned()
}

async fn signed_in_browser(server: &TestApp) -> Browser {
    let mut browser = Browser::new(server);
    let signed_in = browser.sign_in("/login", "admin", ADMIN_PASSWORD).await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.body
    );
    browser
}

/// Whether the browser is still signed in: an authorization request is answered with a
/// code rather than a trip to the sign-in page.
async fn still_signed_in(browser: &mut Browser, client_id: &str) -> bool {
    let answer = browser
        .get(&authorize_path(client_id, &[("scope", "openid")]))
        .await;
    assert_eq!(answer.status, StatusCode::FOUND, "{}", answer.body);
    let location = answer.location();
    let with_code = location.starts_with(CALLBACK) && location.contains("code=");
    assert!(with_code || location.starts_with("/login?"), "{location}");
    with_code
}

fn logout_path(params: &[(&str, &str)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.extend_pairs(params);
    format!("/logout?{}", query.finish())
}

/// The confirmation form's fields, as the page carries them.
fn confirmation(page: &Page) -> Vec<(String, String)> {
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("Sign out of ThetaSecure?"),
        "{}",
        page.body
    );
    [
        "csrf_token",
        "confirm",
        "client_id",
        "post_logout_redirect_uri",
        "state",
    ]
    .into_iter()
    .filter(|name| page.body.contains(&format!("name=\"{name}\"")))
    .map(|name| (name.to_owned(), page.field(name)))
    .collect()
}

async fn confirm(browser: &mut Browser, fields: &[(String, String)]) -> Page {
    let form: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    browser.post("/logout", &form).await
}

/// A refusal shown as a page: no redirect, the parameter named.
fn refused_on_a_page(page: &Page, names: &str) {
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    assert!(page.headers.get(LOCATION).is_none());
    assert!(
        page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.body.contains(names), "{names}: {}", page.body);
}

both_engines! {
    async fn confirming_ends_the_session_and_returns_to_the_registered_uri_with_state(server: TestApp) {
        let client_id = logout_client(&server).await;
        let mut browser = signed_in_browser(&server).await;
        let path = logout_path(&[("client_id", &client_id), ("post_logout_redirect_uri", BYE), ("state", STATE), ("ui_locales", "de fr")]);

        // Asking is not doing: the page, however often, ends nothing.
        let page = browser.get(&path).await;
        let fields = confirmation(&page);
        assert!(page.body.contains("<strong>Logout Demo</strong> asks to sign you out"), "{}", page.body);
        assert!(page.body.contains("<strong>admin</strong>"), "{}", page.body);
        assert_eq!(page.headers["cache-control"], "no-store");
        let csp = page.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'") && !page.body.contains("<script"), "{csp}");
        browser.get(&path).await;
        assert!(still_signed_in(&mut browser, &client_id).await);

        let done = confirm(&mut browser, &fields).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        let location = url::Url::parse(&done.location()).unwrap();
        assert_eq!(&location[..url::Position::AfterPath], BYE);
        let query: Vec<(String, String)> = location.query_pairs().into_owned().collect();
        assert_eq!(query, [("state".to_owned(), STATE.to_owned())]);
        assert!(!browser.cookies.contains_key("ts_session"), "the cookie is cleared");
        assert!(!still_signed_in(&mut browser, &client_id).await, "the session is over");
    }

    async fn the_session_is_ended_on_the_server_not_only_in_the_browser(server: TestApp) {
        let client_id = logout_client(&server).await;
        let mut browser = signed_in_browser(&server).await;
        let session = browser.cookies["ts_session"].clone();
        let fields = confirmation(&browser.get("/logout").await);
        let done = confirm(&mut browser, &fields).await;
        assert_eq!(done.status, StatusCode::OK);
        assert!(done.body.contains("You are signed out"), "{}", done.body);
        // The old cookie, replayed, no longer signs anyone in.
        browser.cookies.insert("ts_session".to_owned(), session);
        assert!(!still_signed_in(&mut browser, &client_id).await);
    }

    async fn an_unregistered_uri_is_refused_on_a_page_and_changes_nothing(server: TestApp) {
        let client_id = logout_client(&server).await;
        let mut browser = signed_in_browser(&server).await;
        for uri in [
            "https://evil.example/",
            "https://app.example.com/signed-out/",
            "https://app.example.com/signed-out?x=1",
            "https://APP.example.com/signed-out",
            "http://app.example.com/signed-out",
            CALLBACK,
        ] {
            let page = browser.get(&logout_path(&[("client_id", &client_id), ("post_logout_redirect_uri", uri), ("state", "s")])).await;
            refused_on_a_page(&page, "post_logout_redirect_uri");
        }
        // Without an application to check it against, a URI is not followed either.
        refused_on_a_page(&browser.get(&logout_path(&[("post_logout_redirect_uri", BYE)])).await, "client_id");
        refused_on_a_page(&browser.get(&logout_path(&[("client_id", "ts_nobody"), ("post_logout_redirect_uri", BYE)])).await, "client_id");
        // Nor when the confirmation is forged around one.
        let mut fields = confirmation(&browser.get("/logout").await);
        fields.push(("client_id".into(), client_id.clone()));
        fields.push(("post_logout_redirect_uri".into(), "https://evil.example/".into()));
        refused_on_a_page(&confirm(&mut browser, &fields).await, "post_logout_redirect_uri");
        assert!(still_signed_in(&mut browser, &client_id).await);
    }

    async fn a_confirmation_without_this_browsers_csrf_token_is_refused(server: TestApp) {
        let client_id = logout_client(&server).await;
        let mut browser = signed_in_browser(&server).await;
        let csrf = confirmation(&browser.get("/logout").await)[0].1.clone();
        for form in [vec![("confirm", "yes")], vec![("confirm", "yes"), ("csrf_token", "forged")]] {
            let refused = browser.post("/logout", &form).await;
            assert_eq!(refused.status, StatusCode::FORBIDDEN, "{form:?}");
        }
        let request = browser.http.post(browser.url("/logout")).header("origin", "https://evil.example").form(&[("confirm", "yes"), ("csrf_token", csrf.as_str())]);
        assert_eq!(browser.send(request).await.status, StatusCode::FORBIDDEN);
        // An application's own form post (no `confirm`) only asks.
        let asked = browser.post("/logout", &[("client_id", client_id.as_str()), ("post_logout_redirect_uri", BYE)]).await;
        confirmation(&asked);
        assert!(still_signed_in(&mut browser, &client_id).await);
    }

    async fn with_no_session_logout_still_succeeds(server: TestApp) {
        let client_id = logout_client(&server).await;
        let mut browser = Browser::new(&server);
        // Nothing to confirm: straight back to the application, or the signed-out page.
        let back = browser.get(&logout_path(&[("client_id", &client_id), ("post_logout_redirect_uri", BYE), ("state", STATE)])).await;
        assert_eq!(back.status, StatusCode::FOUND, "{}", back.body);
        let location = url::Url::parse(&back.location()).unwrap();
        assert_eq!(location.query_pairs().into_owned().collect::<Vec<_>>(), [("state".to_owned(), STATE.to_owned())]);
        let plain = browser.get("/logout").await;
        assert_eq!(plain.status, StatusCode::OK);
        assert!(plain.body.contains("You are signed out"), "{}", plain.body);
        // A confirmation from a page whose session has since ended (here: signed out in
        // another tab) completes as well.
        let mut browser = signed_in_browser(&server).await;
        let fields = confirmation(&browser.get(&logout_path(&[("client_id", &client_id), ("post_logout_redirect_uri", BYE)])).await);
        let first = confirm(&mut browser, &fields).await;
        let second = confirm(&mut browser, &fields).await;
        assert_eq!((first.status, second.status), (StatusCode::SEE_OTHER, StatusCode::SEE_OTHER));
        assert_eq!(second.location(), BYE);
    }

    async fn an_id_token_hint_signed_by_the_server_names_the_application(server: TestApp) {
        let client_id = logout_client(&server).await;
        let long_ago = server.now().unix_seconds() - 86_400;
        let claims = json!({"iss": server.issuer(), "aud": client_id, "sub": "someone", "iat": long_ago, "exp": long_ago + 300});
        // Expired, and still a hint.
        let hint = server.sign_with_server_key(&claims, "JWT").await;
        let mut browser = signed_in_browser(&server).await;
        let page = browser.get(&logout_path(&[("id_token_hint", &hint), ("post_logout_redirect_uri", BYE), ("state", "xyz")])).await;
        let fields = confirmation(&page);
        assert!(page.body.contains("Logout Demo"), "{}", page.body);
        assert!(fields.contains(&("client_id".to_owned(), client_id.clone())), "{fields:?}");
        let done = confirm(&mut browser, &fields).await;
        assert_eq!(done.location(), format!("{BYE}?state=xyz"));

        // A hint and a client_id that disagree, a hint of another type, of another
        // issuer, or tampered with: refused on a page.
        let access_token_typed = server.sign_with_server_key(&claims, "at+jwt").await;
        let foreign = server.sign_with_server_key(&json!({"iss": "https://other.example", "aud": client_id}), "JWT").await;
        // The claims of one hint under the signature of another.
        let mobile = server.sign_with_server_key(&json!({"iss": server.issuer(), "aud": "thetasecure-mobile-app"}), "JWT").await;
        let (ours, theirs): (Vec<&str>, Vec<&str>) = (hint.split('.').collect(), mobile.split('.').collect());
        let tampered = format!("{}.{}.{}", ours[0], theirs[1], ours[2]);
        for params in [
            vec![("id_token_hint", hint.as_str()), ("client_id", "thetasecure-mobile-app")],
            vec![("id_token_hint", access_token_typed.as_str())],
            vec![("id_token_hint", foreign.as_str())],
            vec![("id_token_hint", tampered.as_str())],
            vec![("id_token_hint", "not-a-token")],
        ] {
            let page = Browser::new(&server).get(&logout_path(&params)).await;
            refused_on_a_page(&page, "id_token_hint");
        }
    }

    /// What a relying party really sends back: the ID token of the user's sign-in.
    async fn the_id_token_of_a_sign_in_is_accepted_as_the_hint(server: TestApp) {
        let client_id = logout_client(&server).await;
        let mut browser = signed_in_browser(&server).await;
        let answer = browser.get(&authorize_path(&client_id, &[("scope", "openid")])).await;
        let code = callback_query(&answer.location())["code"].clone();
        let (status, tokens) = token(&server, &[
            ("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", CALLBACK),
            ("code_verifier", VERIFIER), ("client_id", &client_id),
        ]).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        let hint = tokens["id_token"].as_str().expect("an ID token for openid");
        let page = browser.get(&logout_path(&[("id_token_hint", hint), ("post_logout_redirect_uri", BYE), ("state", STATE)])).await;
        let fields = confirmation(&page);
        assert!(page.body.contains("Logout Demo"), "{}", page.body);
        let done = confirm(&mut browser, &fields).await;
        let back = url::Url::parse(&done.location()).unwrap();
        assert_eq!(&back[..url::Position::AfterPath], BYE);
        assert_eq!(back.query_pairs().collect::<Vec<_>>(), [("state".into(), STATE.into())]);
        assert!(!still_signed_in(&mut browser, &client_id).await);
    }

    async fn post_logout_redirect_uris_through_the_admin_api(server: TestApp) {
        let client_id = logout_client(&server).await;
        let path = format!("/api/v1/clients/{client_id}");
        let (status, fetched) = server.admin(Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(fetched["post_logout_redirect_uris"], json!([BYE, "https://app.example.com/other"]));
        let (status, replaced) = server.admin(Method::PATCH, &path, Some(json!({"post_logout_redirect_uris": ["http://127.0.0.1/bye"]}))).await;
        assert_eq!(status, StatusCode::OK, "{replaced}");
        assert_eq!(replaced["post_logout_redirect_uris"], json!(["http://127.0.0.1/bye"]));
        let (_, kept) = server.admin(Method::PATCH, &path, Some(json!({"client_name": "Renamed"}))).await;
        assert_eq!(kept["post_logout_redirect_uris"], json!(["http://127.0.0.1/bye"]));
        let (_, reset) = server.admin(Method::PATCH, &path, Some(json!({"post_logout_redirect_uris": null}))).await;
        assert_eq!(reset["post_logout_redirect_uris"], json!([]));
        // Every client shows the field; a machine client has none.
        let (_, admin) = server.admin(Method::GET, "/api/v1/clients/ts_admin_client", None).await;
        assert_eq!(admin["post_logout_redirect_uris"], json!([]));

        let (_, before) = server.admin(Method::GET, &path, None).await;
        for (body, says) in [
            (json!({"post_logout_redirect_uris": ["https://a.example.com/bye#top"]}), "post_logout_redirect_uris: `https://a.example.com/bye#top` must not contain a fragment"),
            (json!({"post_logout_redirect_uris": ["http://app.example.com/bye"]}), "post_logout_redirect_uris: `http://app.example.com/bye` http is allowed only for loopback hosts"),
            (json!({"post_logout_redirect_uris": ["/relative"]}), "post_logout_redirect_uris: `/relative`"),
            (json!({"post_logout_redirect_uris": "https://a.example.com/bye"}), "post_logout_redirect_uris must be an array of strings"),
            (json!({"post_logout_redirect_uris": [5]}), "post_logout_redirect_uris must be an array of strings"),
        ] {
            let (status, error) = server.admin(Method::PATCH, &path, Some(body.clone())).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(error["error"], "invalid_client_metadata", "{body}");
            let description = error["error_description"].as_str().unwrap();
            assert!(description.starts_with(says), "{body}: {description}");
        }
        let (_, after) = server.admin(Method::GET, &path, None).await;
        assert_eq!(before, after, "a refused patch changes nothing");
        let (status, error) = server.admin(Method::POST, "/api/v1/clients", Some(json!({
            "client_name": "Confidential", "grant_types": ["authorization_code"], "redirect_uris": ["https://c.example.com/cb"],
            "post_logout_redirect_uris": ["http://127.0.0.1/bye"], "scope": "openid",
        }))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(error["error_description"].as_str().unwrap().contains("post_logout_redirect_uris"), "{error}");

        // A default client's logout targets are protected like its redirect URIs.
        let desktop = "/api/v1/clients/thetasecure-desktop-agent";
        let add = json!({"post_logout_redirect_uris": ["http://127.0.0.1/bye"]});
        let (status, _) = server.admin(Method::PATCH, desktop, Some(add.clone())).await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (status, forced) = server.admin(Method::PATCH, &format!("{desktop}?force=true"), Some(add)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(forced["post_logout_redirect_uris"], json!(["http://127.0.0.1/bye"]));
    }

    async fn discovery_names_the_end_session_endpoint(server: TestApp) {
        for path in ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"] {
            let metadata: Value = server.get_json(path).await;
            assert_eq!(metadata["end_session_endpoint"], format!("{ISSUER}/logout"), "{path}");
        }
    }
}
