//! Seeding a migrated ThetaSecure store with many clients, straight through SQL: creating
//! 100,000 clients (or 1,000,000) through the API would take one fsync'd transaction each.
//!
//! The rows copy the shape of those the server writes for
//! `{"client_name":…,"grant_types":["client_credentials"],"scope":"directory.read"}`:
//! a `custom` client using `client_secret_basic`, JSON text arrays, unix
//! milliseconds, and `search_text = lowercase(client_name || ' ' || client_id)`. Client
//! `i` is named `Bench client NNNNNN` (at least six digits), so a search for one six-digit
//! number matches one client (of up to 1,000,000) and must scan them all.
//!
//! With `credentials = K`, the first K clients (`i < K`, the newest) also get one active
//! secret each, as the server stores it: `tss_` + 43 base64url characters, hashed with
//! the server's own `SecretHasher` under the server key of the store's data directory, a
//! UUIDv7 record id and the secret's hint. The secret is derived from the run's seed and
//! the client's index, and each client's `base64(client_id:secret)` (an HTTP Basic
//! credential) is written to a file, one line per client in index order, for the Lua
//! scripts to load.
//!
//! Everything goes in one transaction: batched multi-row `INSERT`s on SQLite (with a page
//! cache big enough for the indexes of a million rows), `COPY … FROM STDIN` on
//! PostgreSQL, where the secondary indexes of `clients` are dropped for the load and
//! created again from their own stored definitions (a GIN trigram index builds far faster
//! in one pass than row by row). Then the tables are analyzed (and vacuumed on
//! PostgreSQL), so the server starts on a settled store.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use data_encoding::{BASE64, BASE64URL_NOPAD};
use sqlx::{Postgres, QueryBuilder, Sqlite};
use thetasecure_app::ServerKey;
use thetasecure_core::secret::{PlainSecret, SecretHasher};

use crate::store::Store;

/// Rows per multi-row INSERT: 500 × 17 parameters stays under both engines' limits.
const BATCH: u32 = 500;
/// Secret rows per multi-row INSERT: 1,000 × 8 parameters.
const SECRET_BATCH: usize = 1000;
/// Rows per `COPY` message on PostgreSQL.
const COPY_BATCH: u32 = 10_000;

/// What `thetasecure-bench seed` does.
pub(crate) struct Plan {
    pub(crate) count: u32,
    /// The first `credentials` clients get a secret each.
    pub(crate) credentials: u32,
    /// The server key (as the server reads it: `secret.key` in its data directory).
    pub(crate) server_key_file: Option<PathBuf>,
    /// Where the Basic credentials go, one line per client.
    pub(crate) credentials_out: Option<PathBuf>,
    /// Apply the store's migrations first (for a store no server has opened).
    pub(crate) migrate: bool,
}

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

const COLUMN_LIST: &str = "client_id, client_type, client_name, description, \
     redirect_uris, grant_types, response_types, scope, token_endpoint_auth_method, \
     require_user_consent, access_token_ttl_seconds, status, is_default, created_at, \
     updated_at, tokens_revoked_before, search_text";

const SECRET_INSERT: &str = "INSERT INTO client_secrets (id, client_id, hash, hint, \
     created_at, expires_at, revoked_at, last_used_at) ";

/// SplitMix64: deterministic, well-spread bits for the ids and secrets.
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

/// Client `i`'s secret, shaped as `PlainSecret::generate` shapes them (`tss_` + 32 bytes
/// in base64url), derived from the run's seed and `i` (a different stream than the id's).
fn client_secret(seed: u64, i: u32) -> PlainSecret {
    let mut state = !seed ^ u64::from(i).wrapping_mul(0xA24B_AED4_963E_E407);
    let mut bytes = [0u8; 32];
    for chunk in bytes.chunks_exact_mut(8) {
        chunk.copy_from_slice(&splitmix(&mut state).to_le_bytes());
    }
    PlainSecret::new(format!(
        "{}{}",
        PlainSecret::PREFIX,
        BASE64URL_NOPAD.encode(&bytes)
    ))
}

/// The HTTP Basic credential (RFC 7617) of a client: `base64(client_id:secret)`. Neither
/// holds a character RFC 6749 §2.3.1's form-encoding would change.
fn basic_credential(client_id: &str, secret: &PlainSecret) -> String {
    BASE64.encode(format!("{client_id}:{}", secret.expose()).as_bytes())
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

/// One secret record, as `App::secret_record` makes it.
struct SeedSecret {
    id: String,
    client_id: String,
    hash: Vec<u8>,
    hint: String,
    created_at: i64,
}

/// Client `i`'s secret record and Basic credential.
fn seed_secret(hasher: &SecretHasher, seed: u64, now_ms: i64, i: u32) -> (SeedSecret, String) {
    let client = client_id(seed, i);
    let secret = client_secret(seed, i);
    let credential = basic_credential(&client, &secret);
    let record = SeedSecret {
        id: uuid::Uuid::now_v7().to_string(),
        hash: hasher.hash(&secret).as_bytes().to_vec(),
        hint: secret.hint(),
        created_at: now_ms - i64::from(i) - 1,
        client_id: client,
    };
    (record, credential)
}

/// Binds one batch of seeded clients, in `COLUMN_LIST` order; a macro because the two
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

/// Binds one batch of secret records, in `SECRET_INSERT` order.
macro_rules! push_secret_rows {
    ($query:expr, $batch:expr) => {
        $query.push_values($batch, |mut row, s: &SeedSecret| {
            row.push_bind(s.id.as_str())
                .push_bind(s.client_id.as_str())
                .push_bind(s.hash.as_slice())
                .push_bind(s.hint.as_str())
                .push_bind(s.created_at)
                .push_bind(None::<i64>)
                .push_bind(None::<i64>)
                .push_bind(None::<i64>);
        })
    };
}

/// One client as a line of PostgreSQL's `COPY` text format, in `COLUMN_LIST` order. No
/// value holds a tab, newline or backslash (ids are base32, names ASCII digits).
fn copy_line(out: &mut String, c: &SeedClient) {
    let _ = writeln!(
        out,
        "{}\t{CLIENT_TYPE}\t{}\t\\N\t{REDIRECT_URIS}\t{GRANT_TYPES}\t{RESPONSE_TYPES}\t{SCOPE}\t\
         {AUTH_METHOD}\tf\t\\N\t{STATUS}\tf\t{}\t{}\t\\N\t{}",
        c.client_id, c.client_name, c.created_at, c.created_at, c.search_text
    );
}

pub(crate) async fn run(database_url: &str, plan: &Plan) -> anyhow::Result<()> {
    anyhow::ensure!(
        plan.credentials <= plan.count,
        "--credentials ({}) cannot exceed --count ({})",
        plan.credentials,
        plan.count
    );
    if plan.migrate {
        let store = thetasecure_store::Store::connect(database_url).await?;
        store.migrate().await?;
        store.close().await;
    }
    let started = std::time::Instant::now();
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?;
    let now_ms = i64::try_from(now.as_millis())?;
    let seed = u64::try_from(now.as_nanos() & u128::from(u64::MAX))?;

    // The secrets first: hashed with the server's own hasher, under its key.
    let (secrets, credentials) = if plan.credentials > 0 {
        let (Some(key_file), Some(out)) = (&plan.server_key_file, &plan.credentials_out) else {
            anyhow::bail!("--credentials needs --server-key-file and --credentials-out");
        };
        let text = std::fs::read_to_string(key_file)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", key_file.display()))?;
        let hasher = ServerKey::parse(&text)?.secret_hasher();
        let mut lines = String::with_capacity(usize::try_from(plan.credentials)? * 90);
        let secrets: Vec<SeedSecret> = (0..plan.credentials)
            .map(|i| {
                let (record, credential) = seed_secret(&hasher, seed, now_ms, i);
                lines.push_str(&credential);
                lines.push('\n');
                record
            })
            .collect();
        (secrets, Some((out, lines)))
    } else {
        (Vec::new(), None)
    };

    let store = Store::open(database_url).await?;
    match &store {
        Store::Sqlite(pool) => seed_sqlite(pool, plan.count, seed, now_ms, &secrets).await?,
        Store::Postgres(pool) => seed_postgres(pool, plan.count, seed, now_ms, &secrets).await?,
    }
    if let Some((out, lines)) = credentials {
        std::fs::write(out, lines)?;
    }
    println!(
        "seeded {} clients ({} with a secret) in {:.1} s",
        plan.count,
        plan.credentials,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn client_batches(
    count: u32,
    batch: u32,
    seed: u64,
    now_ms: i64,
) -> impl Iterator<Item = Vec<SeedClient>> {
    (0..count).step_by(batch as usize).map(move |start| {
        (start..count.min(start.saturating_add(batch)))
            .map(|i| seed_client(seed, now_ms, i))
            .collect::<Vec<_>>()
    })
}

async fn seed_sqlite(
    pool: &sqlx::SqlitePool,
    count: u32,
    seed: u64,
    now_ms: i64,
    secrets: &[SeedSecret],
) -> anyhow::Result<()> {
    let mut conn = pool.acquire().await?;
    // The primary key and the search index take rows in random order: with SQLite's
    // default 2 MiB cache a million of them spill to the WAL over and over.
    sqlx::query("PRAGMA cache_size = -524288")
        .execute(&mut *conn)
        .await?;
    let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?;
    for batch in client_batches(count, BATCH, seed, now_ms) {
        let mut query =
            QueryBuilder::<Sqlite>::new(format!("INSERT INTO clients ({COLUMN_LIST}) "));
        push_client_rows!(query, batch);
        query.build().execute(&mut *tx).await?;
    }
    for batch in secrets.chunks(SECRET_BATCH) {
        let mut query = QueryBuilder::<Sqlite>::new(SECRET_INSERT);
        push_secret_rows!(query, batch);
        query.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    // Back to the pool's setting (-2000, SQLite's default) before the connection returns.
    sqlx::query("PRAGMA cache_size = -2000")
        .execute(&mut *conn)
        .await?;
    sqlx::query("ANALYZE").execute(&mut *conn).await?;
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn seed_postgres(
    pool: &sqlx::PgPool,
    count: u32,
    seed: u64,
    now_ms: i64,
    secrets: &[SeedSecret],
) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    // The secondary indexes of `clients` (not those backing a constraint), as stored.
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT indexname::text, indexdef FROM pg_indexes
         WHERE schemaname = current_schema() AND tablename = 'clients'
           AND indexname NOT IN (SELECT conname FROM pg_constraint
                                 WHERE conrelid = 'clients'::regclass)",
    )
    .fetch_all(&mut *tx)
    .await?;
    for (name, _) in &indexes {
        // Names and definitions read from the catalog just above, not from any input.
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP INDEX \"{name}\"")))
            .execute(&mut *tx)
            .await?;
    }
    {
        let mut copy = tx
            .copy_in_raw(&format!("COPY clients ({COLUMN_LIST}) FROM STDIN"))
            .await?;
        let mut text = String::new();
        for batch in client_batches(count, COPY_BATCH, seed, now_ms) {
            text.clear();
            for client in &batch {
                copy_line(&mut text, client);
            }
            copy.send(text.as_bytes()).await?;
        }
        copy.finish().await?;
    }
    sqlx::query("SET LOCAL maintenance_work_mem = '512MB'")
        .execute(&mut *tx)
        .await?;
    for (_, definition) in &indexes {
        sqlx::query(sqlx::AssertSqlSafe(definition.as_str()))
            .execute(&mut *tx)
            .await?;
    }
    for batch in secrets.chunks(SECRET_BATCH) {
        let mut query = QueryBuilder::<Postgres>::new(SECRET_INSERT);
        push_secret_rows!(query, batch);
        query.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    // Settled before the server starts: statistics, and a visibility map so that
    // autovacuum has nothing left to do on a million fresh rows during the measurement.
    sqlx::query("VACUUM (ANALYZE) clients")
        .execute(pool)
        .await?;
    sqlx::query("VACUUM (ANALYZE) client_secrets")
        .execute(pool)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_have_the_servers_shape_and_differ_per_client() {
        let a = client_secret(7, 0);
        let b = client_secret(7, 1);
        assert_ne!(a, b);
        assert_eq!(a, client_secret(7, 0));
        assert_ne!(a, client_secret(8, 0));
        let rest = a.expose().strip_prefix("tss_").unwrap();
        assert_eq!(rest.len(), 43);
        assert!(
            rest.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(
            PlainSecret::generate().expose().len(),
            a.expose().len(),
            "as long as a generated secret"
        );
    }

    #[test]
    fn basic_credential_decodes_to_id_colon_secret() {
        let id = client_id(3, 5);
        let secret = client_secret(3, 5);
        let decoded = BASE64
            .decode(basic_credential(&id, &secret).as_bytes())
            .unwrap();
        assert_eq!(
            String::from_utf8(decoded).unwrap(),
            format!("{id}:{}", secret.expose())
        );
    }

    #[test]
    fn seeded_secret_verifies_with_the_servers_hasher() {
        let key = ServerKey::generate();
        let hasher = key.secret_hasher();
        let (record, _) = seed_secret(&hasher, 11, 1_000, 4);
        let secret = client_secret(11, 4);
        let again = ServerKey::parse(&key.encode()).unwrap().secret_hasher();
        assert!(again.verify(
            &secret,
            &thetasecure_core::secret::SecretHash::from_bytes(record.hash.clone())
        ));
        assert_eq!(record.hint, secret.expose()[..8]);
        assert_eq!(record.client_id, client_id(11, 4));
    }

    #[test]
    fn copy_lines_have_every_column() {
        let mut out = String::new();
        copy_line(&mut out, &seed_client(1, 10_000, 42));
        let fields: Vec<&str> = out.trim_end_matches('\n').split('\t').collect();
        assert_eq!(fields.len(), COLUMN_LIST.split(',').count());
        assert_eq!(fields[2], "Bench client 000042");
        assert_eq!(fields[3], "\\N");
        assert_eq!(fields[13], "9957");
    }

    /// The whole path on SQLite: a migrated store, clients with and without secrets, and
    /// the written credentials naming stored clients whose secrets verify.
    #[tokio::test]
    async fn seeds_a_sqlite_store_with_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let key = ServerKey::generate();
        let key_file = dir.path().join("secret.key");
        std::fs::write(&key_file, key.encode()).unwrap();
        let out = dir.path().join("credentials.txt");
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let plan = Plan {
            count: 1_203,
            credentials: 1_001,
            server_key_file: Some(key_file),
            credentials_out: Some(out.clone()),
            migrate: true,
        };
        run(&url, &plan).await.unwrap();

        let lines: Vec<String> = std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(lines.len(), 1_001);
        let Store::Sqlite(pool) = Store::open(&url).await.unwrap() else {
            unreachable!()
        };
        let clients: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM clients")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(clients, 1_203);
        let hasher = key.secret_hasher();
        for line in [&lines[0], &lines[1_000]] {
            let decoded = String::from_utf8(BASE64.decode(line.as_bytes()).unwrap()).unwrap();
            let (id, secret) = decoded.split_once(':').unwrap();
            let hash: Vec<u8> =
                sqlx::query_scalar("SELECT hash FROM client_secrets WHERE client_id = $1")
                    .bind(id)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            assert!(hasher.verify(
                &PlainSecret::new(secret.to_owned()),
                &thetasecure_core::secret::SecretHash::from_bytes(hash)
            ));
        }
        // In the search index the triggers keep (trigrams, no positions: `"000" AND …`).
        let indexed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM client_search_keys")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(indexed, 1_203);
        let found: Vec<String> = sqlx::query_scalar(
            "SELECT c.client_name FROM clients c JOIN client_search_keys k USING (client_id)
             WHERE k.id IN (SELECT rowid FROM client_search
                            WHERE client_search MATCH '\"000\" AND \"004\" AND \"042\"')
               AND instr(c.search_text, '000042') > 0",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(found, ["Bench client 000042"]);
    }
}
