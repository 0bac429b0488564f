use std::time::{Duration, Instant};

use thetasecure_store::testing::TestDatabase;
use thetasecure_store::{Engine, Store, StoreError};

use crate::support::*;

conformance!(run_fresh: concurrent_migrate_migrates_once, ready_requires_migrations);
conformance!(
    committed_writes_are_visible_to_a_second_store,
    migrate_is_idempotent
);

async fn concurrent_migrate_migrates_once(url: String) {
    let (a, b) = tokio::join!(Store::connect(&url), Store::connect(&url));
    let (a, b) = (a.unwrap(), b.unwrap());
    let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
    ra.unwrap();
    rb.unwrap();
    a.ready().await.unwrap();
    b.ready().await.unwrap();
    // The schema works after both.
    a.clients()
        .create(
            &client("ts_m", "M", NOW),
            None,
            &audit("client.created", "ts_m"),
        )
        .await
        .unwrap();
    assert_eq!(b.clients().count().await.unwrap(), 1);
    a.close().await;
    b.close().await;
}

async fn ready_requires_migrations(url: String) {
    let store = Store::connect(&url).await.unwrap();
    assert!(store.ready().await.is_err(), "not ready before migrate");
    store.migrate().await.unwrap();
    store.ready().await.unwrap();
    store.close().await;
}

async fn migrate_is_idempotent(env: Env) {
    env.store.migrate().await.unwrap();
    env.store.ready().await.unwrap();
}

async fn committed_writes_are_visible_to_a_second_store(env: Env) {
    let c = client("ts_durable", "Durable", NOW);
    env.store
        .clients()
        .create(
            &c,
            Some(&secret("ts_durable", "sd", NOW)),
            &audit("client.created", "ts_durable"),
        )
        .await
        .unwrap();
    env.store.close().await;
    let reopened = env.second_store().await;
    reopened.migrate().await.unwrap();
    assert_eq!(
        reopened.clients().get(&c.client_id).await.unwrap(),
        Some(c.clone())
    );
    assert_eq!(
        reopened.secrets().list(&c.client_id).await.unwrap().len(),
        1
    );
    assert_eq!(audit_actions(&reopened).await, ["client.created"]);
    reopened.close().await;
}

#[tokio::test]
async fn unsupported_urls_are_refused() {
    for url in ["mysql://localhost/db", "", "sqlite:", "sqlite://"] {
        assert!(
            matches!(Store::connect(url).await, Err(StoreError::Backend { .. })),
            "{url}"
        );
    }
}

#[tokio::test]
async fn unreachable_postgres_is_unavailable() {
    let err = Store::connect("postgres://nobody@127.0.0.1:1/none")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
}

#[tokio::test]
async fn sqlite_accepts_both_url_forms_and_relative_paths() {
    let dir = tempfile_dir();
    let absolute = format!("sqlite:{}/short-form.db", dir.display());
    let store = Store::connect(&absolute).await.unwrap();
    store.migrate().await.unwrap();
    store.close().await;
    assert!(dir.join("short-form.db").exists());
    // WAL is a property of the file, so a fresh connection can tell it was set.
    use sqlx::Connection;
    let mut raw = sqlx::SqliteConnection::connect(&absolute).await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut raw)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    raw.close().await.unwrap();

    // A relative path is relative to the working directory, taken literally.
    let relative_dir = std::env::current_dir().unwrap();
    let name = format!("target-ts-store-{}.db", uuid::Uuid::now_v7().simple());
    let store = Store::connect(&format!("sqlite://{name}")).await.unwrap();
    store.migrate().await.unwrap();
    store.close().await;
    let path = relative_dir.join(&name);
    assert!(path.exists());
    for suffix in ["", "-wal", "-shm", "-migrate-lock"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ts-store-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A writer that waits out the busy timeout behind another writer gets `Busy`, not a
/// generic error (SECURITY 1.17: 503 + Retry-After).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_exhausted_busy_wait_is_busy() {
    use sqlx::Connection;

    let db = TestDatabase::new(Engine::Sqlite).await.unwrap();
    let store = db.store().await;
    let path = db.url().strip_prefix("sqlite://").unwrap().to_owned();
    let mut blocker = sqlx::SqliteConnection::connect(&format!("sqlite://{path}"))
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut blocker)
        .await
        .unwrap();

    let started = Instant::now();
    let err = store
        .clients()
        .create(
            &client("ts_busy", "Busy", NOW),
            None,
            &audit("client.created", "ts_busy"),
        )
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::Busy);
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "waited for the busy timeout first"
    );

    sqlx::query("ROLLBACK").execute(&mut blocker).await.unwrap();
    store
        .clients()
        .create(
            &client("ts_busy", "Busy", NOW),
            None,
            &audit("client.created", "ts_busy"),
        )
        .await
        .unwrap();
    store.close().await;
}

#[tokio::test]
async fn postgres_test_databases_are_isolated_schemas() {
    let Some(a) = TestDatabase::new(Engine::Postgres).await else {
        return;
    };
    let Some(b) = TestDatabase::new(Engine::Postgres).await else {
        return;
    };
    assert_ne!(a.url(), b.url());
    let (sa, sb) = (a.store().await, b.store().await);
    sa.clients()
        .create(
            &client("ts_iso", "Iso", NOW),
            None,
            &audit("client.created", "ts_iso"),
        )
        .await
        .unwrap();
    assert_eq!(sb.clients().count().await.unwrap(), 0);
    sa.close().await;
    sb.close().await;
}

/// SQLite's search index keys its rows by integers that `VACUUM` must not renumber: after
/// deletes and a `VACUUM`, search still finds exactly the clients there are, and later
/// writes keep the index in step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_search_index_survives_vacuum() {
    use sqlx::Connection;

    let db = TestDatabase::new(Engine::Sqlite).await.unwrap();
    let store = db.store().await;
    let clients = store.clients();
    let search = |term: &str| ids(&store, filter(Some(term), 50));
    for n in 0..20 {
        create_client(
            &store,
            &format!("ts_vac_{n:02}"),
            &format!("Vacuumed {n:02}"),
            at(n),
        )
        .await;
    }
    for n in (0..20).step_by(2) {
        let cid = format!("ts_vac_{n:02}");
        clients
            .delete(&id(&cid), &audit("client.deleted", &cid))
            .await
            .unwrap();
    }
    let path = db.url().strip_prefix("sqlite://").unwrap().to_owned();
    let mut raw = sqlx::SqliteConnection::connect(&format!("sqlite://{path}"))
        .await
        .unwrap();
    sqlx::query("VACUUM").execute(&mut raw).await.unwrap();
    raw.close().await.unwrap();

    assert_eq!(search("vacuumed 13").await, ["ts_vac_13"]);
    assert!(search("vacuumed 12").await.is_empty());
    assert_eq!(search("vacuumed").await.len(), 10);
    clients
        .delete(&id("ts_vac_13"), &audit("client.deleted", "ts_vac_13"))
        .await
        .unwrap();
    create_client(&store, "ts_vac_new", "Vacuumed new", at(30)).await;
    assert!(search("vacuumed 13").await.is_empty());
    assert_eq!(search("vacuumed 15").await, ["ts_vac_15"]);
    assert_eq!(search("ed new").await, ["ts_vac_new"]);
    assert_eq!(search("vacuumed").await.len(), 10);
    store.close().await;
}

/// Upgrading a SQLite store that already holds clients: the migration that adds the
/// search index indexes the clients already there, and later writes keep it in step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_search_index_migration_indexes_existing_clients() {
    use sqlx::Connection;

    let db = TestDatabase::new(Engine::Sqlite).await.unwrap();
    let store = db.store().await;
    create_clients(
        &store,
        &[
            ("ts_legacy_0", "Legacy alpha"),
            ("ts_legacy_1", "Legacy beta"),
        ],
    )
    .await;
    // Back to the schema before the index, clients kept.
    let path = db.url().strip_prefix("sqlite://").unwrap().to_owned();
    let mut raw = sqlx::SqliteConnection::connect(&format!("sqlite://{path}"))
        .await
        .unwrap();
    for statement in [
        "DROP TRIGGER client_search_on_insert",
        "DROP TRIGGER client_search_on_update",
        "DROP TRIGGER client_search_on_delete",
        "DROP TABLE client_search",
        "DROP TABLE client_search_keys",
        "DELETE FROM _sqlx_migrations WHERE version = 3",
    ] {
        sqlx::query(statement).execute(&mut raw).await.unwrap();
    }
    raw.close().await.unwrap();

    store.migrate().await.unwrap();
    let search = |term: &str| ids(&store, filter(Some(term), 10));
    assert_eq!(search("alpha").await, ["ts_legacy_0"]);
    assert_eq!(search("legacy").await, ["ts_legacy_1", "ts_legacy_0"]);
    create_client(&store, "ts_after", "Legacy gamma", at(5)).await;
    assert_eq!(search("gamma").await, ["ts_after"]);
    store.close().await;
}
