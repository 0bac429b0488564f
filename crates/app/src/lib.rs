//! ThetaSecure's use cases. `App` is cheap to clone and holds everything a request needs:
//! the store, the loaded signing keys, the clock and the settings. No HTTP here.

pub mod admin_access;
pub mod audit;
pub mod authorize;
pub mod bootstrap;
pub mod cache;
pub mod changes;
pub mod client_address;
mod client_auth;
pub mod client_cache;
pub mod clients;
pub mod error;
pub mod introspect;
pub mod keys;
mod last_used;
pub mod logout;
mod notes;
pub mod paging;
pub mod passwords;
pub mod revoke;
pub mod scopes;
pub mod server_key;
pub mod sessions;
pub mod sign_in;
pub mod throttle;
pub mod token;
mod usage;
pub mod userinfo;
pub mod users;

use std::sync::Arc;

use thetasecure_core::Clock;
use thetasecure_core::discovery::{Capabilities, ServerMetadata};
use thetasecure_core::grant::{GrantType, ResponseType};
use thetasecure_core::secret::SecretHasher;
use thetasecure_store::{Store, StoreError};

pub use client_auth::{ClientAuthentication, ClientCredentials};
pub use error::{AdminError, TokenError};
pub use keys::SigningAlg;

/// The stored records the admin API shows, re-exported so callers need not know the store.
pub mod records {
    pub use thetasecure_store::{
        AuditEvent, ConsentRecord, RefreshTokenRecord, ScopeRecord, SecretRecord, SessionRecord,
    };
}
pub use server_key::ServerKey;

use cache::{Cached, ClientCache, ClientEntry, ScopeNamesCache, TokenCache};
use keys::{KeyError, Keys};
use last_used::LastUsed;
use throttle::AuthThrottle;
use usage::Usage;

/// The longest access-token lifetime a client may configure; retired signing keys stay
/// published this long so every token they signed still verifies.
pub const MAX_ACCESS_TOKEN_TTL_SECONDS: i64 =
    *thetasecure_core::client::TTL_RANGE_SECONDS.end() as i64;

// ID tokens are signed by keys of the same ring, published as long: they must not outlive it.
const _: () = assert!(thetasecure_core::oidc::ID_TOKEN_TTL_SECONDS <= MAX_ACCESS_TOKEN_TTL_SECONDS);

#[derive(Debug, Clone)]
pub struct Settings {
    /// Base of every advertised URL and the `iss` of every token.
    pub issuer: String,
    pub access_token_ttl_seconds: u32,
    /// The algorithm of access tokens (ES256 by default).
    pub signing_alg: SigningAlg,
    /// The algorithm of ID tokens (RS256 by default: OIDC Core §15.1 requires it).
    pub id_token_signing_alg: SigningAlg,
    /// Peers whose `X-Forwarded-For` names the client (`--trusted-proxies`).
    pub trusted_proxies: client_address::TrustedProxies,
    /// How long cached tokens and scope names are trusted without asking the store, and
    /// cached clients served after the last successful read of the client change log
    /// (read every half of it) (`--cache-freshness-ms`): the bound on how late a change
    /// made elsewhere is seen when no notification of it arrives (SQLite's CLI,
    /// PostgreSQL's feed down).
    pub cache_freshness: std::time::Duration,
    /// How many clients the client cache holds (`--client-cache-capacity`); unknown ids
    /// are held apart, an eighth as many.
    pub client_cache_capacity: usize,
    /// Refresh-token idle and absolute lifetimes and the reuse grace window.
    pub refresh_tokens: thetasecure_core::refresh_token::RefreshTokenPolicy,
    /// The resource owner password grant (SPEC 9): off unless the operator enables it.
    pub allow_password_grant: bool,
}

impl Settings {
    /// The algorithms a key must be active for: access tokens' and ID tokens'.
    pub fn signing_algs(&self) -> Vec<SigningAlg> {
        let mut algs = vec![self.signing_alg];
        if self.id_token_signing_alg != self.signing_alg {
            algs.push(self.id_token_signing_alg);
        }
        algs
    }
}

#[derive(Clone)]
pub struct App(Arc<Inner>);

struct Inner {
    store: Store,
    keys: Keys,
    clock: Arc<dyn Clock>,
    settings: Settings,
    server_key: ServerKey,
    hasher: SecretHasher,
    password_hashing: passwords::PasswordHashing,
    last_used: LastUsed,
    usage: Usage,
    client_cache: ClientCache,
    token_cache: TokenCache,
    revocation_rechecks: token::RevocationRechecks,
    scope_names: ScopeNamesCache,
    throttle: AuthThrottle,
    tokens_issued: token::TokensIssued,
    secret_tagger: client_auth::SecretTagger,
    keys_reloaded_at: std::sync::Mutex<Option<std::time::Instant>>,
    /// The tasks applying the change feed (PostgreSQL) and reading the change log,
    /// stopped with the app.
    change_followers: std::sync::Mutex<Vec<tokio::task::AbortHandle>>,
    /// Asks the change log's reader to read now (the feed reconnected).
    read_change_log: Arc<tokio::sync::Notify>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(mut followers) = self.change_followers.lock() {
            for task in followers.drain(..) {
                task.abort();
            }
        }
    }
}

/// The least time between two key reloads triggered by unknown key ids.
const KEY_RELOAD_MIN_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("signing keys: {0}")]
    Keys(#[from] KeyError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// The grants this build implements at the token endpoint; discovery lists exactly these,
/// and the password grant after them where the server enables it.
pub const IMPLEMENTED_GRANTS: &[GrantType] = &[
    GrantType::AuthorizationCode,
    GrantType::ClientCredentials,
    GrantType::RefreshToken,
];

impl App {
    /// Loads (or first creates) the signing keys. The store must be migrated.
    pub async fn new(
        store: Store,
        server_key: ServerKey,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> Result<App, StartError> {
        let keys = Keys::load(
            &store,
            &server_key,
            &settings.signing_algs(),
            clock.now(),
            MAX_ACCESS_TOKEN_TTL_SECONDS,
        )
        .await?;
        let freshness = settings.cache_freshness;
        let feed = store.subscribe_to_changes();
        let client_cache = ClientCache::new(settings.client_cache_capacity, freshness);
        let app = App(Arc::new(Inner {
            hasher: server_key.secret_hasher(),
            password_hashing: Default::default(),
            store,
            keys,
            clock,
            settings,
            server_key,
            last_used: LastUsed::default(),
            usage: Usage::default(),
            client_cache,
            token_cache: TokenCache::new(freshness),
            revocation_rechecks: Default::default(),
            scope_names: ScopeNamesCache::new(freshness),
            throttle: AuthThrottle::new(),
            tokens_issued: Default::default(),
            secret_tagger: client_auth::SecretTagger::new(),
            keys_reloaded_at: std::sync::Mutex::new(None),
            change_followers: std::sync::Mutex::new(Vec::new()),
            read_change_log: Default::default(),
        }));
        app.follow_client_change_log();
        if let Some(feed) = feed {
            app.follow_changes(feed);
        }
        Ok(app)
    }

    /// The store stays behind the use cases: callers outside this crate ask `App`.
    pub(crate) fn store(&self) -> &Store {
        &self.0.store
    }

    /// Readiness (`/readyz`): the store answers and its schema is current.
    pub async fn ready(&self) -> Result<(), StoreError> {
        self.0.store.ready().await
    }

    /// Closes the store's connections, after the last request.
    pub async fn close(&self) {
        self.stop_following_changes();
        self.0.store.close().await;
    }

    /// Forgets revocations of tokens that have expired anyway; returns how many.
    pub async fn purge_expired_revocations(&self) -> Result<u64, StoreError> {
        self.0.store.tokens().purge_expired(self.now()).await
    }

    pub fn settings(&self) -> &Settings {
        &self.0.settings
    }

    pub fn issuer(&self) -> &str {
        self.0.settings.issuer.trim_end_matches('/')
    }

    pub fn now(&self) -> thetasecure_core::Timestamp {
        self.0.clock.now()
    }

    pub(crate) fn clock(&self) -> &dyn Clock {
        self.0.clock.as_ref()
    }

    pub(crate) fn hasher(&self) -> &SecretHasher {
        &self.0.hasher
    }

    pub(crate) fn password_hashing(&self) -> &passwords::PasswordHashing {
        &self.0.password_hashing
    }

    /// A client and its secrets, from the cache when fresh, else from the store.
    pub(crate) async fn client_entry(
        &self,
        id: &thetasecure_core::ids::ClientId,
    ) -> Result<Option<Arc<ClientEntry>>, StoreError> {
        let cached = self.0.client_cache.get(id, std::time::Instant::now());
        cached_or_load(cached, "client", || {
            let (app, id) = (self.clone(), id.clone());
            async move { app.load_client_entry(&id).await }
        })
        .await
    }

    /// The names of the registered scopes, from the cache when fresh, else from the store.
    pub(crate) async fn scope_names(&self) -> Result<Arc<[String]>, StoreError> {
        let cached = self.0.scope_names.get(std::time::Instant::now());
        cached_or_load(cached, "scope registry", || {
            let app = self.clone();
            async move { app.load_scope_names().await }
        })
        .await
    }

    async fn load_scope_names(&self) -> Result<Arc<[String]>, StoreError> {
        let cache = &self.0.scope_names;
        let (loaded, generation) = (std::time::Instant::now(), cache.generation());
        let scopes = self.0.store.scopes().list().await?;
        let names: Arc<[String]> = scopes.into_iter().map(|scope| scope.name).collect();
        cache.insert(names.clone(), loaded, generation);
        Ok(names)
    }

    /// Called after every change to the scope registry made through this instance.
    pub(crate) fn forget_scope_names(&self) {
        self.0.scope_names.invalidate();
    }

    /// One read: the client with the secrets active now. A secret that expires later
    /// (a rotation's grace period) is checked against the clock at each use, so an entry
    /// never needs reloading for that.
    async fn load_client_entry(
        &self,
        id: &thetasecure_core::ids::ClientId,
    ) -> Result<Option<Arc<ClientEntry>>, StoreError> {
        let cache = &self.0.client_cache;
        let generation = cache.generation(id);
        let found = self
            .0
            .store
            .clients()
            .get_with_active_secrets(id, self.now())
            .await?;
        let entry = found.map(|(client, secrets)| Arc::new(ClientEntry::new(client, secrets)));
        cache.insert(id.clone(), entry.clone(), generation);
        Ok(entry)
    }

    /// Called after every change to a client made through this instance.
    pub(crate) fn forget_client(&self, id: &thetasecure_core::ids::ClientId) {
        self.0.client_cache.invalidate(id);
    }

    /// The public JWK Set.
    pub fn jwks(&self) -> keys::Jwks {
        self.0.keys.current().jwks()
    }

    /// Generates a new signing key for every algorithm in use (here or, by an active
    /// key in the store, elsewhere), retires the active ones (they stay published) and
    /// reloads. Returns the new keys' algorithms and ids.
    pub async fn rotate_signing_keys(&self) -> Result<Vec<(SigningAlg, String)>, KeyError> {
        let inner = &self.0;
        let rotated = Keys::rotate(
            &inner.store,
            &inner.server_key,
            &inner.settings.signing_algs(),
            inner.clock.now(),
        )
        .await?;
        self.reload_signing_keys().await?;
        Ok(rotated)
    }

    /// Re-reads the signing keys, so a rotation made through another instance or the CLI
    /// is picked up: the new key signs here too, and the JWKS publishes it.
    pub async fn reload_signing_keys(&self) -> Result<(), KeyError> {
        let inner = &self.0;
        inner
            .keys
            .reload(
                &inner.store,
                &inner.server_key,
                &inner.settings.signing_algs(),
                inner.clock.now(),
                MAX_ACCESS_TOKEN_TTL_SECONDS,
            )
            .await
    }

    /// A token names a key this instance has not loaded: another instance may have
    /// rotated. Reloads at most once per `KEY_RELOAD_MIN_INTERVAL`, so tokens with made-up
    /// key ids cannot make every request read the store. Returns whether it reloaded.
    pub(crate) async fn reload_signing_keys_for_unknown_kid(&self) -> bool {
        match self.0.keys_reloaded_at.lock() {
            Ok(mut last) if last.is_none_or(|at| at.elapsed() >= KEY_RELOAD_MIN_INTERVAL) => {
                *last = Some(std::time::Instant::now());
            }
            _ => return false,
        }
        match self.reload_signing_keys().await {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(error = %thetasecure_core::ErrorChain(&error), "could not reload signing keys");
                false
            }
        }
    }

    /// RFC 8414 metadata from the live configuration and scope registry.
    pub async fn server_metadata(&self) -> Result<ServerMetadata, StoreError> {
        let scopes = self.scope_names().await?;
        let grant_types = self.served_grants();
        Ok(ServerMetadata::build(
            self.issuer(),
            Capabilities {
                grant_types: &grant_types,
                response_types: &[ResponseType::Code],
                pkce_methods: &[thetasecure_core::pkce::S256],
                authorization_endpoint: true,
                scopes: scopes.to_vec(),
                id_token_signing_alg: Some(self.settings().id_token_signing_alg.as_str()),
            },
        ))
    }

    /// The grants the token endpoint serves with this configuration.
    pub fn served_grants(&self) -> Vec<GrantType> {
        let mut grants = IMPLEMENTED_GRANTS.to_vec();
        if self.0.settings.allow_password_grant {
            grants.push(GrantType::Password);
        }
        grants
    }

    /// Writes what the hot paths noted in memory (secrets' `last_used_at`, clients'
    /// usage), a batch each; called periodically and at shutdown. One failing write does
    /// not keep the other from being tried; its notes wait for the next flush.
    pub async fn flush_notes(&self) -> Result<(), StoreError> {
        let store = &self.0.store;
        let last_used = self.0.last_used.flush(store).await;
        let usage = self.0.usage.flush(store).await;
        last_used.and(usage)
    }
}

/// A cache's answer, or the value `load` reads from the store. An entry due for a reload
/// is served while `load` runs in the background; a missing one waits for `load`. A
/// fresh one never calls `load`, so the hot path clones nothing.
async fn cached_or_load<V, Load>(
    cached: Cached<V>,
    what: &'static str,
    load: impl FnOnce() -> Load,
) -> Result<V, StoreError>
where
    V: Send + 'static,
    Load: std::future::Future<Output = Result<V, StoreError>> + Send + 'static,
{
    match cached {
        Cached::Fresh(value) => Ok(value),
        Cached::RefreshDue(value) => {
            let reload = load();
            tokio::spawn(async move {
                if let Err(error) = reload.await {
                    // The entry expires on time; the next request loads it or fails.
                    tracing::warn!(error = %thetasecure_core::ErrorChain(&error), what, "could not refresh a cached value");
                }
            });
            Ok(value)
        }
        Cached::Missing => load().await,
    }
}

/// An `App` on a fresh, bootstrapped SQLite store, for this crate's tests.
#[cfg(test)]
pub(crate) mod test_support {
    #![allow(clippy::unwrap_used)]

    use std::net::Ipv4Addr;
    use std::sync::Arc;

    use thetasecure_core::clock::Clock;
    use thetasecure_core::secret::PlainSecret;
    use thetasecure_store::Engine;
    use thetasecure_store::testing::TestDatabase;

    use crate::audit::Actor;
    use crate::{App, ClientCredentials, ServerKey, Settings, SigningAlg};

    /// The database must outlive the app.
    pub(crate) async fn sqlite_app(clock: Arc<dyn Clock>) -> (TestDatabase, App) {
        let database = TestDatabase::new(Engine::Sqlite).await.unwrap();
        let store = database.store().await;
        store.migrate().await.unwrap();
        let settings = Settings {
            issuer: "https://id.example".into(),
            access_token_ttl_seconds: 3600,
            signing_alg: SigningAlg::EdDsa,
            id_token_signing_alg: SigningAlg::Rs256,
            trusted_proxies: Default::default(),
            cache_freshness: crate::cache::DEFAULT_FRESHNESS,
            client_cache_capacity: crate::client_cache::DEFAULT_CAPACITY,
            refresh_tokens: Default::default(),
            allow_password_grant: false,
        };
        let app = App::new(store, ServerKey::generate(), clock, settings)
            .await
            .unwrap();
        app.bootstrap(Default::default()).await.unwrap();
        (database, app)
    }

    /// A client_credentials client: its id and secret.
    pub(crate) async fn machine_client(app: &App) -> (String, PlainSecret) {
        client_credentials_client(app, "directory.read").await
    }

    /// A client_credentials client allowed `scope`: its id and secret.
    pub(crate) async fn client_credentials_client(app: &App, scope: &str) -> (String, PlainSecret) {
        let new = thetasecure_core::client::NewClient {
            client_type: None,
            fields: thetasecure_core::client::ClientFields {
                client_name: Some(format!("{scope} client")),
                grant_types: Some(vec!["client_credentials".into()]),
                scope: Some(scope.into()),
                ..Default::default()
            },
        };
        let created = app.create_client(&Actor::cli(), new).await.unwrap();
        (
            created.client.client_id.to_string(),
            created.secret.unwrap(),
        )
    }

    pub(crate) fn credentials(client_id: &str, secret: &PlainSecret) -> ClientCredentials {
        ClientCredentials {
            client_id: client_id.to_owned(),
            secret: secret.clone(),
            method: thetasecure_core::grant::AuthMethod::ClientSecretBasic,
            source: Ipv4Addr::LOCALHOST.into(),
        }
    }
}

/// What each request's future holds is moved several times on its way through axum and
/// hyper, so its size is paid per request: introspection once carried a 17.7 KB store
/// future it seldom polled and cost three times the instructions (#12). These bounds
/// keep the hot paths' futures small.
#[cfg(test)]
mod future_sizes {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use thetasecure_core::grant::{AuthMethod, GrantType};
    use thetasecure_core::secret::PlainSecret;

    use crate::{ClientAuthentication, ClientCredentials};

    fn credentials() -> ClientCredentials {
        ClientCredentials {
            client_id: "ts_caller".into(),
            secret: PlainSecret::new("a secret".into()),
            method: AuthMethod::ClientSecretBasic,
            source: std::net::Ipv4Addr::LOCALHOST.into(),
        }
    }

    #[tokio::test]
    async fn the_token_and_introspection_futures_stay_small() {
        let clock = Arc::new(thetasecure_core::clock::SystemClock);
        let (_database, app) = crate::test_support::sqlite_app(clock).await;
        let caller = credentials();
        let introspection = app.introspect(&caller, "a token");
        let size = std::mem::size_of_val(&introspection);
        assert!(size <= 2048, "introspection's future is {size} bytes");
        let client = ClientAuthentication::Secret(credentials());
        let request = crate::token::TokenRequest::default();
        let grant = app.grant(GrantType::ClientCredentials, &client, &request);
        let size = std::mem::size_of_val(&grant);
        assert!(size <= 4096, "the token grant's future is {size} bytes");
    }
}
