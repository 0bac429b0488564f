use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::*;

async fn from_empty(engine: Engine) {
    let Some(place) = Place::new(engine).await else {
        return;
    };
    let place = Arc::new(place);
    let server = TestServer::start_on(place.clone(), false).await;
    let stdout = server.stdout();
    let printed = |label: &str| {
        stdout
            .iter()
            .find_map(|line| line.strip_prefix(&format!("{label}=")))
            .unwrap_or_else(|| panic!("{label} not printed: {stdout:?}"))
            .to_owned()
    };
    let admin_secret = printed("THETASECURE_BOOTSTRAP_ADMIN_CLIENT_SECRET");
    let sync_secret = printed("THETASECURE_BOOTSTRAP_SYNC_CLIENT_SECRET");
    let password = printed("THETASECURE_BOOTSTRAP_ADMIN_PASSWORD");
    assert!(admin_secret.starts_with("tss_") && admin_secret.len() == 47);
    assert!(password.len() >= 12);

    let token = server.token("ts_admin_client", &admin_secret).await;
    let sync_token = server
        .token_response("ts_sync_client", &sync_secret, None)
        .await;
    assert_eq!(sync_token.status(), StatusCode::OK);
    let response = server
        .http
        .get(server.url("/api/v1/clients"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let listing: Value = response.json().await.unwrap();
    let mut defaults: Vec<(String, String, String, String)> = listing["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["is_default"], true);
            (
                c["client_id"].as_str().unwrap().to_owned(),
                c["client_name"].as_str().unwrap().to_owned(),
                c["grant_types"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|g| g.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join(","),
                c["token_endpoint_auth_method"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    defaults.sort();
    let expected = [
        (
            "thetasecure-desktop-agent",
            "ThetaSecure Desktop Agent",
            "authorization_code,refresh_token",
            "none",
        ),
        (
            "thetasecure-mobile-app",
            "ThetaSecure Mobile App",
            "authorization_code,refresh_token",
            "none",
        ),
        (
            "ts_admin_client",
            "Admin Client",
            "client_credentials",
            "client_secret_basic",
        ),
        (
            "ts_sync_client",
            "Sync Service Client",
            "client_credentials",
            "client_secret_basic",
        ),
    ];
    let expected: Vec<(String, String, String, String)> = expected
        .iter()
        .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
        .collect();
    assert_eq!(defaults, expected);

    let scopes: Value = server
        .http
        .get(server.url("/api/v1/scopes"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = scopes["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for builtin in [
        "openid",
        "profile",
        "email",
        "offline_access",
        "admin",
        "introspect",
        "directory.read",
        "directory.write",
    ] {
        assert!(names.contains(&builtin), "{builtin} missing from {names:?}");
    }

    // A restart provisions nothing and prints no secret again; the old secret still works.
    let place = server.kill();
    let again = TestServer::start_on(place, false).await;
    assert!(
        again.stdout().iter().all(|line| !line.contains("tss_")),
        "{:?}",
        again.stdout()
    );
    again.token("ts_admin_client", &admin_secret).await;
    // Secrets are never logged.
    for line in again.stderr() {
        assert!(!line.contains(&admin_secret) && !line.contains(&password));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_empty_store_sqlite() {
    from_empty(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_empty_store_postgres() {
    from_empty(Engine::Postgres).await;
}

/// Two instances starting together on one empty PostgreSQL database migrate and
/// provision once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_start_together_on_postgres() {
    let Some(place) = Place::new(Engine::Postgres).await else {
        return;
    };
    let place = Arc::new(place);
    let (a, b) = tokio::join!(
        TestServer::start_on(place.clone(), true),
        TestServer::start_on(place.clone(), true)
    );
    for server in [&a, &b] {
        let (status, listing) = server
            .admin(reqwest::Method::GET, "/api/v1/clients", None)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(listing["items"].as_array().unwrap().len(), 4, "{listing}");
    }
    // A client created through one instance is visible through the other at once, and a
    // change made through one is enforced by the other within a second (SPEC 1).
    let (id, secret) = a.machine_client("Shared", "directory.read").await;
    b.token(&id, &secret).await;
    let (status, _) = a
        .admin(
            reqwest::Method::PATCH,
            &format!("/api/v1/clients/{id}"),
            Some(serde_json::json!({"status": "disabled"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    b.token_status_within_a_second(&id, &secret, StatusCode::UNAUTHORIZED)
        .await;

    // A token revoked through one instance is inactive at the other within a second,
    // while that one keeps introspecting it (its cached state is refreshed as it ages).
    let token = a.token("ts_admin_client", ADMIN_SECRET).await;
    let caller = ("ts_admin_client", ADMIN_SECRET);
    assert_eq!(b.introspect(caller, &token).await["active"], true);
    let revoked = a
        .http
        .post(a.url("/oauth2/revoke"))
        .basic_auth(caller.0, Some(caller.1))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    let revoked_at = std::time::Instant::now();
    while b.introspect(caller, &token).await["active"] == true {
        assert!(
            revoked_at.elapsed() < std::time::Duration::from_millis(1500),
            "still active at the other instance"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Container platforms mount secrets as files: every bootstrap secret may be given as
/// `…_FILE`, and the server uses the file's contents (one trailing newline dropped).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_secrets_may_come_from_files() {
    let Some(place) = Place::new(Engine::Sqlite).await else {
        return;
    };
    let files = tempfile::tempdir().unwrap();
    let write = |name: &str, value: &str| {
        let path = files.path().join(name);
        std::fs::write(&path, format!("{value}\n")).unwrap();
        path.display().to_string()
    };
    let admin_secret = write("admin", ADMIN_SECRET);
    let sync_secret = write("sync", SYNC_SECRET);
    let password = write("password", ADMIN_PASSWORD);
    let server = TestServer::start_with(
        Arc::new(place),
        false,
        &[
            (
                "THETASECURE_BOOTSTRAP_ADMIN_CLIENT_SECRET_FILE",
                &admin_secret,
            ),
            (
                "THETASECURE_BOOTSTRAP_SYNC_CLIENT_SECRET_FILE",
                &sync_secret,
            ),
            ("THETASECURE_BOOTSTRAP_ADMIN_PASSWORD_FILE", &password),
        ],
    )
    .await;
    server.token("ts_admin_client", ADMIN_SECRET).await;
    server.token("ts_sync_client", SYNC_SECRET).await;
    let stdout = server.stdout().join("\n");
    assert!(
        !stdout.contains("THETASECURE_BOOTSTRAP"),
        "nothing was generated, so nothing is printed: {stdout}"
    );
    // The password too: the admin user signs in with it once sign-in exists (#13); for
    // now, that it was taken is shown by nothing having been generated.
}

/// An unusable bootstrap value is the operator's mistake: a one-line startup error that
/// names the variable, not an internal error, and nothing is provisioned.
#[tokio::test]
async fn a_too_short_bootstrap_secret_names_its_variable() {
    let Some(place) = Place::new(Engine::Sqlite).await else {
        return;
    };
    let output = place
        .command()
        .env("THETASECURE_BOOTSTRAP_ADMIN_PASSWORD", "short")
        .args(["clients", "list"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let error = stderr
        .lines()
        .find(|line| line.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line: {stderr}"));
    assert!(
        error.contains("THETASECURE_BOOTSTRAP_ADMIN_PASSWORD") && !error.contains("internal"),
        "{error}"
    );
    // Nothing was provisioned: the next start is still the first, and says so.
    let (ok, stdout, stderr) = cli(&place, &["clients", "list"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("first start"), "{stdout}");
}
