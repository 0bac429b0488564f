use std::collections::HashSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

both_engines! {
    async fn created_secret_is_shown_once(server: TestApp) {
        let token = server.admin_token().await;
        let response = server
            .http
            .post(server.url("/api/v1/clients"))
            .bearer_auth(&token)
            .json(&json!({"client_name": "Billing", "description": "Invoices", "grant_types": ["client_credentials"], "scope": "directory.read"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        let created: Value = response.json().await.unwrap();
        let id = created["client_id"].as_str().unwrap();
        let secret = created["client_secret"].as_str().unwrap();
        assert_eq!(location, format!("/api/v1/clients/{id}"));
        assert!(id.starts_with("ts_") && id.len() == 29, "{id}");
        assert!(secret.starts_with("tss_") && secret.len() == 47);
        assert_eq!(created["client_type"], "custom");
        assert_eq!(created["status"], "active");
        assert_eq!(created["is_default"], false);
        assert_eq!(created["token_endpoint_auth_method"], "client_secret_basic");
        assert_eq!(created["response_types"], json!([]));

        let sync = server.create_client(json!({"client_type": "sync_connector", "client_name": "LDAP connector"})).await;
        assert_eq!(sync["client_type"], "sync_connector");
        assert_eq!(sync["grant_types"], json!(["client_credentials"]));
        assert_eq!(sync["scope"], "directory.read directory.write");
        assert_eq!(sync["redirect_uris"], json!([]));
        let sync_secret = sync["client_secret"].as_str().unwrap();

        for path in [location.clone(), format!("/api/v1/clients/{}", sync["client_id"].as_str().unwrap()), "/api/v1/clients".into(), format!("/api/v1/clients/{id}/secrets")] {
            let (status, body) = server.admin(Method::GET, &path, None).await;
            assert_eq!(status, StatusCode::OK);
            let text = body.to_string();
            assert!(!text.contains("\"client_secret\"") && !text.contains(secret) && !text.contains(sync_secret), "{path}: {text}");
        }
        let (_, fetched) = server.admin(Method::GET, &location, None).await;
        assert_eq!(fetched["client_name"], "Billing");
        assert_eq!(fetched["description"], "Invoices");
        assert_eq!(fetched["created_at"], created["created_at"]);
        server.token(id, secret).await;
        server.token(sync["client_id"].as_str().unwrap(), sync_secret).await;
    }

    async fn search_filters_and_pagination(server: TestApp) {
        let mut created = Vec::new();
        for i in 0..500 {
            let grant = if i % 5 == 0 {
                json!({"client_name": format!("Native Ümlaut App {i:03}"), "grant_types": ["authorization_code"], "token_endpoint_auth_method": "none", "redirect_uris": ["com.example.app:/cb"], "scope": "openid"})
            } else {
                json!({"client_name": format!("Service {i:03}"), "grant_types": ["client_credentials"], "scope": "directory.read"})
            };
            created.push(server.create_client(grant).await["client_id"].as_str().unwrap().to_owned());
            // Newest first is by creation time: let it pass between creations.
            server.advance_seconds(1);
        }
        let token = server.admin_token().await;
        let list = |query: String| {
            let request = server.http.get(server.url(&format!("/api/v1/clients?{query}"))).bearer_auth(&token);
            async move {
                let response = request.send().await.unwrap();
                assert_eq!(response.status(), StatusCode::OK, "{query}");
                response.json::<Value>().await.unwrap()
            }
        };
        // Cursor pagination: every client exactly once, newest first.
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let query = match &cursor { Some(c) => format!("limit=37&cursor={c}"), None => "limit=37".into() };
            let page = list(query).await;
            let items = page["items"].as_array().unwrap();
            assert!(items.len() <= 37);
            seen.extend(items.iter().map(|c| c["client_id"].as_str().unwrap().to_owned()));
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen.len(), 504);
        assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 504);
        let newest_first: Vec<&String> = seen.iter().filter(|id| created.contains(id)).collect();
        let expected: Vec<&String> = created.iter().rev().collect();
        assert_eq!(newest_first, expected);

        // Search by part of the name, case-insensitively, Unicode included.
        let by_name = list("search=service%2004".into()).await;
        let names: Vec<&str> = by_name["items"].as_array().unwrap().iter().map(|c| c["client_name"].as_str().unwrap()).collect();
        assert_eq!(names.len(), 8, "{names:?}");
        assert!(names.iter().all(|n| n.starts_with("Service 04")));
        let unicode = list("search=%C3%BCMLAUT&limit=200".into()).await;
        assert_eq!(unicode["items"].as_array().unwrap().len(), 100);
        // By part of the client id.
        let part = &created[123][3..15];
        let by_id = list(format!("search={part}")).await;
        assert_eq!(by_id["items"][0]["client_id"], created[123].as_str());
        assert_eq!(by_id["items"].as_array().unwrap().len(), 1);

        // Filters.
        let code_clients = list("grant_type=authorization_code&limit=200".into()).await;
        assert_eq!(code_clients["items"].as_array().unwrap().len(), 102); // 100 + mobile + desktop
        let (status, _) = server.admin(Method::PATCH, &format!("/api/v1/clients/{}", created[7]), Some(json!({"status": "disabled"}))).await;
        assert_eq!(status, StatusCode::OK);
        let disabled = list("status=disabled".into()).await;
        assert_eq!(disabled["items"].as_array().unwrap().len(), 1);
        assert_eq!(disabled["items"][0]["client_id"], created[7].as_str());
        let combined = list("status=active&grant_type=client_credentials&search=service%2000".into()).await;
        let ids: Vec<&str> = combined["items"].as_array().unwrap().iter().map(|c| c["client_id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), 7, "{ids:?}"); // 001..009 minus 000 and 005 (native) minus 007 (disabled)

        for bad in ["limit=0", "limit=201", "status=paused", "grant_type=implicit", "cursor=garbage", "limit=x"] {
            let response = server.http.get(server.url(&format!("/api/v1/clients?{bad}"))).bearer_auth(&token).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"], "invalid_request");
        }
    }

    async fn patch_is_a_validated_merge(server: TestApp) {
        let (id, _) = server.machine_client("Reports", "directory.read").await;
        let path = format!("/api/v1/clients/{id}");
        let (_, before) = server.admin(Method::GET, &path, None).await;
        server.advance_seconds(1);
        let token = server.admin_token().await;
        let response = server
            .http
            .patch(server.url(&path))
            .bearer_auth(&token)
            .header("content-type", "application/merge-patch+json")
            .body(r#"{"client_name":"Reports v2","description":"nightly","access_token_ttl_seconds":600}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let after: Value = response.json().await.unwrap();
        assert_eq!(after["client_name"], "Reports v2");
        assert_eq!(after["scope"], "directory.read");
        assert_eq!(after["access_token_ttl_seconds"], 600);
        assert_ne!(after["updated_at"], before["updated_at"]);
        assert_eq!(after["created_at"], before["created_at"]);
        let (_, cleared) = server.admin(Method::PATCH, &path, Some(json!({"description": null}))).await;
        assert!(cleared.get("description").is_none());
        let (status, error) = server.admin(Method::PATCH, &path, Some(json!({"scope": "nope"}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(error["error"], "invalid_client_metadata");
        let (_, unchanged) = server.admin(Method::GET, &path, None).await;
        assert_eq!(unchanged["scope"], "directory.read");
        let (status, _) = server.admin(Method::PATCH, "/api/v1/clients/ts_nosuchclient", Some(json!({"client_name": "x"}))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    async fn scopes_registry(server: TestApp) {
        let (status, scope) = server.admin(Method::POST, "/api/v1/scopes", Some(json!({"name": "billing:read", "description": "Read invoices"}))).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(scope["is_builtin"], false);
        let (status, _) = server.admin(Method::POST, "/api/v1/scopes", Some(json!({"name": "billing:read"}))).await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (status, error) = server.admin(Method::POST, "/api/v1/scopes", Some(json!({"name": "bad scope"}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(error["error_description"].as_str().unwrap().contains("name"));
        let (id, secret) = server.machine_client("Billing", "billing:read").await;
        let response = server.token_response(&id, &secret, Some("billing:read")).await;
        assert_eq!(response.status(), StatusCode::OK);
        let (status, _) = server.admin(Method::DELETE, "/api/v1/scopes/billing:read", None).await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (status, _) = server.admin(Method::DELETE, "/api/v1/scopes/openid", None).await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (status, updated) = server.admin(Method::PATCH, "/api/v1/scopes/billing:read", Some(json!({"description": "Read all invoices"}))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(updated["description"], "Read all invoices");
        let (status, _) = server.admin(Method::DELETE, &format!("/api/v1/clients/{id}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = server.admin(Method::DELETE, "/api/v1/scopes/billing:read", None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = server.admin(Method::GET, "/api/v1/scopes/billing:read", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // The registry is cached, but a deletion through this instance takes effect at once.
        let (status, error) = server.admin(Method::POST, "/api/v1/clients", Some(json!({"client_name": "Late", "grant_types": ["client_credentials"], "scope": "billing:read"}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(error["error_description"].as_str().unwrap().contains("billing:read"), "{error}");
    }

    async fn audit_events_record_every_change(server: TestApp) {
        let (id, _) = server.machine_client("Audited", "directory.read").await;
        let path = format!("/api/v1/clients/{id}");
        server.admin(Method::PATCH, &path, Some(json!({"client_name": "Audited 2"}))).await;
        let (status, rotated) = server.admin(Method::POST, &format!("{path}/secrets"), Some(json!({"grace_period_seconds": 60}))).await;
        assert_eq!(status, StatusCode::CREATED);
        server.admin(Method::POST, "/api/v1/scopes", Some(json!({"name": "audit.test"}))).await;
        server.admin(Method::DELETE, &path, None).await;
        let (status, page) = server.admin(Method::GET, "/api/v1/audit-events?limit=4", None).await;
        assert_eq!(status, StatusCode::OK);
        let actions: Vec<&str> = page["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["client.deleted", "scope.created", "client.secret_rotated", "client.updated"]);
        assert!(page["items"].as_array().unwrap().iter().all(|e| e["actor"] == "client:ts_admin_client"));
        let next = page["next_cursor"].as_str().unwrap();
        let (_, older) = server.admin(Method::GET, &format!("/api/v1/audit-events?limit=1&cursor={next}"), None).await;
        assert_eq!(older["items"][0]["action"], "client.created");
        assert_eq!(older["items"][0]["target_id"], id.as_str());
        let (_, everything) = server.admin(Method::GET, "/api/v1/audit-events?limit=200", None).await;
        assert!(!everything.to_string().contains(rotated["client_secret"].as_str().unwrap()));
    }
}
