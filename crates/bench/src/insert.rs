//! The durable-write yardstick: one single-row INSERT per request, committed (on SQLite
//! in a `BEGIN IMMEDIATE` transaction with `synchronous=FULL`, on PostgreSQL with the
//! default `synchronous_commit=on`) before the `201` goes out. On SQLite the writers
//! queue in the process for their turn, as the store's do, rather than sleeping in
//! SQLite's busy handler: the yardstick writes as well as ThetaSecure knows how.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::{
    Router,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};

use crate::store::Store;

/// Roughly the size of a small client row's JSON.
const PAYLOAD: &str =
    r#"{"client_name":"bench","grant_types":["client_credentials"],"scope":"directory.read"}"#;

struct Inserter {
    store: Store,
    sqlite_write_turn: tokio::sync::Mutex<()>,
    /// Distinguishes ids of different runs against the same table.
    run: u128,
    next: AtomicU64,
}

pub(crate) async fn run(listen: SocketAddr, database_url: &str) -> anyhow::Result<()> {
    let store = Store::open(database_url).await?;
    create_table(&store).await?;
    let run = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let state = Arc::new(Inserter {
        store,
        sqlite_write_turn: tokio::sync::Mutex::new(()),
        run,
        next: AtomicU64::new(0),
    });
    let app = Router::new().route("/", post(insert)).with_state(state);
    crate::serve(listen, app).await
}

async fn create_table(store: &Store) -> anyhow::Result<()> {
    const DDL: &str = "CREATE TABLE IF NOT EXISTS bench_insert (
        id TEXT PRIMARY KEY, payload TEXT, created_at BIGINT)";
    match store {
        Store::Sqlite(pool) => {
            sqlx::query(DDL).execute(pool).await?;
        }
        Store::Postgres(pool) => {
            sqlx::query(DDL).execute(pool).await?;
        }
    }
    Ok(())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .unwrap_or_default()
}

async fn insert(State(state): State<Arc<Inserter>>) -> Response {
    let id = format!(
        "{:x}-{}",
        state.run,
        state.next.fetch_add(1, Ordering::Relaxed)
    );
    match write(&state, &id).await {
        Ok(()) => (
            StatusCode::CREATED,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::json!({ "id": id }).to_string(),
        )
            .into_response(),
        Err(err) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::json!({ "error": err.to_string() }).to_string(),
        )
            .into_response(),
    }
}

async fn write(state: &Inserter, id: &str) -> Result<(), sqlx::Error> {
    const SQL: &str = "INSERT INTO bench_insert (id, payload, created_at) VALUES ($1, $2, $3)";
    match &state.store {
        Store::Sqlite(pool) => {
            let _turn = state.sqlite_write_turn.lock().await;
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            sqlx::query(SQL)
                .bind(id)
                .bind(PAYLOAD)
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        }
        Store::Postgres(pool) => {
            // A single statement outside an explicit transaction commits on its own.
            sqlx::query(SQL)
                .bind(id)
                .bind(PAYLOAD)
                .bind(now_ms())
                .execute(pool)
                .await
                .map(|_| ())
        }
    }
}
