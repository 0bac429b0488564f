use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use thetasecure_app::SigningAlg;

use crate::support::*;

/// Verifies `token` against the server's JWKS with jsonwebtoken, a JOSE library
/// independent of our signing code.
async fn verify(server: &Api, token: &str, alg: Algorithm) -> Value {
    let jwks: JwkSet = serde_json::from_value(server.jwks().await).unwrap();
    let header = decode_header(token).unwrap();
    assert_eq!(header.alg, alg);
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("kid published in the JWKS");
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[ISSUER]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .expect("verifies")
        .claims
}

both_engines! {
    async fn client_credentials_token_is_a_verifiable_rfc9068_jwt(server: TestApp) {
        let (id, secret) = server.machine_client("Verifier", "directory.read directory.write").await;
        let response = server.token_response(&id, &secret, Some("directory.read")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["cache-control"], "no-store");
        assert_eq!(response.headers()["pragma"], "no-cache");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3600);
        assert_eq!(body["scope"], "directory.read");
        assert!(body.get("refresh_token").is_none());
        let token = body["access_token"].as_str().unwrap();

        let claims = verify(&server, token, Algorithm::ES256).await;
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(claims["aud"], ISSUER);
        assert_eq!(claims["sub"], id.as_str());
        assert_eq!(claims["client_id"], id.as_str());
        assert_eq!(claims["scope"], "directory.read");
        let (iat, exp) = (claims["iat"].as_i64().unwrap(), claims["exp"].as_i64().unwrap());
        assert_eq!(exp - iat, 3600);
        assert_eq!(iat, server.now().unix_seconds(), "issued at the app's time");
        assert_eq!(claims["jti"].as_str().unwrap().len(), 36);
        let second = server.token(&id, &secret).await;
        let second_claims = verify(&server, &second, Algorithm::ES256).await;
        assert_ne!(second_claims["jti"], claims["jti"]);
        assert_eq!(second_claims["scope"], "directory.read directory.write", "omitted scope means the client's full scope");

        // client_secret_post, for a client registered for it.
        let post = server.create_client(json!({"client_name": "Poster", "grant_types": ["client_credentials"], "scope": "directory.read", "token_endpoint_auth_method": "client_secret_post"})).await;
        let response = server.http.post(server.url("/oauth2/token"))
            .form(&[("grant_type", "client_credentials"), ("client_id", post["client_id"].as_str().unwrap()), ("client_secret", post["client_secret"].as_str().unwrap())])
            .send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        // Its per-client lifetime override applies.
        let (_, _) = server.admin(Method::PATCH, &format!("/api/v1/clients/{id}"), Some(json!({"access_token_ttl_seconds": 120}))).await;
        let body: Value = server.token_response(&id, &secret, None).await.json().await.unwrap();
        assert_eq!(body["expires_in"], 120);
    }

    async fn token_errors_follow_rfc6749(server: TestApp) {
        let (id, secret) = server.machine_client("Errors", "directory.read").await;
        let (disabled_id, disabled_secret) = server.machine_client("Disabled", "directory.read").await;
        let (status, _) = server.admin(Method::PATCH, &format!("/api/v1/clients/{disabled_id}"), Some(json!({"status": "disabled"}))).await;
        assert_eq!(status, StatusCode::OK);

        let mut bodies = Vec::new();
        for (client, secret) in [(id.as_str(), "tss_wrong"), ("ts_unknownclientaaaaaaaaaaaaa", secret.as_str()), (disabled_id.as_str(), disabled_secret.as_str()), ("bad id!", "x")] {
            let response = server.token_response(client, secret, None).await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{client}");
            assert!(response.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic"));
            assert_eq!(response.headers()["cache-control"], "no-store");
            bodies.push(response.json::<Value>().await.unwrap());
        }
        assert!(bodies.iter().all(|b| b == &bodies[0]), "{bodies:?}");
        assert_eq!(bodies[0]["error"], "invalid_client");

        // Body credentials failing: 401 invalid_client too.
        let response = server.http.post(server.url("/oauth2/token")).form(&[("grant_type", "client_credentials"), ("client_id", id.as_str()), ("client_secret", "tss_wrong")]).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        // No credentials at all.
        let response = server.http.post(server.url("/oauth2/token")).form(&[("grant_type", "client_credentials")]).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

        let error = |response: reqwest::Response| async move {
            let status = response.status();
            (status, response.json::<Value>().await.unwrap())
        };
        let (status, body) = error(server.token_response(&id, &secret, Some("directory.write")).await).await;
        assert_eq!((status, body["error"].as_str().unwrap()), (StatusCode::BAD_REQUEST, "invalid_scope"));
        assert!(body["error_description"].as_str().unwrap().contains("directory.write"));

        let post = |form: Vec<(&'static str, String)>| server.http.post(server.url("/oauth2/token")).basic_auth(&id, Some(&secret)).form(&form).send();
        let (status, body) = error(post(vec![("grant_type", "password".into())]).await.unwrap()).await;
        assert_eq!((status, body["error"].as_str().unwrap()), (StatusCode::BAD_REQUEST, "unsupported_grant_type"));
        let (status, body) = error(post(vec![("grant_type", "urn:example:nope".into())]).await.unwrap()).await;
        assert_eq!((status, body["error"].as_str().unwrap()), (StatusCode::BAD_REQUEST, "unsupported_grant_type"));
        let (status, body) = error(post(vec![("scope", "directory.read".into())]).await.unwrap()).await;
        assert_eq!((status, body["error"].as_str().unwrap()), (StatusCode::BAD_REQUEST, "invalid_request"));
        assert!(body["error_description"].as_str().unwrap().contains("grant_type"));
        let (status, body) = error(post(vec![("grant_type", "client_credentials".into()), ("grant_type", "client_credentials".into())]).await.unwrap()).await;
        assert_eq!((status, body["error"].as_str().unwrap()), (StatusCode::BAD_REQUEST, "invalid_request"));
        // Two authentication methods in one request.
        let (status, body) = error(post(vec![("grant_type", "client_credentials".into()), ("client_secret", secret.clone())]).await.unwrap()).await;
        assert_eq!((status, body["error"].as_str().unwrap()), (StatusCode::BAD_REQUEST, "invalid_request"));
        // A basic client using the body method is refused once its secret is proven.
        let response = server.http.post(server.url("/oauth2/token")).form(&[("grant_type", "client_credentials"), ("client_id", id.as_str()), ("client_secret", secret.as_str())]).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        // Not a form.
        let response = server.http.post(server.url("/oauth2/token")).basic_auth(&id, Some(&secret)).json(&json!({"grant_type": "client_credentials"})).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        // A public client cannot use client_credentials at all; it has no secret to present.
        let response = server.token_response("thetasecure-mobile-app", "anything", None).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }

    async fn introspection_and_revocation(server: TestApp) {
        let (a, a_secret) = server.machine_client("A", "directory.read").await;
        let (b, b_secret) = server.machine_client("B", "directory.read").await;
        let a_token = server.token(&a, &a_secret).await;
        let own = server.introspect((&a, &a_secret), &a_token).await;
        assert_eq!(own["active"], true);
        assert_eq!(own["client_id"], a.as_str());
        assert_eq!(own["scope"], "directory.read");
        assert_eq!(own["token_type"], "Bearer");
        for field in ["exp", "iat", "sub", "aud", "iss", "jti"] {
            assert!(own.get(field).is_some(), "{field}");
        }
        // Another ordinary client sees nothing; an admin-scoped one sees it.
        assert_eq!(server.introspect((&b, &b_secret), &a_token).await, json!({"active": false}));
        assert_eq!(server.introspect(("ts_admin_client", ADMIN_SECRET), &a_token).await["active"], true);
        assert_eq!(server.introspect((&a, &a_secret), "garbage").await, json!({"active": false}));
        let mut tampered = a_token.clone();
        tampered.insert(a_token.len() / 2, 'x');
        assert_eq!(server.introspect((&a, &a_secret), &tampered).await, json!({"active": false}));
        // Bad caller credentials: 401.
        let response = server.http.post(server.url("/oauth2/introspect")).basic_auth(&a, Some("tss_wrong")).form(&[("token", a_token.as_str())]).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

        // B cannot revoke A's token: 200 and it survives (RFC 7009 §2.1; SECURITY V6).
        let response = server.http.post(server.url("/oauth2/revoke")).basic_auth(&b, Some(&b_secret)).form(&[("token", a_token.as_str())]).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(server.introspect((&a, &a_secret), &a_token).await["active"], true);
        // A revokes its own: inactive from then on. Unknown tokens also get 200.
        for token in [a_token.as_str(), "unknown-token"] {
            let response = server.http.post(server.url("/oauth2/revoke")).basic_auth(&a, Some(&a_secret)).form(&[("token", token), ("token_type_hint", "access_token")]).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
        }
        assert_eq!(server.introspect((&a, &a_secret), &a_token).await, json!({"active": false}));

        // revoke-tokens: every token the client holds, and only those issued before.
        let before = server.token(&b, &b_secret).await;
        let (status, _) = server.admin(Method::POST, &format!("/api/v1/clients/{b}/revoke-tokens"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(server.introspect((&b, &b_secret), &before).await, json!({"active": false}));
        // A token of the revoking millisecond is revoked too; one of a later one is not.
        let same_millisecond = server.token(&b, &b_secret).await;
        assert_eq!(server.introspect((&b, &b_secret), &same_millisecond).await, json!({"active": false}));
        server.advance_seconds(1);
        let after = server.token(&b, &b_secret).await;
        assert_eq!(server.introspect((&b, &b_secret), &after).await["active"], true);
    }
}

/// The signing algorithm as configured; that `THETASECURE_SIGNING_ALG` reaches the signer
/// of the binary is checked in `discovery::the_in_process_app_serves_what_the_binary_serves`.
async fn signs_with(alg_setting: &str, alg: Algorithm, configured: SigningAlg) {
    let Some(server) = TestApp::builder(Engine::Sqlite)
        .signing_alg(configured)
        .start()
        .await
    else {
        return;
    };
    let token = server.admin_token().await;
    let claims = verify(&server, &token, alg).await;
    assert_eq!(claims["client_id"], "ts_admin_client");
    let jwks = server.jwks().await;
    assert_eq!(jwks["keys"][0]["alg"], alg_setting);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rs256_when_configured() {
    signs_with("RS256", Algorithm::RS256, SigningAlg::Rs256).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eddsa_when_configured() {
    signs_with("EdDSA", Algorithm::EdDSA, SigningAlg::EdDsa).await;
}

both_engines! {
    async fn repeated_failures_are_throttled(server: TestApp) {
        let (id, secret) = server.machine_client("Target", "directory.read").await;
        let (other, other_secret) = server.machine_client("Bystander", "directory.read").await;
        for _ in 0..10 {
            assert_eq!(server.token_response(&id, "tss_guess", None).await.status(), StatusCode::UNAUTHORIZED);
        }
        // Locked out for this address: wrong secrets get 429.
        let response = server.token_response(&id, "tss_guess", None).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry_after));
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client");
        // Introspection authenticates the same way and is throttled too.
        let introspect = |secret: &str| server.http.post(server.url("/oauth2/introspect")).basic_auth(&id, Some(secret)).form(&[("token", "x")]).send();
        assert_eq!(introspect("tss_guess").await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
        // The right secret is never refused by the throttle.
        server.token(&id, &secret).await;
        assert_eq!(introspect(&secret).await.unwrap().status(), StatusCode::OK);
        // Other clients are unaffected.
        server.token(&other, &other_secret).await;
        // An id that does not exist is throttled just the same: no existence oracle.
        for _ in 0..10 {
            assert_eq!(server.token_response("ts_doesnotexistaaaaaaaaaaaaa", "tss_guess", None).await.status(), StatusCode::UNAUTHORIZED);
        }
        assert_eq!(server.token_response("ts_doesnotexistaaaaaaaaaaaaa", "tss_guess", None).await.status(), StatusCode::TOO_MANY_REQUESTS);
    }

    /// A rolling deployment after a rotation without grace: instances still sending the
    /// old secret from one address lock that address out for wrong secrets only.
    async fn a_stale_secret_does_not_lock_out_the_new_one(server: TestApp) {
        let (id, old) = server.machine_client("Rolling", "directory.read").await;
        let (status, rotated) = server.admin(Method::POST, &format!("/api/v1/clients/{id}/secrets"), None).await;
        assert_eq!(status, StatusCode::CREATED);
        let new = rotated["client_secret"].as_str().unwrap();
        for _ in 0..10 {
            assert_eq!(server.token_response(&id, &old, None).await.status(), StatusCode::UNAUTHORIZED);
        }
        assert_eq!(server.token_response(&id, &old, None).await.status(), StatusCode::TOO_MANY_REQUESTS);
        for _ in 0..3 {
            server.token(&id, new).await;
        }
    }

    /// A disabled client presenting its right secret is refused as before, and is not
    /// counted as guessing: once enabled, nothing of it is held against the address.
    async fn a_disabled_clients_right_secret_is_refused_but_not_counted(server: TestApp) {
        let (id, secret) = server.machine_client("Paused", "directory.read").await;
        let path = format!("/api/v1/clients/{id}");
        let (status, _) = server.admin(Method::PATCH, &path, Some(json!({"status": "disabled"}))).await;
        assert_eq!(status, StatusCode::OK);
        for _ in 0..12 {
            let response = server.token_response(&id, &secret, None).await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"], "invalid_client");
        }
        let (status, _) = server.admin(Method::PATCH, &path, Some(json!({"status": "active"}))).await;
        assert_eq!(status, StatusCode::OK);
        for _ in 0..10 {
            assert_eq!(server.token_response(&id, "tss_guess", None).await.status(), StatusCode::UNAUTHORIZED);
        }
        assert_eq!(server.token_response(&id, "tss_guess", None).await.status(), StatusCode::TOO_MANY_REQUESTS);
    }
}
