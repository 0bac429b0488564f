//! Opening a store the way ThetaSecure does.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::sqlite::SqlitePool;
use thetasecure_store::pools;

pub(crate) enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Store {
    /// `sqlite://path` or `postgres://…`, opened with ThetaSecure's own connection and
    /// pool settings.
    pub(crate) async fn open(url: &str) -> anyhow::Result<Self> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                anyhow::bail!("the sqlite URL names no file");
            }
            let (options, pool) = pools::sqlite(path);
            Ok(Self::Sqlite(pool.connect_with(options).await?))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)
                .map_err(|err| anyhow::anyhow!("invalid postgres URL: {err}"))?;
            Ok(Self::Postgres(
                pools::postgres().connect_with(options).await?,
            ))
        } else {
            anyhow::bail!("unsupported database URL: expected sqlite://… or postgres://…")
        }
    }
}
