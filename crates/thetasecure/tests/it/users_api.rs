//! The users admin API (SPEC 4) and `thetasecure users …`, on both engines.

use std::io::Write;
use std::process::Stdio;
use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

const ALICE_PASSWORD: &str = "alice's long password";
const NEW_PASSWORD: &str = "a brand new passphrase";

fn refusal(status: StatusCode, body: &Value) -> (StatusCode, &str, &str) {
    (
        status,
        body["error"].as_str().unwrap_or_default(),
        body["error_description"].as_str().unwrap_or_default(),
    )
}

both_engines! {
    async fn users_are_created_found_changed_and_deleted(server: TestApp) {
        let token = server.admin_token().await;
        let response = server
            .http
            .post(server.url("/api/v1/users"))
            .bearer_auth(&token)
            .json(&json!({"username": "Alice", "password": ALICE_PASSWORD, "email": "alice@example.com", "display_name": " Alice Ämple ", "id": null}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        let alice: Value = response.json().await.unwrap();
        let id = alice["id"].as_str().unwrap().to_owned();
        assert_eq!(location, format!("/api/v1/users/{id}"));
        assert_eq!(alice["username"], "Alice");
        assert_eq!(alice["display_name"], "Alice Ämple");
        assert_eq!(alice["status"], "active");
        assert_eq!(alice["is_admin"], false);
        assert!(alice.get("password").is_none() && alice.get("password_hash").is_none(), "{alice}");

        // Each refusal names its field and changes nothing.
        for (body, status, code, says) in [
            (json!({"username": "ALICE", "password": ALICE_PASSWORD}), StatusCode::CONFLICT, "conflict", "username `ALICE` is taken"),
            (json!({"username": "bob", "password": "too short"}), StatusCode::BAD_REQUEST, "invalid_request", "password must be at least 12 characters"),
            (json!({"username": "bob"}), StatusCode::BAD_REQUEST, "invalid_request", "password is required"),
            (json!({"username": "bo b", "password": ALICE_PASSWORD}), StatusCode::BAD_REQUEST, "invalid_request", "username may hold letters, digits and . _ - @ + only, not ` ` (U+0020)"),
            (json!({"username": "bob", "password": ALICE_PASSWORD, "is_admin": "yes"}), StatusCode::BAD_REQUEST, "invalid_request", "is_admin must be a boolean"),
            (json!({"username": "bob", "password": ALICE_PASSWORD, "id": "mine"}), StatusCode::BAD_REQUEST, "invalid_request", "id is read-only"),
            (json!({"username": "bob", "password": ALICE_PASSWORD, "role": "root"}), StatusCode::BAD_REQUEST, "invalid_request", "unknown field `role`"),
            (json!({"username": "bob", "password": ALICE_PASSWORD, "email": "bob"}), StatusCode::BAD_REQUEST, "invalid_request", "email `bob` is not an e-mail address"),
        ] {
            let (got, refused) = server.admin(Method::POST, "/api/v1/users", Some(body.clone())).await;
            assert_eq!(refusal(got, &refused), (status, code, says), "{body}");
        }

        let (_, listed) = server.admin(Method::GET, "/api/v1/users", None).await;
        let names: Vec<&str> = listed["items"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
        assert_eq!(names, ["Alice", "admin"], "newest first, the bootstrap admin included");
        let (_, found) = server.admin(Method::GET, "/api/v1/users?search=%C3%A4MPLE", None).await;
        assert_eq!(found["items"].as_array().unwrap().len(), 1, "{found}");
        assert_eq!(found["items"][0]["id"], id.as_str());
        let (_, page) = server.admin(Method::GET, "/api/v1/users?limit=1", None).await;
        let cursor = page["next_cursor"].as_str().unwrap();
        let (_, rest) = server.admin(Method::GET, &format!("/api/v1/users?limit=1&cursor={cursor}"), None).await;
        assert_eq!(rest["items"][0]["username"], "admin");
        assert_eq!(rest["next_cursor"], Value::Null);
        let (status, bad) = server.admin(Method::GET, "/api/v1/users?status=asleep", None).await;
        assert_eq!(refusal(status, &bad).2, "status must be one of: active, disabled");

        let (status, fetched) = server.admin(Method::GET, &location, None).await;
        assert_eq!((status, &fetched), (StatusCode::OK, &alice));
        let (status, missing) = server.admin(Method::GET, "/api/v1/users/01890000-0000-7000-8000-000000000000", None).await;
        assert_eq!(refusal(status, &missing), (StatusCode::NOT_FOUND, "not_found", "user not found"));

        server.advance_seconds(1);
        let (status, patched) = server
            .admin(Method::PATCH, &location, Some(json!({"email": null, "is_admin": true, "password": NEW_PASSWORD})))
            .await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!(patched["email"], Value::Null);
        assert_eq!(patched["is_admin"], true);
        assert_eq!(patched["username"], "Alice");
        assert_ne!(patched["updated_at"], alice["updated_at"]);
        assert_eq!(patched["updated_at"], server.now().to_rfc3339().as_str());
        let (status, refused) = server.admin(Method::PATCH, &location, Some(json!({"password": null}))).await;
        assert_eq!(refusal(status, &refused).2, "password cannot be removed, only replaced");

        // The audit log names the password as changed and never holds it (the server log
        // is checked in `operations::logs_never_carry_secrets_or_tokens`).
        let (_, audit) = server.admin(Method::GET, "/api/v1/audit-events", None).await;
        let entry = audit["items"].as_array().unwrap().iter().find(|e| e["action"] == "user.updated").unwrap();
        assert_eq!(entry["target_id"], id.as_str());
        assert_eq!(entry["details"]["fields"], json!(["email", "is_admin", "password"]));
        for password in [ALICE_PASSWORD, NEW_PASSWORD] {
            assert!(!audit.to_string().contains(password), "a password in the audit log");
        }

        // The bootstrap admin is the last active admin once Alice is gone.
        let (status, _) = server.admin(Method::DELETE, &location, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = server.admin(Method::GET, &location, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let admin = listed["items"][1]["id"].as_str().unwrap();
        let last = "this is the last active admin user; make another user an admin first";
        let (status, refused) = server.admin(Method::PATCH, &format!("/api/v1/users/{admin}"), Some(json!({"status": "disabled"}))).await;
        assert_eq!(refusal(status, &refused), (StatusCode::CONFLICT, "conflict", last));
        let (status, refused) = server.admin(Method::DELETE, &format!("/api/v1/users/{admin}"), None).await;
        assert_eq!(refusal(status, &refused), (StatusCode::CONFLICT, "conflict", last));
    }

    async fn users_need_an_admin_token(server: TestApp) {
        let response = server.http.get(server.url("/api/v1/users")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let (client_id, secret) = server.machine_client("not admin", "directory.read").await;
        let token = server.token(&client_id, &secret).await;
        let response = server.http.post(server.url("/api/v1/users")).bearer_auth(token)
            .json(&json!({"username": "mallory", "password": ALICE_PASSWORD, "is_admin": true}))
            .send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let (_, listed) = server.admin(Method::GET, "/api/v1/users?search=mallory", None).await;
        assert_eq!(listed["items"], json!([]));
    }
}

/// Runs `thetasecure users …` with `stdin` on its standard input.
fn users_cli(place: &Place, args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = place
        .command()
        .arg("users")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run thetasecure");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The JSON a `--json` command printed after any first-start banner.
fn printed_json(stdout: &str) -> Value {
    let start = stdout
        .find('{')
        .unwrap_or_else(|| panic!("no JSON in {stdout}"));
    serde_json::from_str(&stdout[start..]).unwrap()
}

async fn users_commands(engine: Engine) {
    let Some(place) = Place::new(engine).await else {
        return;
    };
    let place = Arc::new(place);
    // Provisioned by the server, with known secrets; the CLI works on the same store.
    let server = TestServer::start_on(place.clone(), true).await;
    let (ok, stdout, stderr) = users_cli(
        &place,
        &[
            "create",
            "--username",
            "bob",
            "--email",
            "bob@example.com",
            "--json",
        ],
        &format!("{ALICE_PASSWORD}\n"),
    );
    assert!(ok, "{stderr}");
    let bob = printed_json(&stdout);
    assert_eq!(bob["username"], "bob");
    assert_eq!(bob["is_admin"], false);
    assert!(!stdout.contains(ALICE_PASSWORD));

    let (ok, _, stderr) = users_cli(&place, &["create", "--username", "carol"], "short\n");
    assert!(!ok);
    assert!(
        stderr.contains("password must be at least 12 characters"),
        "{stderr}"
    );
    let (ok, _, stderr) = users_cli(&place, &["create", "--username", "carol"], "");
    assert!(!ok);
    assert!(stderr.contains("no password on standard input"), "{stderr}");

    let (ok, stdout, _) = users_cli(&place, &["list"], "");
    assert!(ok);
    let header = stdout.lines().next().unwrap();
    assert!(
        header.starts_with("ID") && header.contains("USERNAME"),
        "{stdout}"
    );
    assert!(
        stdout.contains("bob@example.com") && stdout.contains("admin"),
        "{stdout}"
    );
    assert!(!stdout.contains("carol"));

    let (ok, _, stderr) = users_cli(
        &place,
        &["set-password", "BOB"],
        &format!("{NEW_PASSWORD}\r\n"),
    );
    assert!(ok, "{stderr}");
    let (ok, stdout, _) = users_cli(&place, &["disable", "bob", "--json"], "");
    assert!(ok);
    assert_eq!(printed_json(&stdout)["status"], "disabled");
    let id = bob["id"].as_str().unwrap();
    let (ok, stdout, _) = users_cli(&place, &["get", id, "--json"], "");
    assert!(ok);
    assert_eq!(printed_json(&stdout)["status"], "disabled");

    // What the CLI did, the API sees, audited as the CLI's.
    let (_, audit) = server
        .admin(Method::GET, "/api/v1/audit-events", None)
        .await;
    let actions: Vec<(&str, &str)> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target_id"] == id)
        .map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    // A new password and a disabled account each end the user's sessions and refresh tokens.
    let signed_out = [
        ("user.refresh_tokens_revoked", "cli"),
        ("user.sessions_revoked", "cli"),
        ("user.updated", "cli"),
    ];
    let expected: Vec<(&str, &str)> =
        [&signed_out[..], &signed_out[..], &[("user.created", "cli")]].concat();
    assert_eq!(actions, expected);

    let (ok, stdout, _) = users_cli(&place, &["delete", "bob"], "");
    assert!(ok && stdout.contains("deleted bob"), "{stdout}");
    let (ok, _, stderr) = users_cli(&place, &["get", "bob"], "");
    assert!(!ok && stderr.contains("user not found"), "{stderr}");
    let (ok, _, stderr) = users_cli(&place, &["delete", "admin"], "");
    assert!(!ok && stderr.contains("last active admin"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_commands_sqlite() {
    users_commands(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_commands_postgres() {
    users_commands(Engine::Postgres).await;
}
