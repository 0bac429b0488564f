//! Test support. Two ways to run the server, one way to talk to it:
//! - [`TestApp`] (`in_process`): the real router served on a random port inside the test
//!   process, on a fresh SQLite file or PostgreSQL schema, with a clock the case moves.
//!   Every case that does not need a process of its own runs here.
//! - [`TestServer`] (`process`): the real `thetasecure` binary, for what only a process
//!   shows: its stdout and logs, signals, restarts, two instances, the CLI.
//!
//! Both deref to [`Api`], which holds the HTTP helpers, so a case reads the same on either.

use std::time::Duration;

use reqwest::{Client as Http, Response, StatusCode};
use serde_json::{Value, json};
pub use thetasecure_store::Engine;

mod in_process;
mod process;

pub use in_process::{ISSUER, TestApp, TestAppBuilder};
pub use process::{Place, TestServer, cli};

pub const ADMIN_SECRET: &str = "tss_test-admin-secret-0123456789abcdefghijklmnop";
pub const SYNC_SECRET: &str = "tss_test-sync-secret-0123456789abcdefghijklmnopq";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// Generates `<name>::sqlite` and `<name>::postgres` tests running the same async body on
/// a fresh server of the given kind (`TestApp` or `TestServer`) for each engine. A case
/// that needs settings other than the defaults names them with a builder function:
/// `async fn case(server: TestApp with |app| app.issuer("https://id.example")) { … }`.
macro_rules! both_engines {
    () => {};
    ($(#[$doc:meta])* async fn $name:ident($server:ident: TestApp with $configure:expr) $body:block $($rest:tt)*) => {
        $crate::support::both_engines!(@case $(#[$doc])* $name($server: TestApp)
            |engine| $crate::support::TestApp::configured(engine, $configure);
            $body);
        $crate::support::both_engines!($($rest)*);
    };
    ($(#[$doc:meta])* async fn $name:ident($server:ident: $kind:ident) $body:block $($rest:tt)*) => {
        $crate::support::both_engines!(@case $(#[$doc])* $name($server: $kind)
            |engine| $crate::support::$kind::start(engine);
            $body);
        $crate::support::both_engines!($($rest)*);
    };
    (@case $(#[$doc:meta])* $name:ident($server:ident: $kind:ident) |$engine:ident| $start:expr; $body:block) => {
        $(#[$doc])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn case($server: crate::support::$kind) $body

            async fn start($engine: crate::support::Engine) -> Option<crate::support::$kind> {
                $start.await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(server) = start(crate::support::Engine::Sqlite).await {
                    case(server).await;
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(server) = start(crate::support::Engine::Postgres).await {
                    case(server).await;
                }
            }
        }
    };
}
pub(crate) use both_engines;

/// One server's HTTP surface: its base URL, a client, and the requests cases share.
pub struct Api {
    pub base: String,
    pub http: Http,
}

impl Api {
    fn new(base: String) -> Api {
        let http = Http::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client");
        Api { base, http }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
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
