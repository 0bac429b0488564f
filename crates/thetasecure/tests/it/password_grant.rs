//! The password grant (SPEC 9): off by default — unsupported at the token endpoint and
//! refused at registration; where enabled, only for confidential clients registered for
//! it, through the sign-in page's checks and limits, every use audited.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

const ALICE_PASSWORD: &str = "alice's long password";

/// A confidential client registered for `grants` with `scope`: (client_id, secret).
async fn client_with(server: &TestApp, grants: &[&str], scope: &str) -> (String, String) {
    let created = server
        .create_client(json!({"client_name": "Legacy App", "grant_types": grants, "scope": scope}))
        .await;
    (
        created["client_id"].as_str().unwrap().to_owned(),
        created["client_secret"].as_str().unwrap().to_owned(),
    )
}

/// User `alice`; her id.
async fn alice(server: &TestApp) -> String {
    let (status, user) = server
        .admin(
            Method::POST,
            "/api/v1/users",
            Some(json!({"username": "alice", "password": ALICE_PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    user["id"].as_str().unwrap().to_owned()
}

/// A token request by `client` with `form`: status, `Retry-After` and body.
async fn grant(
    server: &TestApp,
    client: &(String, String),
    form: &[(&str, &str)],
) -> (StatusCode, Option<String>, Value) {
    let response = server
        .http
        .post(server.url("/oauth2/token"))
        .basic_auth(&client.0, Some(&client.1))
        .form(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["cache-control"], "no-store");
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        response.status(),
        retry_after,
        response.json().await.unwrap(),
    )
}

async fn password(
    server: &TestApp,
    client: &(String, String),
    username: &str,
    password: &str,
) -> (StatusCode, Option<String>, Value) {
    grant(
        server,
        client,
        &[
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
        ],
    )
    .await
}

async fn audit_events(server: &TestApp) -> Vec<Value> {
    let (status, events) = server
        .admin(Method::GET, "/api/v1/audit-events?limit=200", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    events["items"].as_array().unwrap().clone()
}

async fn grant_types_supported(server: &TestApp) -> Value {
    server.get_json("/.well-known/openid-configuration").await["grant_types_supported"].clone()
}

both_engines! {
    async fn off_by_default_it_is_unsupported_and_cannot_be_registered(server: TestApp) {
        alice(&server).await;
        let admin = ("ts_admin_client".to_owned(), ADMIN_SECRET.to_owned());
        let (status, _, body) = password(&server, &admin, "alice", ALICE_PASSWORD).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("unsupported_grant_type")), "{body}");
        assert!(!grant_types_supported(&server).await.as_array().unwrap().iter().any(|g| g == "password"));

        let (status, refused) = server.admin(Method::POST, "/api/v1/clients", Some(json!({
            "client_name": "Legacy App", "grant_types": ["password"], "scope": "profile",
        }))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
        assert_eq!(refused["error"], "invalid_client_metadata");
        assert!(refused["error_description"].as_str().unwrap().contains("grant_types"), "{refused}");
        // Nor may an existing client add it; other grants are registered as before.
        let (id, _) = client_with(&server, &["client_credentials"], "profile").await;
        let (status, refused) = server.admin(Method::PATCH, &format!("/api/v1/clients/{id}"), Some(json!({
            "grant_types": ["client_credentials", "password"],
        }))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
        assert!(refused["error_description"].as_str().unwrap().contains("grant_types"), "{refused}");
        // A default client's protection answers first (409); forced, the grant is still refused.
        let (status, _) = server.admin(Method::PATCH, "/api/v1/clients/ts_sync_client?force=true", Some(json!({
            "grant_types": ["client_credentials", "password"],
        }))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (_, kept) = server.admin(Method::GET, &format!("/api/v1/clients/{id}"), None).await;
        assert_eq!(kept["grant_types"], json!(["client_credentials"]));
    }

    async fn enabled_a_confidential_client_registered_for_it_gets_tokens(server: TestApp with |app| app.allow_password_grant()) {
        let alice_id = alice(&server).await;
        assert_eq!(grant_types_supported(&server).await, json!(["authorization_code", "client_credentials", "refresh_token", "password"]));
        let client = client_with(&server, &["password", "refresh_token"], "openid offline_access profile").await;
        let (status, _, tokens) = password(&server, &client, "ALICE", ALICE_PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        assert_eq!(tokens["token_type"], "Bearer");
        assert_eq!(tokens["scope"], "openid offline_access profile");
        let access = tokens["access_token"].as_str().unwrap();
        let introspected = server.introspect(("ts_admin_client", ADMIN_SECRET), access).await;
        assert_eq!((introspected["active"].as_bool(), introspected["sub"].as_str()), (Some(true), Some(alice_id.as_str())));
        assert_eq!(introspected["client_id"], client.0.as_str());
        // `openid`: an ID token for this sign-in, as from a code but with no nonce.
        let id_token = crate::oidc::verify_id_token_for(&server, server.issuer(), tokens["id_token"].as_str().unwrap(), jsonwebtoken::Algorithm::RS256, &client.0).await;
        assert_eq!((id_token["sub"].as_str(), id_token["amr"].clone(), id_token.get("nonce")), (Some(alice_id.as_str()), json!(["pwd"]), None));
        assert_eq!(id_token["auth_time"], id_token["iat"], "signed in by this request");
        // The refresh token works like one from a code.
        let refresh = tokens["refresh_token"].as_str().unwrap();
        let (status, _, refreshed) = grant(&server, &client, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
        assert_eq!(status, StatusCode::OK, "{refreshed}");

        // Scope rules as for other grants: narrower is fine, beyond the client's is not;
        // without offline_access an OpenID request gets no refresh token.
        let (status, _, narrow) = grant(&server, &client, &[("grant_type", "password"), ("username", "alice"), ("password", ALICE_PASSWORD), ("scope", "openid profile")]).await;
        assert_eq!(status, StatusCode::OK, "{narrow}");
        assert!(narrow.get("refresh_token").is_none(), "{narrow}");
        let (status, _, wide) = grant(&server, &client, &[("grant_type", "password"), ("username", "alice"), ("password", ALICE_PASSWORD), ("scope", "admin")]).await;
        assert_eq!((status, wide["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_scope")));
        // A client without the refresh grant gets an access token only.
        let no_refresh = client_with(&server, &["password"], "profile").await;
        let (status, _, tokens) = password(&server, &no_refresh, "alice", ALICE_PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        assert!(tokens.get("refresh_token").is_none(), "{tokens}");
        let (status, _, missing) = grant(&server, &client, &[("grant_type", "password"), ("username", "alice")]).await;
        assert_eq!((status, missing["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
        assert!(missing["error_description"].as_str().unwrap().contains("password"), "{missing}");

        let events = audit_events(&server).await;
        let issued: Vec<&Value> = events.iter().filter(|e| e["action"] == "password_grant.issued").collect();
        assert_eq!(issued.len(), 3, "{events:?}");
        assert_eq!(issued.last().unwrap()["target_id"], client.0.as_str());
        assert_eq!(issued.last().unwrap()["details"]["user_id"], alice_id.as_str());
        assert!(!serde_json::to_string(&events).unwrap().contains(ALICE_PASSWORD));
    }

    async fn enabled_it_is_refused_to_public_and_unregistered_clients(server: TestApp with |app| app.allow_password_grant()) {
        alice(&server).await;
        let machine = client_with(&server, &["client_credentials"], "profile").await;
        let (status, _, body) = password(&server, &machine, "alice", ALICE_PASSWORD).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("unauthorized_client")), "{body}");
        // A public client proves nothing, and cannot be registered for the grant.
        let response = server.http.post(server.url("/oauth2/token"))
            .form(&[("grant_type", "password"), ("username", "alice"), ("password", ALICE_PASSWORD), ("client_id", "thetasecure-desktop-agent")])
            .send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client");
        let (status, refused) = server.admin(Method::POST, "/api/v1/clients", Some(json!({
            "client_name": "Public", "grant_types": ["password"], "scope": "profile", "token_endpoint_auth_method": "none",
        }))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
        assert!(refused["error_description"].as_str().unwrap().contains("grant_types"), "{refused}");

        let events = audit_events(&server).await;
        let refused: Vec<&Value> = events.iter().filter(|e| e["action"] == "password_grant.refused").collect();
        assert_eq!(refused.len(), 1, "{events:?}");
        assert_eq!(refused[0]["target_id"], machine.0.as_str());
        assert!(!serde_json::to_string(&events).unwrap().contains(ALICE_PASSWORD));
    }

    /// Wrong credentials are `invalid_grant`, the same for an unknown user; the sign-in
    /// page's limit applies: five failures lock the username, even its right password.
    async fn wrong_credentials_are_invalid_grant_and_lockout_is_429(server: TestApp with |app| app.allow_password_grant()) {
        alice(&server).await;
        let client = client_with(&server, &["password"], "profile").await;
        let (status, _, wrong) = password(&server, &client, "alice", "not alice's password").await;
        assert_eq!((status, wrong["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{wrong}");
        let (status, _, unknown) = password(&server, &client, "nobody", ALICE_PASSWORD).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(unknown, wrong, "one answer whatever was wrong");
        for _ in 1..5 {
            let (status, _, _) = password(&server, &client, "alice", "still not it").await;
            assert_eq!(status, StatusCode::BAD_REQUEST);
        }
        let (status, retry_after, locked) = password(&server, &client, "alice", ALICE_PASSWORD).await;
        assert_eq!((status, locked["error"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("invalid_grant")), "{locked}");
        assert_eq!(retry_after.as_deref(), Some("900"));
        // The lock is the sign-in page's too.
        let mut browser = crate::authorization_code::Browser::new(&server);
        assert_eq!(browser.sign_in("/login", "alice", ALICE_PASSWORD).await.status, StatusCode::TOO_MANY_REQUESTS);
        server.advance_seconds(15 * 60);
        let (status, _, tokens) = password(&server, &client, "alice", ALICE_PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");

        let events = audit_events(&server).await;
        let count = |action: &str| events.iter().filter(|e| e["action"] == action).count();
        assert_eq!((count("password_grant.rejected"), count("password_grant.throttled"), count("password_grant.issued")), (6, 1, 1));
        let written = serde_json::to_string(&events).unwrap();
        for secret in [ALICE_PASSWORD, "not alice's password", "still not it"] {
            assert!(!written.contains(secret), "{secret} in the audit log");
        }
    }
}
