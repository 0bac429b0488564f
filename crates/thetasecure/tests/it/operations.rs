use std::sync::Arc;

use reqwest::StatusCode;

use crate::support::*;

both_engines! {
    async fn health_readiness_and_metrics(server: TestApp) {
        let health = server.http.get(server.url("/healthz")).send().await.unwrap();
        assert_eq!(health.status(), StatusCode::OK);
        let ready = server.http.get(server.url("/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), StatusCode::OK);
        server.admin_token().await;
        let _ = server.token_response("ts_admin_client", "tss_wrong", None).await;
        let metrics = server.http.get(server.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains(r#"thetasecure_tokens_issued_total{grant_type="client_credentials"}"#), "{metrics}");
        let requests = metrics.lines().find(|l| l.starts_with("thetasecure_http_requests_total") && l.contains(r#"route="/oauth2/token""#) && l.contains(r#"status="401""#));
        assert!(requests.is_some(), "{metrics}");
        assert!(metrics.contains("thetasecure_http_request_duration_seconds_bucket"));
    }

    async fn request_ids_and_oversized_bodies(server: TestApp) {
        let health = server.http.get(server.url("/healthz")).send().await.unwrap();
        let first = health.headers()["x-request-id"].to_str().unwrap().to_owned();
        let health = server.http.get(server.url("/healthz")).send().await.unwrap();
        assert_ne!(health.headers()["x-request-id"].to_str().unwrap(), first, "each request gets its own id");
        let echoed = server.http.get(server.url("/healthz")).header("x-request-id", "caller-chosen-7").send().await.unwrap();
        assert_eq!(echoed.headers()["x-request-id"], "caller-chosen-7");

        let oversized = format!("grant_type=client_credentials&scope={}", "a".repeat(64 * 1024));
        let response = server
            .http
            .post(server.url("/oauth2/token"))
            .basic_auth("ts_admin_client", Some(ADMIN_SECRET))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(oversized)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(response.headers().contains_key("x-request-id"));
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request");
        assert!(body["error_description"].as_str().unwrap().contains("65536 bytes"), "{body}");
    }

    async fn logs_never_carry_secrets_or_tokens(server: TestServer) {
        let (id, secret) = server.machine_client("Logged", "directory.read").await;
        let token = server.token(&id, &secret).await;
        let _ = server.introspect((&id, &secret), &token).await;
        let _ = server.token_response(&id, "tss_wrong-secret-value", None).await;
        let (_, rotated) = server.admin(reqwest::Method::POST, &format!("/api/v1/clients/{id}/secrets"), None).await;
        let rotated = rotated["client_secret"].as_str().unwrap().to_owned();
        let user_password = "a user's long password";
        let (_, user) = server.admin(reqwest::Method::POST, "/api/v1/users", Some(serde_json::json!({"username": "logged", "password": user_password}))).await;
        let user_path = format!("/api/v1/users/{}", user["id"].as_str().unwrap());
        let new_password = "another long password";
        let (status, _) = server.admin(reqwest::Method::PATCH, &user_path, Some(serde_json::json!({"password": new_password}))).await;
        assert_eq!(status, reqwest::StatusCode::OK);
        // A person signs in through the pages; a native app redeems and refreshes.
        use crate::authorization_code::{Browser, authorize_path, callback_query, CALLBACK, DESKTOP, VERIFIER};
        let mut browser = Browser::new(&server);
        let login = browser.get(&authorize_path(DESKTOP, &[])).await.location();
        let signed_in = browser.sign_in(&login, "logged", new_password).await;
        let code = callback_query(&browser.get(&signed_in.location()).await.location())["code"].clone();
        let redeemed: serde_json::Value = server.http.post(server.url("/oauth2/token"))
            .form(&[("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", CALLBACK), ("code_verifier", VERIFIER), ("client_id", DESKTOP)])
            .send().await.unwrap().json().await.unwrap();
        let user_refresh = redeemed["refresh_token"].as_str().unwrap().to_owned();
        let user_access = redeemed["access_token"].as_str().unwrap().to_owned();
        let refreshed: serde_json::Value = server.http.post(server.url("/oauth2/token"))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", user_refresh.as_str()), ("client_id", DESKTOP)])
            .send().await.unwrap().json().await.unwrap();
        let next_refresh = refreshed["refresh_token"].as_str().unwrap().to_owned();
        let session = browser.cookies["ts_session"].clone();
        let csrf = browser.cookies["ts_csrf"].clone();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let logs = server.stderr().join("\n");
        assert!(logs.contains("client created"), "the log records changes: {logs}");
        assert!(logs.contains("token issued"), "debug lines are included: {logs}");
        for needle in [secret.as_str(), rotated.as_str(), token.as_str(), ADMIN_SECRET, "tss_wrong-secret-value", ADMIN_PASSWORD, user_password, new_password, &code, &user_refresh, &user_access, &next_refresh, &session, &csrf] {
            assert!(!logs.contains(needle), "log leaks {needle}");
        }
        // The signature part alone never appears either.
        assert!(!logs.contains(token.rsplit('.').next().unwrap()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_listener_can_be_separate() {
    let Some(place) = Place::new(Engine::Sqlite).await else {
        return;
    };
    let server = TestServer::start_with(
        Arc::new(place),
        true,
        &[("THETASECURE_ADMIN_LISTEN", "127.0.0.1:0")],
    )
    .await;
    let token = server.admin_token().await;
    let on_public = server
        .http
        .get(server.url("/api/v1/clients"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(on_public.status(), StatusCode::NOT_FOUND);
    let admin_base = server
        .stdout()
        .iter()
        .filter_map(|l| l.strip_prefix("thetasecure listening on "))
        .nth(1)
        .expect("second listener")
        .to_owned();
    let on_admin = server
        .http
        .get(format!("{admin_base}/api/v1/clients"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(on_admin.status(), StatusCode::OK);
    let metrics = server
        .http
        .get(format!("{admin_base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
}
