use reqwest::StatusCode;
use serde_json::Value;

use crate::support::*;

both_engines! {
    async fn admin_api_needs_an_admin_token(server: TestApp) {
        let response = server.http.get(server.url("/api/v1/clients")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_token");

        let response = server.http.get(server.url("/api/v1/clients")).bearer_auth("not-a-token").send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));

        // A valid token of this server without `admin`: 403.
        let sync = server.token("ts_sync_client", SYNC_SECRET).await;
        for (method, path) in [(reqwest::Method::GET, "/api/v1/clients"), (reqwest::Method::POST, "/api/v1/clients"), (reqwest::Method::GET, "/api/v1/scopes"), (reqwest::Method::GET, "/api/v1/audit-events")] {
            let response = server.http.request(method, server.url(path)).bearer_auth(&sync).json(&serde_json::json!({})).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
            assert!(response.headers()["www-authenticate"].to_str().unwrap().contains("insufficient_scope"));
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"], "insufficient_scope");
        }
        // A revoked admin token stops working at once.
        let admin = server.admin_token().await;
        let revoked = server.http.post(server.url("/oauth2/revoke")).basic_auth("ts_admin_client", Some(ADMIN_SECRET)).form(&[("token", admin.as_str())]).send().await.unwrap();
        assert_eq!(revoked.status(), StatusCode::OK);
        let response = server.http.get(server.url("/api/v1/clients")).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
}
