//! The real router, served on a random port inside the test process: no binary to start,
//! and a clock the case moves. What `thetasecure serve` builds (`commands::open_app`,
//! `serve::serve`), minus what only a process has: configuration loading, logs, signals
//! and the periodic maintenance task.

use std::sync::{Arc, OnceLock};

use thetasecure_app::bootstrap::BootstrapInput;
use thetasecure_app::client_address::TrustedProxies;
use thetasecure_app::keys::Keys;
use thetasecure_app::{
    App, MAX_ACCESS_TOKEN_TTL_SECONDS, ServerKey, Settings, SigningAlg, passwords,
};
use thetasecure_core::clock::{Clock, FixedClock, SystemClock, Timestamp};
use thetasecure_store::testing::TestDatabase;
use thetasecure_web::Metrics;
use tokio::task::JoinHandle;

use super::{ADMIN_PASSWORD, ADMIN_SECRET, Api, Engine, SYNC_SECRET};

/// The binary's defaults (`config.rs`); the in-process app is held to them by
/// `discovery::the_in_process_app_serves_what_the_binary_serves`.
pub const ISSUER: &str = "http://127.0.0.1:8080";
const ACCESS_TOKEN_TTL_SECONDS: u32 = 3600;

/// A running in-process server on its own fresh store; stops when dropped.
pub struct TestApp {
    api: Api,
    /// The app's clock: it starts at the real time and moves only when the case says.
    clock: Arc<FixedClock>,
    served: JoinHandle<()>,
    /// Shared with a second instance, as instances of one deployment share it.
    server_key: ServerKey,
    settings: Settings,
    /// Dropped (the last holder drops it) after `drop` has stopped the server.
    database: Arc<TestDatabase>,
}

/// Settings a case may change before the app starts; the rest are the binary's defaults.
pub struct TestAppBuilder {
    engine: Engine,
    settings: Settings,
}

impl TestApp {
    /// A server with the binary's default settings on a fresh store of `engine`; `None`
    /// when PostgreSQL is asked for but not configured (see `TestDatabase::new`).
    pub async fn start(engine: Engine) -> Option<TestApp> {
        Self::builder(engine).start().await
    }

    /// A server with the settings `configure` makes of the defaults (`both_engines!`'s
    /// `with` form).
    pub async fn configured(
        engine: Engine,
        configure: impl FnOnce(TestAppBuilder) -> TestAppBuilder,
    ) -> Option<TestApp> {
        configure(Self::builder(engine)).start().await
    }

    pub fn builder(engine: Engine) -> TestAppBuilder {
        TestAppBuilder {
            engine,
            settings: Settings {
                issuer: ISSUER.to_owned(),
                access_token_ttl_seconds: ACCESS_TOKEN_TTL_SECONDS,
                signing_alg: SigningAlg::Es256,
                trusted_proxies: Default::default(),
            },
        }
    }

    /// The app's time: what it stamps on tokens, secrets, clients and audit events, and
    /// what it checks expiry and grace periods against.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The issuer the app names in tokens and redirects.
    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    /// `claims` signed as a JWS of type `typ` with the server's own active signing key,
    /// as the server signs its tokens: for cases that need a token of a kind no endpoint
    /// issues yet (an ID token as an `id_token_hint`).
    pub async fn sign_with_server_key(&self, claims: &serde_json::Value, typ: &str) -> String {
        let store = self.database.store().await;
        let keys = Keys::load(
            &store,
            &self.server_key,
            self.settings.signing_alg,
            self.now(),
            MAX_ACCESS_TOKEN_TTL_SECONDS,
        )
        .await
        .expect("load the signing keys");
        let token = keys.current().active().sign_jws(claims, typ).expect("sign");
        store.close().await;
        token
    }

    /// Lets time pass for the app, at once: expiry and grace periods without sleeping.
    /// (The caches' and the throttle's horizons are in real time, `Instant`s, and do not move.)
    pub fn advance_seconds(&self, seconds: i64) {
        self.clock.advance_seconds(seconds);
    }
}

impl TestAppBuilder {
    pub fn signing_alg(mut self, signing_alg: SigningAlg) -> Self {
        self.settings.signing_alg = signing_alg;
        self
    }

    /// An issuer other than the binary's default, e.g. an `https` one (cookies change).
    pub fn issuer(mut self, issuer: &'static str) -> Self {
        self.settings.issuer = issuer.to_owned();
        self
    }

    /// Peers whose `X-Forwarded-For` names the client, as `--trusted-proxies` lists them.
    pub fn trusted_proxies(mut self, list: &[&str]) -> Self {
        self.settings.trusted_proxies =
            TrustedProxies::parse(list.iter().copied()).expect("trusted proxies");
        self
    }

    pub async fn start(self) -> Option<TestApp> {
        let database = Arc::new(TestDatabase::new(self.engine).await?);
        let server_key = ServerKey::generate();
        let clock = Arc::new(FixedClock::new(SystemClock.now()));
        let app = open(&database, &server_key, clock.clone(), &self.settings).await;
        let input = BootstrapInput {
            admin_client_secret: Some(ADMIN_SECRET.to_owned()),
            sync_client_secret: Some(SYNC_SECRET.to_owned()),
            admin_username: None,
            admin_password: None,
        };
        let provisioned = app
            .bootstrap_with_password_hash(input, admin_password_hash().await)
            .await
            .expect("bootstrap");
        assert!(provisioned.is_some(), "a fresh store is provisioned");
        let (api, served) = serve(app).await;
        Some(TestApp {
            api,
            clock,
            served,
            server_key,
            settings: self.settings,
            database,
        })
    }
}

impl TestApp {
    /// Another instance of the same deployment: its own app, store connection and port,
    /// on the same database with the same server key, and sharing this one's clock.
    pub async fn second_instance(&self) -> TestApp {
        let database = self.database.clone();
        let app = open(
            &database,
            &self.server_key,
            self.clock.clone(),
            &self.settings,
        )
        .await;
        let (api, served) = serve(app).await;
        TestApp {
            api,
            clock: self.clock.clone(),
            served,
            server_key: self.server_key.clone(),
            settings: self.settings.clone(),
            database,
        }
    }
}

/// An app over a new, migrated connection to `database`, as `open_app` makes one.
async fn open(
    database: &TestDatabase,
    server_key: &ServerKey,
    clock: Arc<FixedClock>,
    settings: &Settings,
) -> App {
    let store = database.store().await;
    App::new(store, server_key.clone(), clock, settings.clone())
        .await
        .expect("start the app")
}

/// Serves `app` on a random port, as `serve` does.
async fn serve(app: App) -> (Api, JoinHandle<()>) {
    // Installed once per test process and shared: the `metrics` facade is global, and
    // `Metrics::install` hands every caller the one recorder (as in the binary).
    let metrics = Metrics::install().expect("the metrics recorder");
    let router = thetasecure_web::router(app, metrics, false);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let address = listener.local_addr().expect("bound address");
    let served = tokio::spawn(async move {
        thetasecure_web::serve(listener, router, std::future::pending())
            .await
            .expect("serve");
    });
    (Api::new(format!("http://{address}")), served)
}

/// The admin password's Argon2id hash, made once per test process with the production
/// parameters and given to every bootstrap (`App::bootstrap_with_password_hash`).
///
/// Why this rather than the alternatives: a bootstrap hashes the admin password, the
/// deliberately slow step (19 MiB and about 90 ms of CPU in the test build), and every
/// case provisions a fresh store, sixty-odd a run. Cheaper Argon2 parameters for tests
/// would need a setting that weakens hashes, reachable by mistake from production code;
/// provisioning once and copying the store works for a SQLite file but not for a
/// PostgreSQL schema. A precomputed hash keeps every provisioned store exactly as
/// production makes it, and costs one hash per test run.
async fn admin_password_hash() -> String {
    static HASH: OnceLock<String> = OnceLock::new();
    if let Some(hash) = HASH.get() {
        return hash.clone();
    }
    tokio::task::spawn_blocking(|| {
        HASH.get_or_init(|| passwords::hash(ADMIN_PASSWORD).expect("hash the admin password"))
            .clone()
    })
    .await
    .expect("hashing task")
}

impl std::ops::Deref for TestApp {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.served.abort();
    }
}
