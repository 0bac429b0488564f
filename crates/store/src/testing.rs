//! Throw-away databases for tests (feature `testing`): a fresh SQLite file in a temp
//! directory, or a fresh schema in the PostgreSQL named by `THETASECURE_TEST_DATABASE_URL`.
//! A test helper fails loudly: panics here are deliberate.
#![allow(clippy::panic, clippy::expect_used)]

use sqlx::Connection;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteConnection;

use crate::{Engine, Store};

pub const DATABASE_URL_ENV: &str = "THETASECURE_TEST_DATABASE_URL";

/// Both engines, for tests that loop over them.
pub fn engines() -> [Engine; 2] {
    [Engine::Sqlite, Engine::Postgres]
}

/// Lives as long as the database: dropping it removes the file or the schema.
pub struct TestDatabase {
    url: String,
    _dir: Option<tempfile::TempDir>,
    /// (server URL without the schema option, schema name)
    schema: Option<(String, String)>,
}

impl TestDatabase {
    /// `None` when PostgreSQL is asked for but `THETASECURE_TEST_DATABASE_URL` is unset
    /// (a reason is printed); with `CI=true` that panics instead, so CI cannot skip it.
    pub async fn new(engine: Engine) -> Option<TestDatabase> {
        match engine {
            Engine::Sqlite => {
                let dir = tempfile::Builder::new()
                    .prefix("thetasecure-test-")
                    .tempdir()
                    .expect("create a temp directory");
                let url = format!("sqlite://{}", dir.path().join("thetasecure.db").display());
                Some(TestDatabase {
                    url,
                    _dir: Some(dir),
                    schema: None,
                })
            }
            Engine::Postgres => {
                let base = required_in_ci(DATABASE_URL_ENV, "PostgreSQL case")?;
                let schema = format!("ts_test_{}", uuid::Uuid::now_v7().simple());
                let mut conn = PgConnection::connect(&base)
                    .await
                    .unwrap_or_else(|err| panic!("connect to {DATABASE_URL_ENV}: {err}"));
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                    .execute(&mut conn)
                    .await
                    .unwrap_or_else(|err| panic!("create schema {schema}: {err}"));
                let _ = conn.close().await;
                // libpq's `options` parameter: every connection of the pool, and of a
                // server subprocess given this URL, uses the schema. The migrations'
                // bookkeeping table lands there too, so each test stands alone.
                let separator = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
                Some(TestDatabase {
                    url,
                    _dir: None,
                    schema: Some((base, schema)),
                })
            }
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs `sql` on its own connection, outside the store: a change no instance is told
    /// of, neither notified nor logged in `client_changes` unless `sql` logs it.
    pub async fn execute_unannounced(&self, sql: &str) {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        if self.schema.is_some() {
            let mut conn = PgConnection::connect(&self.url).await.expect("connect");
            sqlx::raw_sql(sql)
                .execute(&mut conn)
                .await
                .expect("execute");
            let _ = conn.close().await;
        } else {
            let mut conn = SqliteConnection::connect(&self.url).await.expect("connect");
            sqlx::raw_sql(sql)
                .execute(&mut conn)
                .await
                .expect("execute");
            let _ = conn.close().await;
        }
    }

    /// PostgreSQL: the backend process ids of the change-feed listeners on this
    /// database's schema (`changes::listener`), each found by its application name and
    /// the channel its last statement names.
    pub async fn change_feed_listeners(&self) -> Vec<i32> {
        let Some((base, schema)) = &self.schema else {
            return Vec::new();
        };
        let listen = format!(r#"LISTEN "{}""#, crate::changes::channel_for(schema));
        let mut conn = PgConnection::connect(base).await.expect("connect");
        let pids = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query = $2",
        )
        .bind(crate::changes::listener::APPLICATION_NAME)
        .bind(listen)
        .fetch_all(&mut conn)
        .await
        .expect("read pg_stat_activity");
        let _ = conn.close().await;
        pids
    }

    /// PostgreSQL: ends the connections of `change_feed_listeners`, as a network cut or
    /// a database restart would; returns how many.
    pub async fn cut_change_feed(&self) -> usize {
        let pids = self.change_feed_listeners().await;
        let Some((base, _)) = &self.schema else {
            return 0;
        };
        let mut conn = PgConnection::connect(base).await.expect("connect");
        for pid in &pids {
            sqlx::query("SELECT pg_terminate_backend($1)")
                .bind(pid)
                .execute(&mut conn)
                .await
                .expect("terminate a listener");
        }
        let _ = conn.close().await;
        pids.len()
    }

    /// A connected, migrated store on this database.
    pub async fn store(&self) -> Store {
        let store = Store::connect(&self.url)
            .await
            .expect("connect to the test database");
        store.migrate().await.expect("migrate the test database");
        store
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((base, schema)) = self.schema.take() else {
            return;
        };
        // Drop may run inside an async runtime, which must not block on itself: use a
        // thread with its own small runtime. Best effort: a leftover schema is harmless.
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(mut conn) = PgConnection::connect(&base).await {
                    let drop = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(drop))
                        .execute(&mut conn)
                        .await;
                    let _ = conn.close().await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// The value of the test setting `variable`, or `None` after printing why `what` is
/// skipped; with `CI=true` a missing setting fails the test instead, so CI cannot skip.
pub fn required_in_ci(variable: &str, what: &str) -> Option<String> {
    if let Some(value) = std::env::var(variable).ok().filter(|v| !v.is_empty()) {
        return Some(value);
    }
    if std::env::var("CI").is_ok_and(|ci| ci == "true") {
        panic!("{variable} is unset but CI=true: every {what} must run in CI");
    }
    eprintln!("skipping {what}: {variable} is unset");
    None
}
