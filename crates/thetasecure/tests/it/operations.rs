use std::sync::Arc;

use reqwest::StatusCode;

use crate::support::*;

both_engines! {
    async fn health_readiness_and_metrics(server: TestServer) {
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

    async fn logs_never_carry_secrets_or_tokens(server: TestServer) {
        let (id, secret) = server.machine_client("Logged", "directory.read").await;
        let token = server.token(&id, &secret).await;
        let _ = server.introspect((&id, &secret), &token).await;
        let _ = server.token_response(&id, "tss_wrong-secret-value", None).await;
        let (_, rotated) = server.admin(reqwest::Method::POST, &format!("/api/v1/clients/{id}/secrets"), None).await;
        let rotated = rotated["client_secret"].as_str().unwrap().to_owned();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let logs = server.stderr().join("\n");
        assert!(logs.contains("client created"), "the log records changes: {logs}");
        assert!(logs.contains("token issued"), "debug lines are included: {logs}");
        for needle in [secret.as_str(), rotated.as_str(), token.as_str(), ADMIN_SECRET, "tss_wrong-secret-value", ADMIN_PASSWORD] {
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
