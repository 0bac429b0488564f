use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

async fn secrets(server: &Api, id: &str) -> Vec<Value> {
    let (status, body) = server
        .admin(Method::GET, &format!("/api/v1/clients/{id}/secrets"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    body["items"].as_array().unwrap().clone()
}

both_engines! {
    async fn rotation_grace_revocation_and_last_used(server: TestApp) {
        let (id, first) = server.machine_client("Rotating", "directory.read").await;
        let records = secrets(&server, &id).await;
        assert_eq!(records.len(), 1);
        assert_eq!(records[0]["hint"], &first[..8]);
        assert!(records[0]["last_used_at"].is_null());
        server.token(&id, &first).await;
        let used = secrets(&server, &id).await;
        assert!(used[0]["last_used_at"].is_string(), "last_used_at moves: {used:?}");

        // Rotate with a 2 s grace period: both work, within it too, then only the new one.
        let (status, rotated) = server.admin(Method::POST, &format!("/api/v1/clients/{id}/secrets"), Some(json!({"grace_period_seconds": 2}))).await;
        assert_eq!(status, StatusCode::CREATED);
        let second = rotated["client_secret"].as_str().unwrap().to_owned();
        assert_eq!(rotated["hint"], &second[..8]);
        server.token(&id, &first).await;
        server.token(&id, &second).await;
        server.advance_seconds(1);
        server.token(&id, &first).await;
        server.advance_seconds(2);
        assert_eq!(server.token_response(&id, &first, None).await.status(), StatusCode::UNAUTHORIZED);
        server.token(&id, &second).await;

        // Without a grace period the old secret stops at once.
        let (_, third) = server.admin(Method::POST, &format!("/api/v1/clients/{id}/secrets"), None).await;
        let third = third["client_secret"].as_str().unwrap().to_owned();
        assert_eq!(server.token_response(&id, &second, None).await.status(), StatusCode::UNAUTHORIZED);
        server.token(&id, &third).await;

        // A long grace period, then revoking the old secret stops it at once.
        let (_, fourth) = server.admin(Method::POST, &format!("/api/v1/clients/{id}/secrets"), Some(json!({"grace_period_seconds": 3600}))).await;
        let fourth_secret = fourth["client_secret"].as_str().unwrap().to_owned();
        server.token(&id, &third).await;
        let third_record = secrets(&server, &id).await.into_iter().find(|s| s["hint"] == third[..8]).unwrap();
        assert_eq!(third_record["active"], true);
        let (status, _) = server.admin(Method::DELETE, &format!("/api/v1/clients/{id}/secrets/{}", third_record["id"].as_str().unwrap()), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(server.token_response(&id, &third, None).await.status(), StatusCode::UNAUTHORIZED);
        server.token(&id, &fourth_secret).await;
        // The last active secret cannot be revoked.
        let (status, _) = server.admin(Method::DELETE, &format!("/api/v1/clients/{id}/secrets/{}", fourth["id"].as_str().unwrap()), None).await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (status, _) = server.admin(Method::DELETE, &format!("/api/v1/clients/{id}/secrets/no-such-secret"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // At most five active secrets.
        for _ in 0..4 {
            let (status, _) = server.admin(Method::POST, &format!("/api/v1/clients/{id}/secrets"), Some(json!({"grace_period_seconds": 3600}))).await;
            assert_eq!(status, StatusCode::CREATED);
        }
        let (status, _) = server.admin(Method::POST, &format!("/api/v1/clients/{id}/secrets"), Some(json!({"grace_period_seconds": 3600}))).await;
        assert_eq!(status, StatusCode::CONFLICT);
        for bad in [json!({"grace_period_seconds": -1}), json!({"grace_period_seconds": 604801}), json!({"grace_period_seconds": "soon"})] {
            let (status, error) = server.admin(Method::POST, &format!("/api/v1/clients/{id}/secrets"), Some(bad)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert!(error["error_description"].as_str().unwrap().contains("grace_period_seconds"));
        }
        // Public clients have no secret to rotate.
        let (status, _) = server.admin(Method::POST, "/api/v1/clients/thetasecure-mobile-app/secrets", None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
}
