//! The pages people see, in real headless Chromium: Debian's `/usr/bin/chromium` driven
//! by playwright-core. Each case starts a `TestApp`, prepares its flow through the admin
//! API, and runs one Node script of `tests/browser/` against it; the scripts hold every
//! page they visit to the same bar (`harness.mjs`: CSP without `unsafe-inline`, no console
//! error, no request off the server's origin, an axe-core scan) and save its screenshots
//! under `target/screenshots/`. `npm ci` at the workspace root installs playwright-core
//! and axe-core from `package-lock.json`; nothing is downloaded at test time.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::support::*;

/// A whole script (Chromium's start, each page's scan and screenshots) on a shared machine.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `THETASECURE_CHROMIUM`, or Debian's package's binary.
fn chromium() -> PathBuf {
    std::env::var_os("THETASECURE_CHROMIUM")
        .filter(|path| !path.is_empty())
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// Whether node, the npm packages and Chromium are all here. When one is missing the case
/// is skipped with the reason printed, and with `CI=true` it fails instead (as the
/// PostgreSQL cases do), so CI cannot skip the browser.
fn browser_available() -> bool {
    let node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    let modules = workspace().join("node_modules");
    let missing = [
        (!node, "`node` is not on PATH".to_owned()),
        (
            !modules.join("playwright-core/package.json").is_file()
                || !modules.join("axe-core/axe.min.js").is_file(),
            format!(
                "{} lacks playwright-core or axe-core: run `npm ci` at the workspace root",
                modules.display()
            ),
        ),
        (
            !chromium().is_file(),
            format!(
                "{} is missing: `apt-get install chromium`",
                chromium().display()
            ),
        ),
    ];
    let Some((_, reason)) = missing.into_iter().find(|(missing, _)| *missing) else {
        return true;
    };
    if std::env::var("CI").is_ok_and(|ci| ci == "true") {
        panic!("{reason}, but CI=true: the browser tests must run in CI");
    }
    eprintln!("skipping the browser test: {reason}");
    false
}

/// Runs `tests/browser/<script>` against `server` with `settings` added to the scripts'
/// common ones; fails with the script's output when it fails.
async fn run_script(server: &TestApp, script: &str, settings: &[(&str, &str)]) {
    let screenshots = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .join("screenshots");
    let mut command = tokio::process::Command::new("node");
    command
        .arg(
            workspace()
                .join("crates/thetasecure/tests/browser")
                .join(script),
        )
        .current_dir(workspace())
        .env("THETASECURE_BASE_URL", &server.base)
        .env("THETASECURE_ADMIN_USERNAME", "admin")
        .env("THETASECURE_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("THETASECURE_SCREENSHOTS", &screenshots)
        .env("THETASECURE_CHROMIUM", chromium())
        .envs(settings.iter().copied())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(SCRIPT_TIMEOUT, command.output())
        .await
        .unwrap_or_else(|_| panic!("{script} did not finish within {SCRIPT_TIMEOUT:?}"))
        .unwrap_or_else(|error| panic!("run node {script}: {error}"));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(
        output.status.success(),
        "{script} on {:?} failed ({}):\n{stdout}{stderr}",
        server.engine(),
        output.status,
    );
    // Shown with --nocapture: the axe-core notes below the serious level, among others.
    print!("{stdout}");
}

/// The application a flow ends at, on loopback: whatever it is asked, a blank page, so that
/// the browser arrives somewhere real (the script records where) and never leaves the
/// machine. Stops when dropped.
struct Application {
    origin: String,
    served: JoinHandle<()>,
}

impl Application {
    async fn start() -> Application {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let served = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    // The request head; what it asks does not change the answer.
                    let mut head = [0_u8; 16 * 1024];
                    let _ = stream.read(&mut head).await;
                    let body = "<!doctype html><html lang=en><title>Application</title>\
                                <p>Back at the application.";
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\n\
                         content-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                });
            }
        });
        Application { origin, served }
    }

    fn callback(&self) -> String {
        format!("{}/callback", self.origin)
    }

    fn signed_out(&self) -> String {
        format!("{}/signed-out", self.origin)
    }

    /// Registers it as a public code-flow client that asks for consent and may send users
    /// back after logout; its client_id.
    async fn register(&self, server: &TestApp) -> String {
        let created = server
            .create_client(json!({
                "client_name": "Browser Demo", "grant_types": ["authorization_code"],
                "token_endpoint_auth_method": "none", "redirect_uris": [self.callback()],
                "post_logout_redirect_uris": [self.signed_out()], "scope": "openid profile",
                "require_user_consent": true,
            }))
            .await;
        created["client_id"].as_str().unwrap().to_owned()
    }
}

impl Drop for Application {
    fn drop(&mut self) {
        self.served.abort();
    }
}

/// The bootstrap admin's `what` (`sessions`, `consents`) as the admin API lists them.
async fn of_the_admin(server: &TestApp, what: &str) -> serde_json::Value {
    let (_, users) = server
        .admin(Method::GET, "/api/v1/users?search=admin", None)
        .await;
    let user = users["items"][0]["id"].as_str().unwrap();
    let path = format!("/api/v1/users/{user}/{what}");
    let (status, listed) = server.admin(Method::GET, &path, None).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{path}: {listed}");
    listed
}

/// Thirty days of the Sync Connector's tokens, a working week's rhythm with a quiet
/// spell, so the details panel's usage chart has something to show: the clock moves a
/// day at a time, and the console is opened on the last. Returns how many were issued.
async fn a_month_of_sync_tokens(server: &TestApp) -> u64 {
    let mut issued = 0;
    for day in 0_u64..30 {
        let tokens = match day {
            12..=14 => 0,
            _ if day % 7 >= 5 => 2,
            _ => 6 + (day * 7) % 11,
        };
        for _ in 0..tokens {
            server.token("ts_sync_client", SYNC_SECRET).await;
        }
        issued += tokens;
        if day < 29 {
            server.advance_seconds(86_400);
        }
    }
    server.flush_notes().await;
    issued
}

both_engines! {
    async fn sign_in_and_error_pages_in_chromium(server: TestApp) {
        if browser_available() {
            run_script(&server, "sign_in.mjs", &[]).await;
        }
    }

    async fn authorization_code_with_consent_in_chromium(server: TestApp) {
        if !browser_available() {
            return;
        }
        let application = Application::start().await;
        let client_id = application.register(&server).await;
        run_script(&server, "authorization_code.mjs", &[
            ("THETASECURE_CLIENT_ID", &client_id),
            ("THETASECURE_REDIRECT_URI", &application.callback()),
        ]).await;
        // The store's side: the consent given on the page is the admin's, for what was asked.
        let consents = of_the_admin(&server, "consents").await;
        assert_eq!(consents["items"].as_array().unwrap().len(), 1, "{consents}");
        assert_eq!(consents["items"][0]["client_id"], client_id.as_str());
        assert_eq!(consents["items"][0]["scope"], "openid profile");
    }

    async fn logout_in_chromium(server: TestApp) {
        if !browser_available() {
            return;
        }
        let application = Application::start().await;
        let client_id = application.register(&server).await;
        run_script(&server, "logout.mjs", &[
            ("THETASECURE_CLIENT_ID", &client_id),
            ("THETASECURE_POST_LOGOUT_REDIRECT_URI", &application.signed_out()),
        ]).await;
        // Every session the browser started has ended on the server.
        let sessions = of_the_admin(&server, "sessions").await;
        assert_eq!(sessions["items"].as_array().unwrap().len(), 0, "{sessions}");
    }

    async fn the_console_in_chromium(server: TestApp) {
        if !browser_available() {
            return;
        }
        let (status, created) = server.admin(Method::POST, "/api/v1/users", Some(json!({
            "username": "grace", "password": "not an admin password", "display_name": "Grace",
        }))).await;
        assert_eq!(status, reqwest::StatusCode::CREATED, "{created}");
        let issued = a_month_of_sync_tokens(&server).await;
        run_script(&server, "console.mjs", &[
            ("THETASECURE_SYNC_TOKENS_ISSUED", &issued.to_string()),
            ("THETASECURE_USER_USERNAME", "grace"),
            ("THETASECURE_USER_PASSWORD", "not an admin password"),
        ]).await;
        // The store's side: what the page did was done by the admin.
        let (_, events) = server.admin(Method::GET, "/api/v1/audit-events?actor=user:admin&action=client.deleted", None).await;
        assert_eq!(events["items"].as_array().unwrap().len(), 1, "{events}");
    }
}
