//! Snapshots of what integrators code against: both discovery documents, the JWKS's
//! shape, every OAuth and admin error body, and the whole OpenAPI document. A change to
//! any of them fails here and shows up in review as a changed `.snap` file (accept it
//! with `cargo insta review`, or `INSTA_UPDATE=always` outside CI). Ids, key material
//! and times are redacted; the rest is compared exactly, on both engines against one
//! snapshot each.

use insta::assert_json_snapshot;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};

use crate::support::*;

/// Status, the headers a client acts on, and the body.
async fn answer(response: Response) -> Value {
    let status = response.status().as_u16();
    let headers: serde_json::Map<String, Value> = [
        "content-type",
        "cache-control",
        "www-authenticate",
        "retry-after",
    ]
    .into_iter()
    .filter_map(|name| {
        let value = response.headers().get(name)?.to_str().ok()?;
        Some((name.to_owned(), Value::String(value.to_owned())))
    })
    .collect();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    json!({"status": status, "headers": headers, "body": body})
}

async fn answers(cases: Vec<(&str, RequestBuilder)>) -> Value {
    let mut all = serde_json::Map::new();
    for (name, request) in cases {
        let response = request.send().await.unwrap();
        all.insert(name.to_owned(), answer(response).await);
    }
    Value::Object(all)
}

both_engines! {
    async fn discovery_documents_and_the_jwks_shape(server: TestApp) {
        for (name, path) in [
            ("openid_configuration", "/.well-known/openid-configuration"),
            ("oauth_authorization_server", "/.well-known/oauth-authorization-server"),
        ] {
            let response = server.http.get(server.url(path)).send().await.unwrap();
            assert_json_snapshot!(name, answer(response).await);
        }
        assert_json_snapshot!("jwks", server.jwks().await, {
            ".keys[].kid" => "[kid]",
            ".keys[].x" => "[public key]",
            ".keys[].y" => "[public key]",
            ".keys[].n" => "[public key]",
            ".keys[].e" => "[public key]",
        });
    }

    /// Where the server enables the password grant, both documents list it (only the
    /// grant types are kept: the rest is the snapshot above), and its error bodies.
    async fn the_password_grant_where_enabled(server: TestApp with |app| app.allow_password_grant()) {
        let mut listed = serde_json::Map::new();
        for (name, path) in [
            ("openid_configuration", "/.well-known/openid-configuration"),
            ("oauth_authorization_server", "/.well-known/oauth-authorization-server"),
        ] {
            listed.insert(name.to_owned(), server.get_json(path).await["grant_types_supported"].clone());
        }
        assert_json_snapshot!("password_grant_discovery", Value::Object(listed));

        let (_, user) = server.admin(Method::POST, "/api/v1/users", Some(json!({"username": "alice", "password": "alice's long password"}))).await;
        assert!(user["id"].is_string(), "{user}");
        let created = server.create_client(json!({"client_name": "Legacy", "grant_types": ["password"], "scope": "profile"})).await;
        let (id, secret) = (created["client_id"].as_str().unwrap(), created["client_secret"].as_str().unwrap());
        let (machine, machine_secret) = server.machine_client("Snapshots", "directory.read").await;
        let token = server.url("/oauth2/token");
        let http = &server.http;
        let password = |password: &'static str| http.post(&token).basic_auth(id, Some(secret)).form(&[("grant_type", "password"), ("username", "alice"), ("password", password)]);
        let mut cases = vec![
            ("not_registered_for_it", http.post(&token).basic_auth(&machine, Some(&machine_secret)).form(&[("grant_type", "password"), ("username", "alice"), ("password", "p")])),
            ("without_password", http.post(&token).basic_auth(id, Some(secret)).form(&[("grant_type", "password"), ("username", "alice")])),
            ("public_client", http.post(&token).form(&[("grant_type", "password"), ("username", "alice"), ("password", "p"), ("client_id", "thetasecure-desktop-agent")])),
        ];
        for _ in 0..5 {
            cases.push(("wrong_password", password("a wrong password")));
        }
        cases.push(("locked_out", password("alice's long password")));
        assert_json_snapshot!("password_grant_errors", answers(cases).await);
    }

    async fn oauth_error_bodies(server: TestApp) {
        let (id, secret) = server.machine_client("Snapshots", "directory.read").await;
        let token = server.url("/oauth2/token");
        let http = &server.http;
        let cases = vec![
            ("token_without_grant_type", http.post(&token).basic_auth(&id, Some(&secret)).form(&[("scope", "directory.read")])),
            ("token_unsupported_grant_type", http.post(&token).basic_auth(&id, Some(&secret)).form(&[("grant_type", "urn:example:unknown")])),
            ("token_grant_not_allowed", http.post(&token).basic_auth(&id, Some(&secret)).form(&[("grant_type", "password"), ("username", "u"), ("password", "p")])),
            ("token_wrong_secret", http.post(&token).basic_auth(&id, Some("tss_wrong")).form(&[("grant_type", "client_credentials")])),
            ("token_unknown_client", http.post(&token).basic_auth("ts_unknown", Some("tss_wrong")).form(&[("grant_type", "client_credentials")])),
            ("token_without_credentials", http.post(&token).form(&[("grant_type", "client_credentials")])),
            ("token_two_methods", http.post(&token).basic_auth(&id, Some(&secret)).form(&[("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", &secret)])),
            ("token_scope_not_allowed", http.post(&token).basic_auth(&id, Some(&secret)).form(&[("grant_type", "client_credentials"), ("scope", "admin")])),
            ("token_repeated_parameter", http.post(&token).basic_auth(&id, Some(&secret)).body("grant_type=client_credentials&grant_type=client_credentials").header("content-type", "application/x-www-form-urlencoded")),
            ("token_not_a_form", http.post(&token).basic_auth(&id, Some(&secret)).json(&json!({"grant_type": "client_credentials"}))),
            ("introspect_without_credentials", http.post(server.url("/oauth2/introspect")).form(&[("token", "x")])),
            ("introspect_without_token", http.post(server.url("/oauth2/introspect")).basic_auth(&id, Some(&secret)).form(&[("token_type_hint", "access_token")])),
            ("revoke_without_token", http.post(server.url("/oauth2/revoke")).basic_auth(&id, Some(&secret)).form(&[("token_type_hint", "access_token")])),
        ];
        assert_json_snapshot!("oauth_errors", answers(cases).await);
    }

    async fn admin_error_bodies(server: TestApp) {
        let (id, secret) = server.machine_client("Not an admin", "directory.read").await;
        let admin = server.admin_token().await;
        let not_admin = server.token(&id, &secret).await;
        let api = |method: Method, path: &str| server.http.request(method, server.url(path));
        let cases = vec![
            ("without_token", api(Method::GET, "/api/v1/clients")),
            ("malformed_token", api(Method::GET, "/api/v1/clients").bearer_auth("not-a-jwt")),
            ("without_admin_scope", api(Method::GET, "/api/v1/clients").bearer_auth(&not_admin)),
            ("unknown_client", api(Method::GET, "/api/v1/clients/ts_unknownclient000000000000").bearer_auth(&admin)),
            ("bad_list_limit", api(Method::GET, "/api/v1/clients?limit=0").bearer_auth(&admin)),
            ("bad_cursor", api(Method::GET, "/api/v1/clients?cursor=%21").bearer_auth(&admin)),
            ("invalid_json", api(Method::POST, "/api/v1/clients").bearer_auth(&admin).header("content-type", "application/json").body("{")),
            ("not_json", api(Method::POST, "/api/v1/clients").bearer_auth(&admin).body("client_name=x")),
            ("invalid_metadata", api(Method::POST, "/api/v1/clients").bearer_auth(&admin).json(&json!({"client_name": "x", "grant_types": ["implicit"]}))),
            ("invalid_redirect_uri", api(Method::POST, "/api/v1/clients").bearer_auth(&admin).json(&json!({"client_name": "x", "grant_types": ["authorization_code"], "scope": "openid", "redirect_uris": ["http://example.com/cb"]}))),
            ("unknown_field", api(Method::PATCH, &format!("/api/v1/clients/{id}")).bearer_auth(&admin).json(&json!({"colour": "blue"}))),
            ("protected_default_client", api(Method::DELETE, "/api/v1/clients/ts_admin_client").bearer_auth(&admin)),
            ("unknown_secret", api(Method::DELETE, &format!("/api/v1/clients/{id}/secrets/00000000-0000-7000-8000-000000000000")).bearer_auth(&admin)),
            ("duplicate_scope", api(Method::POST, "/api/v1/scopes").bearer_auth(&admin).json(&json!({"name": "directory.read", "description": "again"}))),
            ("builtin_scope_delete", api(Method::DELETE, "/api/v1/scopes/directory.read").bearer_auth(&admin)),
            ("unknown_scope", api(Method::GET, "/api/v1/scopes/no.such.scope").bearer_auth(&admin)),
            ("bad_audit_limit", api(Method::GET, "/api/v1/audit-events?limit=100000").bearer_auth(&admin)),
        ];
        assert_json_snapshot!("admin_errors", answers(cases).await);
    }
}

/// The whole document, as served: a changed operation, schema or response shows here.
#[tokio::test]
async fn the_openapi_document() {
    let Some(server) = TestApp::start(Engine::Sqlite).await else {
        return;
    };
    assert_json_snapshot!("openapi", server.openapi_document().await, {
        ".info.version" => "[version]",
    });
}
