//! Test support: the real `thetasecure` binary started on a random port against a fresh
//! SQLite file or PostgreSQL schema, and an HTTP client to talk to it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Client as Http, Response, StatusCode};
use serde_json::{Value, json};
pub use thetasecure_store::Engine;
use thetasecure_store::testing::TestDatabase;

pub const ADMIN_SECRET: &str = "tss_test-admin-secret-0123456789abcdefghijklmnop";
pub const SYNC_SECRET: &str = "tss_test-sync-secret-0123456789abcdefghijklmnopq";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// Generates `<name>_sqlite` and `<name>_postgres` tests running the same async body.
macro_rules! both_engines {
    ($($(#[$doc:meta])* async fn $name:ident($server:ident: TestServer) $body:block)+) => {
        $(
            $(#[$doc])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn case($server: crate::support::TestServer) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    if let Some(server) = crate::support::TestServer::start(crate::support::Engine::Sqlite).await {
                        case(server).await;
                    }
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(server) = crate::support::TestServer::start(crate::support::Engine::Postgres).await {
                        case(server).await;
                    }
                }
            }
        )+
    };
}
pub(crate) use both_engines;

/// Where a server keeps its state; outlives restarts of the process.
pub struct Place {
    pub database: TestDatabase,
    pub data_dir: tempfile::TempDir,
}

impl Place {
    pub async fn new(engine: Engine) -> Option<Place> {
        let database = TestDatabase::new(engine).await?;
        let data_dir = tempfile::tempdir().expect("temp dir");
        Some(Place { database, data_dir })
    }

    /// A `thetasecure` command on this place's store and data directory.
    pub fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_thetasecure"));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("THETASECURE_DATA_DIR", self.data_dir.path())
            .env("THETASECURE_DATABASE_URL", self.database.url())
            // Debug for our crates and sqlx, so the no-secrets-in-logs test sees everything.
            .env("THETASECURE_LOG_LEVEL", "info,thetasecure=debug,thetasecure_web=debug,thetasecure_app=debug,thetasecure_store=debug,sqlx=debug");
        command
    }
}

/// A running server process; killed (SIGKILL) when dropped.
pub struct TestServer {
    pub place: Arc<Place>,
    pub base: String,
    pub http: Http,
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl TestServer {
    /// A server with known bootstrap secrets on a fresh store.
    pub async fn start(engine: Engine) -> Option<TestServer> {
        let place = Arc::new(Place::new(engine).await?);
        Some(Self::start_on(place, true).await)
    }

    /// Starts the binary on `place`; `known_secrets` supplies the bootstrap variables.
    pub async fn start_on(place: Arc<Place>, known_secrets: bool) -> TestServer {
        Self::start_with(place, known_secrets, &[]).await
    }

    pub async fn start_with(
        place: Arc<Place>,
        known_secrets: bool,
        extra_env: &[(&str, &str)],
    ) -> TestServer {
        let mut command = place.command();
        command
            .arg("serve")
            .env("THETASECURE_LISTEN", "127.0.0.1:0");
        if known_secrets {
            command
                .env("THETASECURE_BOOTSTRAP_ADMIN_CLIENT_SECRET", ADMIN_SECRET)
                .env("THETASECURE_BOOTSTRAP_SYNC_CLIENT_SECRET", SYNC_SECRET)
                .env("THETASECURE_BOOTSTRAP_ADMIN_PASSWORD", ADMIN_PASSWORD);
        }
        for (name, value) in extra_env {
            command.env(name, value);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start thetasecure");
        let stdout = capture(child.stdout.take().expect("stdout"));
        let stderr = capture(child.stderr.take().expect("stderr"));
        let mut base = None;
        for _ in 0..600 {
            if let Some(line) = stdout
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.starts_with("thetasecure listening on "))
            {
                base = Some(
                    line.trim_start_matches("thetasecure listening on ")
                        .to_owned(),
                );
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "server exited with {status}: {}",
                    stderr.lock().unwrap().join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let base = base.unwrap_or_else(|| {
            panic!(
                "server did not start: {}",
                stderr.lock().unwrap().join("\n")
            )
        });
        let http = Http::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client");
        TestServer {
            place,
            base,
            http,
            child,
            stdout,
            stderr,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill(mut self) -> Arc<Place> {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
        self.place.clone()
    }

    /// SIGTERM, then wait for a clean exit.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        for _ in 0..200 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("server did not stop after SIGTERM");
    }

    /// Client credentials token with `client_secret_basic`.
    pub async fn token_response(
        &self,
        client_id: &str,
        secret: &str,
        scope: Option<&str>,
    ) -> Response {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        self.http
            .post(self.url("/oauth2/token"))
            .basic_auth(client_id, Some(secret))
            .form(&form)
            .send()
            .await
            .expect("token request")
    }

    /// Changes made elsewhere (the CLI, another instance) are enforced within a second
    /// (SPEC 1): polls the token endpoint for up to 1.5 s until it answers `expected`.
    /// Slowly, because failed attempts count towards the brute-force throttle.
    pub async fn token_status_within_a_second(
        &self,
        client_id: &str,
        secret: &str,
        expected: StatusCode,
    ) {
        let deadline = std::time::Instant::now() + Duration::from_millis(1500);
        loop {
            let status = self.token_response(client_id, secret, None).await.status();
            if status == expected {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{client_id}: still {status}, expected {expected}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    pub async fn token(&self, client_id: &str, secret: &str) -> String {
        let response = self.token_response(client_id, secret, None).await;
        assert_eq!(response.status(), StatusCode::OK, "token for {client_id}");
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// A GET that must answer 200 with JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.http.get(self.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.unwrap()
    }

    pub async fn jwks(&self) -> Value {
        self.get_json("/oauth2/jwks").await
    }

    pub async fn openapi_document(&self) -> Value {
        self.get_json("/api/v1/openapi.json").await
    }

    pub async fn admin_token(&self) -> String {
        self.token("ts_admin_client", ADMIN_SECRET).await
    }

    /// An admin API request with a fresh admin token.
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let token = self.admin_token().await;
        let mut request = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("admin request");
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            },
        )
    }

    pub async fn create_client(&self, body: Value) -> Value {
        let (status, created) = self
            .admin(reqwest::Method::POST, "/api/v1/clients", Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        created
    }

    /// A confidential client_credentials client with `scope`; returns (client_id, secret).
    pub async fn machine_client(&self, name: &str, scope: &str) -> (String, String) {
        let created = self
            .create_client(
                json!({"client_name": name, "grant_types": ["client_credentials"], "scope": scope}),
            )
            .await;
        (
            created["client_id"].as_str().unwrap().to_owned(),
            created["client_secret"].as_str().unwrap().to_owned(),
        )
    }

    pub async fn introspect(&self, caller: (&str, &str), token: &str) -> Value {
        let response = self
            .http
            .post(self.url("/oauth2/introspect"))
            .basic_auth(caller.0, Some(caller.1))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn capture(stream: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

/// Runs the CLI against `place`, returning (success, stdout, stderr).
pub fn cli(place: &Place, args: &[&str]) -> (bool, String, String) {
    let output = place
        .command()
        .args(args)
        .output()
        .expect("run thetasecure");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
