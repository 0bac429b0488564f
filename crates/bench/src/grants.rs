//! Authorization codes and refresh tokens for the redemption and rotation scenarios,
//! written straight into a migrated, bootstrapped store in one transaction: issuing
//! 100,000 of them through the sign-in flow would take as long as the run, and a code
//! lives 60 s. Each is issued to the Desktop Agent default client for the bootstrap
//! `admin`, as a native app's sign-in would leave it (scope `openid offline_access` unless
//! told otherwise, PKCE S256, a loopback redirect), except that it expires in an hour. Prints one token
//! request body per line to `out`: each must be sent once.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::{Postgres, QueryBuilder, Sqlite};
use thetasecure_core::opaque::{OpaqueKind, OpaqueToken};

use crate::store::Store;

const CLIENT_ID: &str = "thetasecure-desktop-agent";
const REDIRECT_URI: &str = "http://127.0.0.1:51000/callback";
/// RFC 7636 Appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const LIFETIME_MS: i64 = 3_600_000;
/// Rows per multi-row INSERT, under both engines' parameter limits.
const BATCH: usize = 1000;

#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum Kind {
    /// Authorization codes, redeemed with `grant_type=authorization_code`.
    Codes,
    /// Refresh tokens, one per family, rotated with `grant_type=refresh_token`.
    RefreshTokens,
}

impl Kind {
    fn opaque(self) -> OpaqueKind {
        match self {
            Self::Codes => OpaqueKind::AuthorizationCode,
            Self::RefreshTokens => OpaqueKind::RefreshToken,
        }
    }

    fn insert(self) -> &'static str {
        match self {
            Self::Codes => {
                "INSERT INTO authorization_codes (code_hash, client_id, user_id, redirect_uri, \
                 scope, code_challenge, auth_time, created_at, expires_at) "
            }
            Self::RefreshTokens => {
                "INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, scope, \
                 auth_time, created_at, expires_at) "
            }
        }
    }

    fn request_body(self, value: &str) -> String {
        match self {
            Self::Codes => format!(
                "grant_type=authorization_code&client_id={CLIENT_ID}&code={value}\
                 &redirect_uri={}&code_verifier={VERIFIER}",
                REDIRECT_URI.replace(':', "%3A").replace('/', "%2F")
            ),
            Self::RefreshTokens => {
                format!("grant_type=refresh_token&client_id={CLIENT_ID}&refresh_token={value}")
            }
        }
    }
}

struct Row {
    hash: String,
    family: String,
}

/// Binds one batch in `Kind::insert` order; a macro because the engines' builders differ.
macro_rules! push_rows {
    ($query:expr, $kind:expr, $batch:expr, $user:expr, $scope:expr, $now:expr) => {
        $query.push_values($batch, |mut row, r: &Row| {
            row.push_bind(r.hash.as_str());
            if matches!($kind, Kind::RefreshTokens) {
                row.push_bind(r.family.as_str());
            }
            row.push_bind(CLIENT_ID)
                .push_bind($user.as_str())
                .push_bind(if matches!($kind, Kind::Codes) {
                    REDIRECT_URI
                } else {
                    $scope
                });
            if matches!($kind, Kind::Codes) {
                row.push_bind($scope).push_bind(CHALLENGE);
            }
            row.push_bind($now)
                .push_bind($now)
                .push_bind($now + LIFETIME_MS);
        })
    };
}

pub(crate) async fn run(
    database_url: &str,
    kind: Kind,
    scope: &str,
    count: u32,
    out: &Path,
) -> anyhow::Result<()> {
    let store = Store::open(database_url).await?;
    let now = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis())?;
    let mut bodies = String::new();
    let rows: Vec<Row> = (0..count)
        .map(|_| {
            let value = OpaqueToken::generate(kind.opaque());
            let _ = writeln!(bodies, "{}", kind.request_body(value.expose()));
            Row {
                hash: value.hash(),
                // As the server names families.
                family: uuid::Uuid::now_v7().to_string(),
            }
        })
        .collect();
    let admin = "SELECT id FROM users WHERE username = 'admin'";
    match &store {
        Store::Sqlite(pool) => {
            let user: String = sqlx::query_scalar(admin).fetch_one(pool).await?;
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            for batch in rows.chunks(BATCH) {
                let mut query = QueryBuilder::<Sqlite>::new(kind.insert());
                push_rows!(query, kind, batch, user, scope, now);
                query.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            sqlx::query("ANALYZE").execute(pool).await?;
        }
        Store::Postgres(pool) => {
            let user: String = sqlx::query_scalar(admin).fetch_one(pool).await?;
            let mut tx = pool.begin().await?;
            for batch in rows.chunks(BATCH) {
                let mut query = QueryBuilder::<Postgres>::new(kind.insert());
                push_rows!(query, kind, batch, user, scope, now);
                query.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            sqlx::query("ANALYZE").execute(pool).await?;
        }
    }
    std::fs::write(out, bodies)?;
    println!("seeded {count} {}", out.display());
    Ok(())
}
