//! Every rule of SPEC 3, through the admin API: a violating body gets 400 with the RFC 7591
//! code and a description naming the field, and nothing is stored.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

fn cc(extra: Value) -> Value {
    let mut body = json!({"client_name": "Rules", "grant_types": ["client_credentials"], "scope": "directory.read"});
    for (key, value) in extra.as_object().unwrap() {
        body[key] = value.clone();
    }
    body
}

fn code_flow(auth_method: &str, uris: Value) -> Value {
    json!({"client_name": "App", "grant_types": ["authorization_code", "refresh_token"], "scope": "openid", "token_endpoint_auth_method": auth_method, "redirect_uris": uris})
}

both_engines! {
    async fn violating_metadata_is_refused_and_nothing_stored(server: TestApp) {
        let cases: Vec<(Value, &str, &str)> = vec![
            (json!({"grant_types": ["client_credentials"], "scope": "directory.read"}), "invalid_client_metadata", "client_name"),
            (cc(json!({"client_name": "   "})), "invalid_client_metadata", "client_name"),
            (cc(json!({"client_name": "x".repeat(201)})), "invalid_client_metadata", "client_name"),
            (cc(json!({"description": "d".repeat(2001)})), "invalid_client_metadata", "description"),
            (cc(json!({"client_id": "ts_chosen"})), "invalid_client_metadata", "client_id"),
            (cc(json!({"is_default": true})), "invalid_client_metadata", "is_default"),
            (cc(json!({"favourite_colour": "red"})), "invalid_client_metadata", "favourite_colour"),
            (cc(json!({"client_type": "robot"})), "invalid_client_metadata", "client_type"),
            (json!({"client_name": "x", "scope": "openid"}), "invalid_client_metadata", "grant_types"),
            (cc(json!({"grant_types": []})), "invalid_client_metadata", "grant_types"),
            (cc(json!({"grant_types": ["implicit"]})), "invalid_client_metadata", "grant_types"),
            (cc(json!({"grant_types": ["refresh_token", "client_credentials"]})), "invalid_client_metadata", "grant_types"),
            (cc(json!({"token_endpoint_auth_method": "none"})), "invalid_client_metadata", "grant_types"),
            (cc(json!({"token_endpoint_auth_method": "client_secret_jwt"})), "invalid_client_metadata", "token_endpoint_auth_method"),
            (cc(json!({"response_types": ["code"]})), "invalid_client_metadata", "response_types"),
            (cc(json!({"response_types": ["token"]})), "invalid_client_metadata", "response_types"),
            (cc(json!({"scope": ""})), "invalid_client_metadata", "scope"),
            (cc(json!({"scope": "directory.read unknown.scope"})), "invalid_client_metadata", "unknown.scope"),
            (cc(json!({"access_token_ttl_seconds": 59})), "invalid_client_metadata", "access_token_ttl_seconds"),
            (cc(json!({"access_token_ttl_seconds": 86401})), "invalid_client_metadata", "access_token_ttl_seconds"),
            (cc(json!({"status": "paused"})), "invalid_client_metadata", "status"),
            (cc(json!({"require_user_consent": "yes"})), "invalid_client_metadata", "require_user_consent"),
            (json!({"client_type": "sync_connector", "client_name": "LDAP", "scope": "admin"}), "invalid_client_metadata", "scope"),
            (json!({"client_name": "App", "grant_types": ["authorization_code"], "scope": "openid"}), "invalid_redirect_uri", "redirect_uris"),
            (code_flow("client_secret_basic", json!(["http://app.example.com/cb"])), "invalid_redirect_uri", "redirect_uris"),
            (code_flow("client_secret_basic", json!(["http://127.0.0.1/cb"])), "invalid_redirect_uri", "redirect_uris"),
            (code_flow("none", json!(["http://app.example.com/cb"])), "invalid_redirect_uri", "redirect_uris"),
            (code_flow("client_secret_basic", json!(["com.example.app:/cb"])), "invalid_redirect_uri", "redirect_uris"),
            (code_flow("none", json!(["myapp:/cb"])), "invalid_redirect_uri", "redirect_uris"),
            (code_flow("none", json!(["https://app.example.com/cb#fragment"])), "invalid_redirect_uri", "redirect_uris"),
            (code_flow("none", json!(["https://user:pw@app.example.com/cb"])), "invalid_redirect_uri", "redirect_uris"),
            (code_flow("none", json!(["https://*.example.com/cb"])), "invalid_redirect_uri", "redirect_uris"),
            (code_flow("none", json!(["/relative/cb"])), "invalid_redirect_uri", "redirect_uris"),
            (code_flow("none", json!(["javascript:alert(1)"])), "invalid_redirect_uri", "redirect_uris"),
            (code_flow("none", json!(["data:text/html,hi"])), "invalid_redirect_uri", "redirect_uris"),
            (code_flow("none", json!(["file:///etc/passwd"])), "invalid_redirect_uri", "redirect_uris"),
            (code_flow("none", json!((0..21).map(|i| format!("https://app.example.com/{i}")).collect::<Vec<_>>())), "invalid_redirect_uri", "redirect_uris"),
            (code_flow("none", json!(["https://a.example.com/cb", "https://a.example.com/cb"])), "invalid_redirect_uri", "redirect_uris"),
        ];
        let (_, before) = server.admin(Method::GET, "/api/v1/clients?limit=200", None).await;
        let (_, audit_before) = server.admin(Method::GET, "/api/v1/audit-events?limit=1", None).await;
        for (body, code, field) in &cases {
            let (status, error) = server.admin(Method::POST, "/api/v1/clients", Some(body.clone())).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {error}");
            assert_eq!(error["error"], *code, "{body}: {error}");
            let description = error["error_description"].as_str().unwrap();
            assert!(description.contains(field), "{body}: `{description}` does not name {field}");
        }
        let (_, after) = server.admin(Method::GET, "/api/v1/clients?limit=200", None).await;
        assert_eq!(before["items"], after["items"]);
        let (_, audit_after) = server.admin(Method::GET, "/api/v1/audit-events?limit=1", None).await;
        assert_eq!(audit_before["items"], audit_after["items"]);

        // Malformed bodies are invalid_request JSON, not plain-text rejections.
        let token = server.admin_token().await;
        for (content_type, body) in [("application/json", "{not json"), ("text/plain", "{}"), ("application/json", "[1]")] {
            let response = server.http.post(server.url("/api/v1/clients")).bearer_auth(&token).header("content-type", content_type).body(body).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{content_type} {body}");
            let error: Value = response.json().await.unwrap();
            assert_eq!(error["error"], "invalid_request");
        }
    }

    async fn what_the_rules_allow(server: TestApp) {
        let native = server.create_client(code_flow("none", json!(["com.example.app:/oauth2/callback", "http://127.0.0.1/callback", "http://[::1]/cb"]))).await;
        assert!(native.get("client_secret").is_none());
        assert_eq!(native["response_types"], json!(["code"]));
        let web = server.create_client(code_flow("client_secret_post", json!(["https://app.example.com/callback?x=1"]))).await;
        assert!(web["client_secret"].as_str().unwrap().starts_with("tss_"));
        let unicode = server.create_client(cc(json!({"client_name": "  Zählwerk 計算  ", "access_token_ttl_seconds": 60}))).await;
        assert_eq!(unicode["client_name"], "Zählwerk 計算");
    }

    async fn default_clients_are_protected(server: TestApp) {
        let (status, error) = server.admin(Method::DELETE, "/api/v1/clients/ts_sync_client", None).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert!(error["error_description"].as_str().unwrap().contains("Avoid modifying or deleting the default clients"));
        for patch in [json!({"scope": "directory.read"}), json!({"grant_types": ["client_credentials", "password"]}), json!({"redirect_uris": ["com.thetasecure.mobile:/other"]})] {
            let path = if patch.get("redirect_uris").is_some() { "/api/v1/clients/thetasecure-mobile-app" } else { "/api/v1/clients/ts_sync_client" };
            let (status, _) = server.admin(Method::PATCH, path, Some(patch.clone())).await;
            assert_eq!(status, StatusCode::CONFLICT, "{patch}");
        }
        // Harmless fields may change without force.
        let (status, renamed) = server.admin(Method::PATCH, "/api/v1/clients/ts_sync_client", Some(json!({"description": "LDAP sync"}))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(renamed["is_default"], true);
        let (status, forced) = server.admin(Method::PATCH, "/api/v1/clients/ts_sync_client?force=true", Some(json!({"scope": "directory.read"}))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(forced["scope"], "directory.read");
        let (status, _) = server.admin(Method::DELETE, "/api/v1/clients/ts_sync_client?force=true", None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = server.admin(Method::GET, "/api/v1/clients/ts_sync_client", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}
