use std::future::Future;

use thetasecure_core::Timestamp;
use thetasecure_core::client::{Client, ClientMetadata};
use thetasecure_core::grant::{AuthMethod, ClientStatus, ClientType, GrantType, ResponseType};
use thetasecure_core::ids::ClientId;
use thetasecure_core::redirect_uri::RedirectUri;
use thetasecure_core::scope::ScopeSet;
use thetasecure_core::secret::SecretHash;
use thetasecure_core::user::{User, UserProfile, UserStatus};
use thetasecure_store::testing::TestDatabase;
use thetasecure_store::{
    AuditEntry, ClientFilter, Engine, RefreshTokenRecord, ScopeRecord, SecretRecord,
    SigningKeyRecord, Store, UserRecord,
};

/// What a case gets: a migrated store on a fresh database, and that database's URL (to
/// open a second store on it).
pub struct Env {
    pub store: Store,
    pub url: String,
}

impl Env {
    pub async fn second_store(&self) -> Store {
        Store::connect(&self.url).await.unwrap()
    }
}

pub async fn run<F, Fut>(engine: Engine, case: F)
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(db) = TestDatabase::new(engine).await else {
        return;
    };
    let store = db.store().await;
    assert_eq!(store.engine(), engine);
    case(Env {
        store: store.clone(),
        url: db.url().to_owned(),
    })
    .await;
    store.close().await;
}

/// For cases that need a database nobody has migrated yet: they get its URL.
pub async fn run_fresh<F, Fut>(engine: Engine, case: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(db) = TestDatabase::new(engine).await else {
        return;
    };
    case(db.url().to_owned()).await;
}

/// `conformance!(a, b)` makes `a_sqlite`, `a_postgres`, `b_sqlite`, `b_postgres`, each
/// running the async fn of that name with an `Env`.
macro_rules! conformance {
    ($runner:ident: $($case:ident),+ $(,)?) => {
        $(
            pastey::paste! {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn [<$case _sqlite>]() {
                    $crate::support::$runner(thetasecure_store::Engine::Sqlite, $case).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn [<$case _postgres>]() {
                    $crate::support::$runner(thetasecure_store::Engine::Postgres, $case).await;
                }
            }
        )+
    };
    ($($case:ident),+ $(,)?) => {
        conformance!(run: $($case),+);
    };
}

pub const NOW: Timestamp = Timestamp(1_764_174_057_123);

pub fn at(offset_seconds: i64) -> Timestamp {
    NOW.plus_seconds(offset_seconds)
}

pub fn id(raw: &str) -> ClientId {
    ClientId::parse(raw).unwrap()
}

/// A confidential machine client.
pub fn client(client_id: &str, name: &str, created_at: Timestamp) -> Client {
    Client {
        client_id: id(client_id),
        client_type: ClientType::Custom,
        metadata: ClientMetadata {
            client_name: name.to_owned(),
            description: None,
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            grant_types: vec![GrantType::ClientCredentials],
            response_types: Vec::new(),
            scope: ScopeSet::from_trusted("admin"),
            token_endpoint_auth_method: AuthMethod::ClientSecretBasic,
            require_user_consent: false,
            access_token_ttl_seconds: None,
            status: ClientStatus::Active,
        },
        is_default: false,
        created_at,
        updated_at: created_at,
        tokens_revoked_before: None,
    }
}

/// A public native client with every optional field set.
pub fn full_client(client_id: &str, name: &str, created_at: Timestamp) -> Client {
    let mut client = client(client_id, name, created_at);
    client.metadata = ClientMetadata {
        client_name: name.to_owned(),
        description: Some("Sïgns people ïn — with “quotes” and 'apostrophes'".to_owned()),
        redirect_uris: vec![
            RedirectUri::from_trusted("http://127.0.0.1/callback".to_owned()),
            RedirectUri::from_trusted("com.example.app:/oauth2/callback".to_owned()),
        ],
        post_logout_redirect_uris: vec![
            RedirectUri::from_trusted("com.example.app:/signed-out".to_owned()),
            RedirectUri::from_trusted("http://127.0.0.1/bye?from=app".to_owned()),
        ],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        response_types: vec![ResponseType::Code],
        scope: ScopeSet::from_trusted("openid profile offline_access"),
        token_endpoint_auth_method: AuthMethod::None,
        require_user_consent: true,
        access_token_ttl_seconds: Some(900),
        status: ClientStatus::Active,
    };
    client.is_default = true;
    client.tokens_revoked_before = Some(at(-60));
    client
}

pub fn secret(client_id: &str, secret_id: &str, created_at: Timestamp) -> SecretRecord {
    SecretRecord {
        id: secret_id.to_owned(),
        client_id: id(client_id),
        hash: SecretHash::from_bytes(format!("hash of {secret_id}").into_bytes()),
        hint: "tss_abcd".to_owned(),
        created_at,
        expires_at: None,
        revoked_at: None,
        last_used_at: None,
    }
}

pub fn audit(action: &str, target_id: &str) -> AuditEntry {
    AuditEntry {
        id: uuid::Uuid::now_v7().to_string(),
        at: NOW,
        actor: "cli".to_owned(),
        action: action.to_owned(),
        target_type: "client".to_owned(),
        target_id: target_id.to_owned(),
        details: serde_json::json!({ "action": action, "nested": { "n": 1, "ü": [true, null] } }),
    }
}

pub fn scope(name: &str, builtin: bool) -> ScopeRecord {
    ScopeRecord {
        name: name.to_owned(),
        description: format!("The {name} scope"),
        is_builtin: builtin,
        created_at: NOW,
        updated_at: NOW,
    }
}

pub fn key(kid: &str, alg: &str, created_at: Timestamp) -> SigningKeyRecord {
    SigningKeyRecord {
        kid: kid.to_owned(),
        alg: alg.to_owned(),
        encrypted_private_key: vec![0, 1, 2, 255, kid.len() as u8],
        created_at,
        retired_at: None,
    }
}

/// Every audit action, newest first.
pub async fn audit_actions(store: &Store) -> Vec<String> {
    store
        .audit()
        .list(&thetasecure_store::AuditFilter::default(), None, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|event| event.action)
        .collect()
}

/// Stores `client(client_id, name, created_at)` with its creation audit entry.
pub async fn create_client(store: &Store, client_id: &str, name: &str, created_at: Timestamp) {
    store
        .clients()
        .create(
            &client(client_id, name, created_at),
            None,
            &audit("client.created", client_id),
        )
        .await
        .unwrap();
}

/// Stores `(client_id, name)` pairs in order, the first oldest (`at(0)`, `at(1)`, …).
pub async fn create_clients(store: &Store, named: &[(&str, &str)]) {
    for (n, (client_id, name)) in (0..).zip(named) {
        create_client(store, client_id, name, at(n)).await;
    }
}

/// A listing filter: `search`, at most `limit` rows, first page.
pub fn filter(search: Option<&str>, limit: u32) -> ClientFilter {
    ClientFilter {
        search: search.map(str::to_owned),
        status: None,
        grant_type: None,
        limit,
        after: None,
    }
}

/// The client ids of one listed page, in order.
pub async fn ids(store: &Store, filter: ClientFilter) -> Vec<String> {
    let page = store.clients().list(&filter).await.unwrap();
    page.items
        .into_iter()
        .map(|c| c.client_id.to_string())
        .collect()
}

/// A user with an e-mail and display name derived from its username.
pub fn user(id: &str, username: &str, is_admin: bool, created_at: Timestamp) -> UserRecord {
    UserRecord {
        user: User {
            id: id.into(),
            profile: UserProfile {
                username: username.into(),
                email: Some(format!("{}@example.com", username.to_lowercase())),
                display_name: Some(format!("Ä {username}")),
                status: UserStatus::Active,
                is_admin,
            },
            created_at,
            updated_at: created_at,
        },
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA${id}"),
    }
}

/// Stores `user(id, username, false, NOW)`.
pub async fn create_user(store: &Store, id: &str, username: &str) {
    store
        .users()
        .create(&user(id, username, false, NOW), &audit("user.created", id))
        .await
        .unwrap();
}

/// Sets user `id`'s status to disabled, as the admin API does before it signs the user
/// out everywhere.
pub async fn disable_user(store: &Store, id: &str) {
    let mut user = store.users().get(id).await.unwrap().unwrap();
    user.profile.status = UserStatus::Disabled;
    store
        .users()
        .update(&user, None, &audit("user.updated", id))
        .await
        .unwrap();
}

/// A refresh token of `family` for user `u-1` and client `ts_app`, issued at
/// `created_at` with access token `jti-<hash>`, both living an hour.
pub fn refresh_token(hash: &str, family: &str, created_at: Timestamp) -> RefreshTokenRecord {
    RefreshTokenRecord {
        token_hash: hash.to_owned(),
        family_id: family.to_owned(),
        client_id: id("ts_app"),
        user_id: "u-1".to_owned(),
        scope: "openid offline_access".to_owned(),
        auth_time: NOW,
        session_id_hash: Some("s-hash".to_owned()),
        created_at,
        expires_at: created_at.plus_seconds(3600),
        rotated_at: None,
        revoked_at: None,
        access_token_jti: Some(format!("jti-{hash}")),
        access_token_expires_at: Some(created_at.plus_seconds(3600)),
        successor_hash: None,
    }
}

/// User `u-1` and client `ts_app`, what the end-user cases issue to.
pub async fn create_user_and_client(store: &Store) {
    create_user(store, "u-1", "alice").await;
    create_client(store, "ts_app", "App", NOW).await;
}

/// User `u-2` and client `ts_other`, beside `create_user_and_client`'s: the cascade
/// cases delete these and check that the others' rows stay.
pub async fn create_other_user_and_client(store: &Store) {
    create_user(store, "u-2", "bob").await;
    create_client(store, "ts_other", "Other", NOW).await;
}

pub async fn delete_other_user_and_client(store: &Store) {
    store
        .clients()
        .delete(&id("ts_other"), &audit("client.deleted", "ts_other"))
        .await
        .unwrap();
    store
        .users()
        .delete("u-2", &audit("user.deleted", "u-2"))
        .await
        .unwrap();
}
