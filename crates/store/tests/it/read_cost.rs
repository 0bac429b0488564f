//! What the token path's miss costs on SQLite (#15 item 3): a primary-key read on a
//! connection of its own (SQLite's cost and sqlx's worker), the same through a pool
//! that pings each connection before handing it out (sqlx's default) and one that does
//! not (ours), and the client with its secrets read as two statements (before) and as
//! one (`get_with_active_secrets`). A measurement, not a check: it prints microseconds
//! per read (the fastest of ten batches) for docs/performance.md. Run:
//! `cargo test -p thetasecure-store --test it read_cost -- --ignored --nocapture`

use std::time::Instant;

use sqlx::{Connection, SqliteConnection};
use thetasecure_core::ids::ClientId;
use thetasecure_store::testing::TestDatabase;
use thetasecure_store::{Engine, Store, pools};

use crate::support::*;

const READS: u32 = 1_000;
const BATCHES: u32 = 10;
const CLIENTS: usize = 1_000;

const PK_READ: &str =
    "SELECT client_id, client_name, scope, status FROM clients WHERE client_id = $1";

/// Microseconds per call of `read`: the fastest of `BATCHES` batches of `READS` calls
/// spread over the clients, since other work on a shared machine only ever adds time.
async fn per_read<F, Fut>(what: &str, ids: &[String], mut read: F) -> f64
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = ()>,
{
    for id in ids {
        read(id.clone()).await; // warm the page cache and the statement caches
    }
    let mut fastest = f64::MAX;
    for _ in 0..BATCHES {
        let started = Instant::now();
        for n in 0..READS {
            read(ids[n as usize % ids.len()].clone()).await;
        }
        fastest = fastest.min(started.elapsed().as_secs_f64() * 1e6 / f64::from(READS));
    }
    println!("{what}: {fastest:.1} µs per read");
    fastest
}

/// `CLIENTS` confidential clients with a secret each; their ids.
async fn seed(store: &Store) -> Vec<String> {
    let mut ids = Vec::with_capacity(CLIENTS);
    for n in 0..CLIENTS {
        let client_id = format!("ts_read{n:05}");
        store
            .clients()
            .create(
                &client(&client_id, &format!("Reader {n}"), at(0)),
                Some(&secret(&client_id, &format!("s{n}"), at(0))),
                &audit("client.created", &client_id),
            )
            .await
            .unwrap();
        ids.push(client_id);
    }
    ids
}

/// The client with its secrets as two statements and as one, through the store, in
/// alternating batches so that both meet the same interference; the fastest batch of
/// each.
async fn store_reads(engine: &str, store: &Store, ids: &[String]) {
    let ids: Vec<ClientId> = ids.iter().map(|id| ClientId::parse(id).unwrap()).collect();
    let (mut two, mut one) = (f64::MAX, f64::MAX);
    for _ in 0..BATCHES {
        let started = Instant::now();
        for n in 0..READS {
            let id = &ids[n as usize % ids.len()];
            store.clients().get(id).await.unwrap().unwrap();
            store.secrets().list(id).await.unwrap();
        }
        two = two.min(started.elapsed().as_secs_f64() * 1e6 / f64::from(READS));
        let started = Instant::now();
        for n in 0..READS {
            let id = &ids[n as usize % ids.len()];
            let found = store.clients().get_with_active_secrets(id, at(1)).await;
            assert_eq!(found.unwrap().unwrap().1.len(), 1);
        }
        one = one.min(started.elapsed().as_secs_f64() * 1e6 / f64::from(READS));
    }
    println!("{engine} store: client, then its secrets (two reads): {two:.1} µs per read");
    println!("{engine} store: get_with_active_secrets (one read): {one:.1} µs per read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: prints the cost of a client read on PostgreSQL"]
async fn read_cost_postgres() {
    let Some(database) = TestDatabase::new(Engine::Postgres).await else {
        return;
    };
    let store = database.store().await;
    let ids = seed(&store).await;
    store_reads("PostgreSQL", &store, &ids).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: prints the cost of a client read on SQLite"]
async fn read_cost() {
    let database = TestDatabase::new(Engine::Sqlite).await.unwrap();
    let store = database.store().await;
    let ids = seed(&store).await;
    let path = database.url().trim_start_matches("sqlite://").to_owned();

    let conn = std::sync::Arc::new(tokio::sync::Mutex::new(
        SqliteConnection::connect(database.url()).await.unwrap(),
    ));
    per_read("primary-key read, own connection", &ids, |id| {
        let conn = conn.clone();
        async move {
            let mut conn = conn.lock().await;
            sqlx::query(PK_READ)
                .bind(id)
                .fetch_optional(&mut *conn)
                .await
                .unwrap();
        }
    })
    .await;

    for ping in [true, false] {
        let (options, pool) = pools::sqlite(&path);
        let pool = pool
            .test_before_acquire(ping)
            .connect_with(options)
            .await
            .unwrap();
        per_read(
            &format!("primary-key read through the pool, ping before acquire: {ping}"),
            &ids,
            |id| {
                let pool = pool.clone();
                async move {
                    sqlx::query(PK_READ)
                        .bind(id)
                        .fetch_optional(&pool)
                        .await
                        .unwrap();
                }
            },
        )
        .await;
        pool.close().await;
    }

    store_reads("SQLite", &store, &ids).await;
    store.close().await;
}
