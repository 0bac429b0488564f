//! Seeding a migrated ThetaSecure store with many clients, straight through SQL: creating
//! 100,000 clients through the API would take one fsync'd transaction each.
//!
//! The rows copy the shape of those the server writes for
//! `{"client_name":…,"grant_types":["client_credentials"],"scope":"directory.read"}`:
//! a `custom` client using `client_secret_basic`, JSON text arrays, unix
//! milliseconds, and `search_text = lowercase(client_name || ' ' || client_id)`. Seeded
//! clients have no secrets. Client `i` is named `Bench client NNNNNN` (six digits), so a
//! search for one six-digit number matches one client and must scan them all.

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::{Postgres, QueryBuilder, Sqlite};

use crate::store::Store;

/// Rows per multi-row INSERT: 500 × 17 parameters stays under both engines' limits.
const BATCH: u32 = 500;

struct SeedClient {
    client_id: String,
    client_name: String,
    created_at: i64,
    search_text: String,
}

const CLIENT_TYPE: &str = "custom";
const REDIRECT_URIS: &str = "[]";
const GRANT_TYPES: &str = r#"["client_credentials"]"#;
const RESPONSE_TYPES: &str = "[]";
const SCOPE: &str = "directory.read";
const AUTH_METHOD: &str = "client_secret_basic";
const STATUS: &str = "active";

const COLUMNS: &str = "INSERT INTO clients (client_id, client_type, client_name, description, \
     redirect_uris, grant_types, response_types, scope, token_endpoint_auth_method, \
     require_user_consent, access_token_ttl_seconds, status, is_default, created_at, \
     updated_at, tokens_revoked_before, search_text) ";

/// SplitMix64: deterministic, well-spread bits for the ids.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `ts_` + 26 lowercase base32 characters, as `ClientId::generate` makes them.
fn client_id(seed: u64, i: u32) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut state = seed ^ u64::from(i).wrapping_mul(0xD6E8_FEB8_6659_FD93);
    let mut bits = u128::from(splitmix(&mut state)) << 64 | u128::from(splitmix(&mut state));
    let mut id = String::with_capacity(29);
    id.push_str("ts_");
    for _ in 0..26 {
        let index = usize::try_from(bits & 31).unwrap_or_default();
        id.push(char::from(ALPHABET[index]));
        bits >>= 5;
    }
    id
}

fn seed_client(seed: u64, now_ms: i64, i: u32) -> SeedClient {
    let client_id = client_id(seed, i);
    let client_name = format!("Bench client {i:06}");
    let search_text = format!("{client_name} {client_id}").to_lowercase();
    SeedClient {
        client_id,
        client_name,
        // Distinct, older than anything created after the seeding.
        created_at: now_ms - i64::from(i) - 1,
        search_text,
    }
}

/// Binds one batch of seeded clients, in `COLUMNS` order; a macro because the two
/// engines' query builders are different types.
macro_rules! push_client_rows {
    ($query:expr, $batch:expr) => {
        $query.push_values(&$batch, |mut row, c| {
            row.push_bind(c.client_id.as_str())
                .push_bind(CLIENT_TYPE)
                .push_bind(c.client_name.as_str())
                .push_bind(None::<String>)
                .push_bind(REDIRECT_URIS)
                .push_bind(GRANT_TYPES)
                .push_bind(RESPONSE_TYPES)
                .push_bind(SCOPE)
                .push_bind(AUTH_METHOD)
                .push_bind(false)
                .push_bind(None::<i64>)
                .push_bind(STATUS)
                .push_bind(false)
                .push_bind(c.created_at)
                .push_bind(c.created_at)
                .push_bind(None::<i64>)
                .push_bind(c.search_text.as_str());
        })
    };
}

pub(crate) async fn run(database_url: &str, count: u32) -> anyhow::Result<()> {
    let store = Store::open(database_url).await?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?;
    let now_ms = i64::try_from(now.as_millis())?;
    let seed = u64::try_from(now.as_nanos() & u128::from(u64::MAX))?;
    let batches = (0..count).step_by(usize::try_from(BATCH)?).map(|start| {
        (start..count.min(start.saturating_add(BATCH)))
            .map(|i| seed_client(seed, now_ms, i))
            .collect::<Vec<_>>()
    });
    match &store {
        Store::Sqlite(pool) => {
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            for batch in batches {
                let mut query = QueryBuilder::<Sqlite>::new(COLUMNS);
                push_client_rows!(query, batch);
                query.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            sqlx::query("ANALYZE").execute(pool).await?;
        }
        Store::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            for batch in batches {
                let mut query = QueryBuilder::<Postgres>::new(COLUMNS);
                push_client_rows!(query, batch);
                query.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            sqlx::query("ANALYZE clients").execute(pool).await?;
        }
    }
    println!("seeded {count} clients");
    Ok(())
}
