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
use thetasecure_core::refresh_token::RefreshTokenPolicy;
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
    /// The app being served, for what `serve`'s maintenance task would do (`flush_notes`).
    app: App,
    /// The app's clock: it starts at the real time and moves only when the case says.
    clock: Arc<FixedClock>,
    served: JoinHandle<()>,
    /// Shared with a second instance, as instances of one deployment share it.
    server_key: ServerKey,
    settings: Settings,
    engine: Engine,
    /// Dropped (the last holder drops it) after `drop` has stopped the server.
    database: Arc<TestDatabase>,
}

/// Settings a case may change before the app starts; the rest are the binary's defaults.
pub struct TestAppBuilder {
    engine: Engine,
    settings: Settings,
    /// Makes the issuer the address the app is served on, so that an RP library that
    /// checks the discovery document's issuer against its URL accepts it.
    issuer_is_own_address: bool,
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
                id_token_signing_alg: SigningAlg::Rs256,
                trusted_proxies: Default::default(),
                cache_freshness: thetasecure_app::cache::DEFAULT_FRESHNESS,
                client_cache_capacity: thetasecure_app::client_cache::DEFAULT_CAPACITY,
                refresh_tokens: Default::default(),
                allow_password_grant: false,
            },
            issuer_is_own_address: false,
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

    /// `claims` signed as a JWS of type `typ` with the server's active ID-token key: for
    /// cases that need a token no endpoint issues (an `id_token_hint` of another issuer
    /// or type, or one long expired).
    pub async fn sign_with_server_key(&self, claims: &serde_json::Value, typ: &str) -> String {
        let store = self.database.store().await;
        let keys = Keys::load(
            &store,
            &self.server_key,
            &self.settings.signing_algs(),
            self.now(),
            MAX_ACCESS_TOKEN_TTL_SECONDS,
        )
        .await
        .expect("load the signing keys");
        let token = keys
            .current()
            .active(self.settings.id_token_signing_alg)
            .expect("the ID-token key")
            .sign_jws(claims, typ)
            .expect("sign");
        store.close().await;
        token
    }

    /// Writes what the token path noted in memory (secrets' last use, clients' usage), as
    /// the binary's maintenance task does every 30 seconds.
    pub async fn flush_notes(&self) {
        self.app.flush_notes().await.expect("flush the notes");
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

    pub fn id_token_signing_alg(mut self, alg: SigningAlg) -> Self {
        self.settings.id_token_signing_alg = alg;
        self
    }

    /// The issuer is `http://127.0.0.1:<port>`, the address the app is served on.
    pub fn issuer_is_own_address(mut self) -> Self {
        self.issuer_is_own_address = true;
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

    /// How long caches trust what they hold (`--cache-freshness-ms`): a case makes it
    /// long to show that a change reached an instance by notification, not by age.
    pub fn cache_freshness(mut self, freshness: std::time::Duration) -> Self {
        self.settings.cache_freshness = freshness;
        self
    }

    /// Refresh-token idle and absolute lifetimes and reuse grace window, in seconds.
    pub fn refresh_tokens(mut self, idle: i64, absolute: i64, reuse_grace: u32) -> Self {
        self.settings.refresh_tokens =
            RefreshTokenPolicy::new(idle, absolute, reuse_grace).expect("refresh token policy");
        self
    }

    /// The reuse grace window (`--refresh-reuse-grace-seconds`), default lifetimes.
    pub fn refresh_reuse_grace_seconds(self, seconds: u32) -> Self {
        let defaults = RefreshTokenPolicy::default();
        self.refresh_tokens(
            defaults.idle_seconds(),
            defaults.absolute_seconds(),
            seconds,
        )
    }

    /// Serve the password grant (`--allow-password-grant`).
    pub fn allow_password_grant(mut self) -> Self {
        self.settings.allow_password_grant = true;
        self
    }

    pub async fn start(mut self) -> Option<TestApp> {
        let database = Arc::new(TestDatabase::new(self.engine).await?);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        if self.issuer_is_own_address {
            let address = listener.local_addr().expect("bound address");
            self.settings.issuer = format!("http://{address}");
        }
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
        let (api, served) = serve(app.clone(), listener).await;
        Some(TestApp {
            api,
            app,
            clock,
            served,
            server_key,
            settings: self.settings,
            engine: self.engine,
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
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let (api, served) = serve(app.clone(), listener).await;
        TestApp {
            api,
            app,
            clock: self.clock.clone(),
            served,
            server_key: self.server_key.clone(),
            settings: self.settings.clone(),
            engine: self.engine,
            database,
        }
    }
}

impl TestApp {
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The server key as `--secret-key` takes it, for a CLI run on this app's store.
    pub fn server_key(&self) -> String {
        self.server_key.encode()
    }

    /// The database, for what a case does behind the instances' backs (`TestDatabase`'s
    /// `execute_unannounced`, `cut_change_feed`, `change_feed_listeners`).
    pub fn database(&self) -> &TestDatabase {
        &self.database
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

/// Serves `app` on `listener` (a random port), as `serve` does.
async fn serve(app: App, listener: tokio::net::TcpListener) -> (Api, JoinHandle<()>) {
    // Installed once per test process and shared: the `metrics` facade is global, and
    // `Metrics::install` hands every caller the one recorder (as in the binary).
    let metrics = Metrics::install().expect("the metrics recorder");
    let router = thetasecure_web::router(app, metrics, false);
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
