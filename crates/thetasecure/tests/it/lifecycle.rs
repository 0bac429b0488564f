use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::*;

both_engines! {
    async fn disable_enable_and_delete(server: TestApp) {
        let (id, secret) = server.machine_client("Lifecycle", "directory.read").await;
        let token = server.token(&id, &secret).await;
        let path = format!("/api/v1/clients/{id}");
        let (status, disabled) = server.admin(Method::PATCH, &path, Some(json!({"status": "disabled"}))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(disabled["status"], "disabled");
        assert_eq!(server.token_response(&id, &secret, None).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(server.introspect(("ts_admin_client", ADMIN_SECRET), &token).await, json!({"active": false}));

        // Disabling revoked every token issued up to that millisecond; let one pass.
        server.advance_seconds(1);
        let (status, _) = server.admin(Method::PATCH, &path, Some(json!({"status": "active"}))).await;
        assert_eq!(status, StatusCode::OK);
        let fresh = server.token(&id, &secret).await;
        assert_eq!(server.introspect(("ts_admin_client", ADMIN_SECRET), &fresh).await["active"], true);
        // Tokens held when it was disabled stay revoked.
        assert_eq!(server.introspect(("ts_admin_client", ADMIN_SECRET), &token).await, json!({"active": false}));

        let (status, _) = server.admin(Method::DELETE, &path, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(server.token_response(&id, &secret, None).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(server.introspect(("ts_admin_client", ADMIN_SECRET), &fresh).await, json!({"active": false}));
        for (method, suffix) in [(Method::GET, ""), (Method::DELETE, ""), (Method::GET, "/secrets"), (Method::POST, "/revoke-tokens")] {
            let (status, error) = server.admin(method, &format!("{path}{suffix}"), None).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{suffix}");
            assert_eq!(error["error"], "not_found");
        }
    }

    async fn a_created_client_survives_sigkill(server: TestServer) {
        let (id, secret) = server.machine_client("Durable", "directory.read").await;
        let (status, _) = server.admin(Method::PATCH, &format!("/api/v1/clients/{id}"), Some(json!({"description": "still here"}))).await;
        assert_eq!(status, StatusCode::OK);
        let place: Arc<Place> = server.kill();
        let restarted = TestServer::start_on(place, true).await;
        let (status, client) = restarted.admin(Method::GET, &format!("/api/v1/clients/{id}"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(client["description"], "still here");
        restarted.token(&id, &secret).await;
    }

    async fn sigterm_stops_cleanly(server: TestServer) {
        let (id, secret) = server.machine_client("Graceful", "directory.read").await;
        server.token(&id, &secret).await;
        let place = server.place.clone();
        let status = server.terminate().await;
        assert!(status.success(), "{status}");
        // The coalesced last_used_at was written at shutdown.
        let restarted = TestServer::start_on(place, true).await;
        let (_, secrets) = restarted.admin(Method::GET, &format!("/api/v1/clients/{id}/secrets"), None).await;
        assert!(secrets["items"][0]["last_used_at"].is_string(), "{secrets}");
    }
}
