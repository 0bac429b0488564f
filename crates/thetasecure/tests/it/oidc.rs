//! OpenID Connect: ID tokens from the code and refresh grants, verified against the JWKS
//! with jsonwebtoken (independent of our signing code); UserInfo; the key ring.

use aws_lc_rs::digest;
use data_encoding::BASE64URL_NOPAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use reqwest::header::WWW_AUTHENTICATE;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use thetasecure_app::SigningAlg;

use crate::authorization_code::{
    Browser, CALLBACK, DESKTOP, VERIFIER, authorize_path, callback_query,
};
use crate::support::*;

const USER: &str = "ada";
const USER_PASSWORD: &str = "ada's long enough password";

/// A user with a display name and an e-mail address; returns their id.
async fn create_user(server: &Api) -> String {
    let (status, user) = server
        .admin(
            Method::POST,
            "/api/v1/users",
            Some(json!({"username": USER, "password": USER_PASSWORD, "email": "ada@example.com", "display_name": "Ada Lovelace"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    user["id"].as_str().unwrap().to_owned()
}

/// A code for `client_id`, signing in as `USER` when the browser is not signed in yet.
async fn code(browser: &mut Browser, client_id: &str, changes: &[(&str, &str)]) -> String {
    let start = browser.get(&authorize_path(client_id, changes)).await;
    assert_eq!(start.status, StatusCode::FOUND);
    let mut back = start.location();
    if back.starts_with("/login?return_to=") {
        let signed_in = browser.sign_in(&back, USER, USER_PASSWORD).await;
        assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
        let returned = browser.get(&signed_in.location()).await;
        assert_eq!(returned.status, StatusCode::FOUND);
        back = returned.location();
    }
    callback_query(&back)["code"].clone()
}

/// A token request that must succeed: its response.
async fn token(server: &Api, form: &[(&str, &str)]) -> Value {
    let (status, body) = crate::authorization_code::token(server, form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn redeem(server: &Api, client_id: &str, code: &str) -> Value {
    token(
        server,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", VERIFIER),
            ("client_id", client_id),
        ],
    )
    .await
}

async fn refresh(server: &Api, client_id: &str, refresh_token: &str) -> Value {
    let (status, body) = crate::refresh_token::refresh_as(server, client_id, refresh_token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// An ID token for the Desktop Agent, verified by [`verify_id_token_for`].
async fn verify_id_token(server: &Api, issuer: &str, token: &str, alg: Algorithm) -> Value {
    verify_id_token_for(server, issuer, token, alg, DESKTOP).await
}

/// Verifies an ID token against the server's JWKS: signature, `alg`, `typ`, issuer,
/// audience (`client_id`) and expiry. Returns its claims.
pub(crate) async fn verify_id_token_for(
    server: &Api,
    issuer: &str,
    token: &str,
    alg: Algorithm,
    client_id: &str,
) -> Value {
    let jwks: JwkSet = serde_json::from_value(server.jwks().await).unwrap();
    let header = decode_header(token).unwrap();
    assert_eq!(header.alg, alg);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("kid published in the JWKS");
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[client_id]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .expect("the ID token verifies")
        .claims
}

/// OIDC Core §3.1.3.6, computed here rather than by the server's code.
fn at_hash(access_token: &str, algorithm: &'static digest::Algorithm) -> String {
    let hash = digest::digest(algorithm, access_token.as_bytes());
    BASE64URL_NOPAD.encode(&hash.as_ref()[..hash.as_ref().len() / 2])
}

async fn userinfo_get(server: &Api, access_token: &str) -> reqwest::Response {
    server
        .http
        .get(server.url("/oauth2/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
}

/// A public client of the code flow with `scope`, redirecting to `CALLBACK`.
async fn public_client(server: &Api, scope: &str, grant_types: &[&str]) -> String {
    let created = server
        .create_client(json!({
            "client_name": format!("Scope {scope}"), "grant_types": grant_types,
            "token_endpoint_auth_method": "none", "redirect_uris": [CALLBACK], "scope": scope,
        }))
        .await;
    created["client_id"].as_str().unwrap().to_owned()
}

both_engines! {
    async fn the_code_flow_gives_an_id_token_with_every_claim_and_refresh_renews_it(server: TestApp) {
        let user_id = create_user(&server).await;
        let mut browser = Browser::new(&server);
        let scope = "openid profile email offline_access";
        let code = code(&mut browser, DESKTOP, &[("scope", scope), ("nonce", "n-0S6_WzA2Mj")]).await;
        let signed_in_at = server.now().unix_seconds();
        let tokens = redeem(&server, DESKTOP, &code).await;
        let access_token = tokens["access_token"].as_str().unwrap();
        let id_token = tokens["id_token"].as_str().expect("an ID token for openid");

        let claims = verify_id_token(&server, ISSUER, id_token, Algorithm::RS256).await;
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(claims["sub"], user_id.as_str());
        assert_eq!(claims["aud"], DESKTOP);
        assert_eq!(claims["azp"], DESKTOP);
        assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
        assert_eq!(claims["amr"], json!(["pwd"]));
        assert_eq!(claims["at_hash"], at_hash(access_token, &digest::SHA256));
        let iat = claims["iat"].as_i64().unwrap();
        assert_eq!(iat, server.now().unix_seconds());
        assert_eq!(claims["exp"].as_i64().unwrap() - iat, 3600);
        let auth_time = claims["auth_time"].as_i64().unwrap();
        assert!(auth_time <= iat && auth_time >= signed_in_at - 1, "{claims}");
        // profile and email map to what the user model holds.
        assert_eq!(claims["name"], "Ada Lovelace");
        assert_eq!(claims["preferred_username"], USER);
        assert!(claims["updated_at"].is_i64());
        assert_eq!(claims["email"], "ada@example.com");
        assert_eq!(claims["email_verified"], false);
        // The access token is still an RFC 9068 token, signed with ES256.
        assert_eq!(decode_header(access_token).unwrap().alg, Algorithm::ES256);

        // A refresh later: a new ID token for the same sign-in, without the nonce.
        server.advance_seconds(120);
        let refreshed = refresh(&server, DESKTOP, tokens["refresh_token"].as_str().unwrap()).await;
        let new_access = refreshed["access_token"].as_str().unwrap();
        let renewed = verify_id_token(&server, ISSUER, refreshed["id_token"].as_str().unwrap(), Algorithm::RS256).await;
        assert_eq!(renewed["auth_time"], auth_time);
        assert_eq!(renewed["iat"].as_i64().unwrap(), iat + 120);
        assert!(renewed.get("nonce").is_none(), "{renewed}");
        assert_eq!(renewed["sub"], user_id.as_str());
        assert_eq!(renewed["at_hash"], at_hash(new_access, &digest::SHA256));
        assert_eq!(renewed["email"], "ada@example.com");

        // Narrowed to leave `email` out: its claims go.
        let narrowed = token(&server, &[("grant_type", "refresh_token"), ("refresh_token", refreshed["refresh_token"].as_str().unwrap()), ("client_id", DESKTOP), ("scope", "openid offline_access")]).await;
        let narrowed = verify_id_token(&server, ISSUER, narrowed["id_token"].as_str().unwrap(), Algorithm::RS256).await;
        assert!(narrowed.get("email").is_none() && narrowed.get("name").is_none(), "{narrowed}");
    }

    async fn no_openid_no_id_token_and_no_userinfo(server: TestApp) {
        create_user(&server).await;
        let client = public_client(&server, "profile", &["authorization_code", "refresh_token"]).await;
        let mut browser = Browser::new(&server);
        let code = code(&mut browser, &client, &[("scope", "profile")]).await;
        let tokens = redeem(&server, &client, &code).await;
        assert_eq!(tokens["scope"], "profile");
        assert!(tokens.get("id_token").is_none(), "{tokens}");
        // Not an OpenID request, so the refresh token needs no offline_access; nor does
        // its refresh bring an ID token.
        let refreshed = refresh(&server, &client, tokens["refresh_token"].as_str().unwrap()).await;
        assert!(refreshed.get("id_token").is_none(), "{refreshed}");

        let response = userinfo_get(&server, refreshed["access_token"].as_str().unwrap()).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(response.headers()[WWW_AUTHENTICATE], "Bearer realm=\"thetasecure\", error=\"insufficient_scope\", scope=\"openid\"");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "insufficient_scope");
        // A client_credentials token has no user behind it and no openid.
        let admin = server.admin_token().await;
        assert_eq!(userinfo_get(&server, &admin).await.status(), StatusCode::FORBIDDEN);
    }

    async fn userinfo_answers_get_and_post_with_the_claims_of_the_scope(server: TestApp) {
        let user_id = create_user(&server).await;
        let mut browser = Browser::new(&server);
        let full = redeem(&server, DESKTOP, &code(&mut browser, DESKTOP, &[("scope", "openid profile email")]).await).await;
        let full = full["access_token"].as_str().unwrap().to_owned();
        let response = userinfo_get(&server, &full).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["cache-control"], "no-store");
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
        let claims: Value = response.json().await.unwrap();
        assert_eq!(claims["sub"], user_id.as_str());
        assert_eq!(claims["name"], "Ada Lovelace");
        assert_eq!(claims["preferred_username"], USER);
        assert_eq!(claims["email"], "ada@example.com");
        assert_eq!(claims["email_verified"], false);

        // POST with the header, and with the form's access_token (RFC 6750 §2.2).
        let posted = server.http.post(server.url("/oauth2/userinfo")).bearer_auth(&full).send().await.unwrap();
        assert_eq!(posted.status(), StatusCode::OK);
        assert_eq!(posted.json::<Value>().await.unwrap(), claims);
        let form = server.http.post(server.url("/oauth2/userinfo")).form(&[("access_token", full.as_str())]).send().await.unwrap();
        assert_eq!(form.status(), StatusCode::OK);
        assert_eq!(form.json::<Value>().await.unwrap(), claims);
        // Both at once is refused (RFC 6750 §2).
        let both = server.http.post(server.url("/oauth2/userinfo")).bearer_auth(&full).form(&[("access_token", full.as_str())]).send().await.unwrap();
        assert_eq!(both.status(), StatusCode::BAD_REQUEST);
        assert_eq!(both.json::<Value>().await.unwrap()["error"], "invalid_request");

        // Only `openid`: the subject alone. Only `email`: no profile claims.
        let bare = redeem(&server, DESKTOP, &code(&mut browser, DESKTOP, &[("scope", "openid")]).await).await;
        let claims: Value = userinfo_get(&server, bare["access_token"].as_str().unwrap()).await.json().await.unwrap();
        assert_eq!(claims, json!({"sub": user_id}));
        let email = redeem(&server, DESKTOP, &code(&mut browser, DESKTOP, &[("scope", "openid email")]).await).await;
        let claims: Value = userinfo_get(&server, email["access_token"].as_str().unwrap()).await.json().await.unwrap();
        assert_eq!(claims, json!({"sub": user_id, "email": "ada@example.com", "email_verified": false}));
    }

    async fn userinfo_refuses_missing_invalid_revoked_and_expired_tokens(server: TestApp) {
        create_user(&server).await;
        let missing = server.http.get(server.url("/oauth2/userinfo")).send().await.unwrap();
        assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
        // RFC 6750 §3.1: no error code when the request had no token at all.
        assert_eq!(missing.headers()[WWW_AUTHENTICATE], "Bearer realm=\"thetasecure\"");
        assert_eq!(missing.headers()["cache-control"], "no-store");
        let invalid = userinfo_get(&server, "not-a-token").await;
        assert_eq!(invalid.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(invalid.headers()[WWW_AUTHENTICATE], "Bearer realm=\"thetasecure\", error=\"invalid_token\"");
        assert_eq!(invalid.json::<Value>().await.unwrap()["error"], "invalid_token");
        let basic = server.http.get(server.url("/oauth2/userinfo")).basic_auth("a", Some("b")).send().await.unwrap();
        assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);

        let mut browser = Browser::new(&server);
        let revoked = redeem(&server, DESKTOP, &code(&mut browser, DESKTOP, &[("scope", "openid")]).await).await;
        let revoked = revoked["access_token"].as_str().unwrap();
        assert_eq!(userinfo_get(&server, revoked).await.status(), StatusCode::OK);
        let response = server.http.post(server.url("/oauth2/revoke")).form(&[("token", revoked), ("client_id", DESKTOP)]).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let refused = userinfo_get(&server, revoked).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(refused.headers()[WWW_AUTHENTICATE], "Bearer realm=\"thetasecure\", error=\"invalid_token\"");

        let expiring = redeem(&server, DESKTOP, &code(&mut browser, DESKTOP, &[("scope", "openid")]).await).await;
        let expiring = expiring["access_token"].as_str().unwrap();
        assert_eq!(userinfo_get(&server, expiring).await.status(), StatusCode::OK);
        server.advance_seconds(3601);
        assert_eq!(userinfo_get(&server, expiring).await.status(), StatusCode::UNAUTHORIZED);

        // A disabled user's tokens get no claims (the browser signs in again: the
        // session has gone idle meanwhile).
        let live = redeem(&server, DESKTOP, &code(&mut browser, DESKTOP, &[("scope", "openid")]).await).await;
        let live = live["access_token"].as_str().unwrap();
        let (_, users) = server.admin(Method::GET, "/api/v1/users?search=ada", None).await;
        let id = users["items"][0]["id"].as_str().unwrap().to_owned();
        let (status, _) = server.admin(Method::PATCH, &format!("/api/v1/users/{id}"), Some(json!({"status": "disabled"}))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(userinfo_get(&server, live).await.status(), StatusCode::UNAUTHORIZED);
    }

    async fn the_jwks_holds_the_keys_of_both_algorithms(server: TestApp) {
        let jwks = server.jwks().await;
        let algs: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|key| key["alg"].as_str().unwrap()).collect();
        assert_eq!(algs, ["ES256", "RS256"], "access tokens' key first, then ID tokens'");
        assert_eq!(jwks["keys"][1]["kty"], "RSA");
        let metadata = server.get_json("/.well-known/openid-configuration").await;
        assert_eq!(metadata["id_token_signing_alg_values_supported"], json!(["RS256"]));
        assert_eq!(metadata["userinfo_endpoint"], format!("{ISSUER}/oauth2/userinfo"));
        assert_eq!(metadata["subject_types_supported"], json!(["public"]));
        for claim in ["sub", "nonce", "auth_time", "at_hash", "email", "preferred_username"] {
            assert!(metadata["claims_supported"].as_array().unwrap().iter().any(|c| c == claim), "{claim}");
        }
    }

    async fn id_tokens_use_their_own_algorithm_when_configured(server: TestApp with |app| app.id_token_signing_alg(SigningAlg::EdDsa)) {
        create_user(&server).await;
        let jwks = server.jwks().await;
        let algs: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|key| key["alg"].as_str().unwrap()).collect();
        assert_eq!(algs, ["ES256", "EdDSA"]);
        let metadata = server.get_json("/.well-known/openid-configuration").await;
        assert_eq!(metadata["id_token_signing_alg_values_supported"], json!(["EdDSA"]));
        let mut browser = Browser::new(&server);
        let tokens = redeem(&server, DESKTOP, &code(&mut browser, DESKTOP, &[("scope", "openid")]).await).await;
        let claims = verify_id_token(&server, ISSUER, tokens["id_token"].as_str().unwrap(), Algorithm::EdDSA).await;
        // The hash of EdDSA on Ed25519 is SHA-512.
        assert_eq!(claims["at_hash"], at_hash(tokens["access_token"].as_str().unwrap(), &digest::SHA512));
    }

    async fn rotating_the_keys_keeps_old_id_tokens_verifiable(server: TestServer) {
        create_user(&server).await;
        let mut browser = Browser::new(&server);
        let tokens = redeem(&server, DESKTOP, &code(&mut browser, DESKTOP, &[("scope", "openid offline_access")]).await).await;
        let old = tokens["id_token"].as_str().unwrap().to_owned();
        let place = server.place.clone();
        drop(server);
        let (ok, stdout, stderr) = cli(&place, &["keys", "rotate"]);
        assert!(ok, "{stdout}{stderr}");
        assert!(stdout.contains("new ES256 signing key") && stdout.contains("new RS256 signing key"), "{stdout}");
        let server = TestServer::start_on(place, true).await;
        let jwks = server.jwks().await;
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 4, "{jwks}");
        // The old ID token still verifies against the published keys; a new one is
        // signed with the new key, whose id the CLI printed.
        verify_id_token(&server, ISSUER, &old, Algorithm::RS256).await;
        let renewed = refresh(&server, DESKTOP, tokens["refresh_token"].as_str().unwrap()).await;
        let new = renewed["id_token"].as_str().unwrap();
        verify_id_token(&server, ISSUER, new, Algorithm::RS256).await;
        let kid = |token: &str| decode_header(token).unwrap().kid.unwrap();
        assert_ne!(kid(&old), kid(new));
        assert!(stdout.contains(&kid(new)));
    }
}

both_engines! {
    /// What a relying party does, from the discovery document alone: the issuer is the
    /// address it was fetched from, and every endpoint it names serves the flow.
    async fn a_relying_party_needs_only_the_discovery_document(server: TestApp with |app| app.issuer_is_own_address()) {
        let user_id = create_user(&server).await;
        let metadata = server.get_json("/.well-known/openid-configuration").await;
        let issuer = metadata["issuer"].as_str().unwrap().to_owned();
        assert_eq!(issuer, server.base);
        let endpoint = |name: &str| metadata[name].as_str().unwrap().to_owned();
        assert_eq!(endpoint("jwks_uri"), server.url("/oauth2/jwks"));

        let mut browser = Browser::new(&server);
        let path = authorize_path(DESKTOP, &[("scope", "openid email"), ("nonce", "rp-nonce")]);
        let authorize = format!("{}{}", endpoint("authorization_endpoint"), &path["/oauth2/authorize".len()..]);
        let start = browser.get(&authorize).await;
        let signed_in = browser.sign_in(&start.location(), USER, USER_PASSWORD).await;
        let back = browser.get(&signed_in.location()).await.location();
        let query = callback_query(&back);
        assert_eq!(query["iss"], issuer);

        let response = server.http.post(endpoint("token_endpoint")).form(&[
            ("grant_type", "authorization_code"), ("code", query["code"].as_str()), ("redirect_uri", CALLBACK),
            ("code_verifier", VERIFIER), ("client_id", DESKTOP),
        ]).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let tokens: Value = response.json().await.unwrap();
        let claims = verify_id_token(&server, &issuer, tokens["id_token"].as_str().unwrap(), Algorithm::RS256).await;
        assert_eq!((claims["sub"].as_str(), claims["nonce"].as_str()), (Some(user_id.as_str()), Some("rp-nonce")));

        let info: Value = server.http.get(endpoint("userinfo_endpoint")).bearer_auth(tokens["access_token"].as_str().unwrap())
            .send().await.unwrap().json().await.unwrap();
        assert_eq!(info, json!({"sub": user_id, "email": "ada@example.com", "email_verified": false}));
    }
}

/// HTTP for the relying-party library, through the tests' own reqwest.
async fn rp_http(
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, reqwest::Error> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let response = http.execute(reqwest::Request::try_from(request)?).await?;
    let mut answer = openidconnect::http::Response::builder().status(response.status().as_u16());
    for (name, value) in response.headers() {
        answer = answer.header(name.as_str(), value.as_bytes());
    }
    let body = response.bytes().await?.to_vec();
    Ok(answer.body(body).expect("a response"))
}

both_engines! {
    /// The `openidconnect` crate, an independent relying party: discovery, the code flow
    /// with PKCE and a nonce, ID token validation with `at_hash`, UserInfo, refresh.
    async fn an_independent_relying_party_completes_the_flow(server: TestApp with |app| app.issuer_is_own_address()) {
        use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims};
        use openidconnect::{
            AccessTokenHash, AuthorizationCode, ClientId, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
            PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
        };

        let user_id = create_user(&server).await;
        let http = rp_http;
        let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(server.base.clone()).unwrap(), &http)
            .await
            .expect("discovery");
        let client = CoreClient::from_provider_metadata(metadata, ClientId::new(DESKTOP.into()), None)
            .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap());
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (authorize, state, nonce) = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .add_scope(Scope::new("profile".into()))
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("offline_access".into()))
            .set_pkce_challenge(challenge)
            .url();

        let mut browser = Browser::new(&server);
        let start = browser.get(authorize.as_str()).await;
        let signed_in = browser.sign_in(&start.location(), USER, USER_PASSWORD).await;
        let query = callback_query(&browser.get(&signed_in.location()).await.location());
        assert_eq!(&query["state"], state.secret());

        let tokens = client
            .exchange_code(AuthorizationCode::new(query["code"].clone()))
            .unwrap()
            .set_pkce_verifier(verifier)
            .request_async(&http)
            .await
            .expect("code exchange");
        let id_token = tokens.id_token().expect("an ID token");
        let id_verifier = client.id_token_verifier();
        let claims = id_token.claims(&id_verifier, &nonce).expect("a valid ID token");
        assert_eq!(claims.subject().as_str(), user_id);
        let expected_hash = AccessTokenHash::from_token(
            tokens.access_token(),
            id_token.signing_alg().unwrap(),
            id_token.signing_key(&id_verifier).unwrap(),
        )
        .unwrap();
        assert_eq!(claims.access_token_hash(), Some(&expected_hash));
        assert_eq!(claims.preferred_username().map(|name| name.as_str()), Some(USER));
        let auth_time = claims.auth_time();
        assert!(auth_time.is_some());

        let info: CoreUserInfoClaims = client
            .user_info(tokens.access_token().clone(), Some(claims.subject().clone()))
            .unwrap()
            .request_async(&http)
            .await
            .expect("userinfo");
        assert_eq!(info.email().map(|email| email.as_str()), Some("ada@example.com"));

        let refreshed = client
            .exchange_refresh_token(tokens.refresh_token().expect("offline_access gives one"))
            .unwrap()
            .request_async(&http)
            .await
            .expect("refresh");
        // A refreshed ID token has no nonce to check; it names the same sign-in.
        let renewed = refreshed
            .id_token()
            .expect("a new ID token")
            .claims(&id_verifier, |nonce: Option<&Nonce>| if nonce.is_none() { Ok(()) } else { Err("a nonce on refresh".to_owned()) })
            .expect("a valid refreshed ID token");
        assert_eq!(renewed.auth_time(), auth_time);
        assert_eq!(renewed.subject().as_str(), user_id);
    }
}
