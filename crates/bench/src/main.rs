//! `thetasecure-bench`: the servers and tools `bench/run` drives.
//!
//! - `echo`: a bare axum handler answering any `POST /` with a fixed small JSON, the
//!   same-run ceiling every ThetaSecure figure is divided by.
//! - `sign`: the echo plus minting and signing one access token per request, as
//!   ThetaSecure signs: the floor of any token endpoint, which `client_credentials`
//!   is divided by.
//! - `insert`: one durable single-row `INSERT` per `POST /`, committed before the
//!   `201`, on SQLite (opened as ThetaSecure opens it) or PostgreSQL: the yardstick
//!   for client creation.
//! - `verify`: one Argon2id password verification per `POST /`, as ThetaSecure's
//!   sign-in verifies: the floor of any sign-in.
//! - `seed`: bulk-inserts clients straight into a ThetaSecure store, for the admin
//!   search, console and scaling scenarios; optionally the first K of them with a secret
//!   each (hashed as the server hashes them), their Basic credentials written to a file.
//! - `seed-grants`: bulk-inserts authorization codes or refresh tokens and writes the
//!   token requests that redeem or rotate each once.

mod echo;
mod grants;
mod insert;
mod seed;
mod sign;
mod store;
mod verify;

use std::net::SocketAddr;

use clap::{Parser, Subcommand};
use thetasecure_app::keys::SigningAlg;

#[derive(Parser)]
#[command(name = "thetasecure-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a fixed `{"ok":true}` to any POST on `/`.
    Echo {
        /// Address to bind, e.g. 127.0.0.1:0 for any free port.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
    },
    /// Mint and sign one access token per POST on `/`, answering a token response.
    Sign {
        /// Address to bind, e.g. 127.0.0.1:0 for any free port.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// JWS algorithm: ES256, EdDSA or RS256; read from the variable ThetaSecure reads,
        /// so a scenario's settings apply to both.
        #[arg(long, env = "THETASECURE_SIGNING_ALG", default_value = "ES256", value_parser = parse_alg)]
        alg: SigningAlg,
    },
    /// Perform one durable single-row INSERT per POST on `/`, answering 201 after commit.
    Insert {
        /// Address to bind, e.g. 127.0.0.1:0 for any free port.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// `sqlite://path/to/file.db` or `postgres://user@host:port/db`.
        #[arg(long)]
        database_url: String,
    },
    /// Verify one password with Argon2id per POST on `/`, as ThetaSecure's sign-in does.
    Verify {
        /// Address to bind, e.g. 127.0.0.1:0 for any free port.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
    },
    /// Insert COUNT authorization codes or refresh tokens into a bootstrapped store and
    /// write to OUT the token request bodies that use each once.
    SeedGrants {
        /// The ThetaSecure store: `sqlite://path/to/thetasecure.db` or `postgres://…`.
        #[arg(long)]
        database_url: String,
        #[arg(long, value_enum)]
        kind: grants::Kind,
        /// The scope granted: with `openid`, each redemption or rotation also signs an
        /// ID token (RS256 by default).
        #[arg(long, default_value = "openid offline_access")]
        scope: String,
        #[arg(long, default_value_t = 100_000)]
        count: u32,
        /// File for the request bodies, one per line.
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Insert COUNT clients into a migrated ThetaSecure store in one transaction.
    Seed {
        /// The ThetaSecure store: `sqlite://path/to/thetasecure.db` or `postgres://…`.
        #[arg(long)]
        database_url: String,
        /// Number of clients to insert.
        #[arg(long, default_value_t = 100_000)]
        count: u32,
        /// Give the first K clients (the newest) one active secret each, so each can get
        /// tokens with client_credentials.
        #[arg(long, default_value_t = 0)]
        credentials: u32,
        /// The server key the secrets are hashed under: the server's `secret.key` in its
        /// data directory (or a file holding THETASECURE_SECRET_KEY's value).
        #[arg(long)]
        server_key_file: Option<std::path::PathBuf>,
        /// File for the K clients' HTTP Basic credentials, `base64(client_id:secret)`,
        /// one per line.
        #[arg(long)]
        credentials_out: Option<std::path::PathBuf>,
        /// Apply ThetaSecure's migrations first, for a store no server has opened.
        #[arg(long)]
        migrate: bool,
    },
}

/// A multi-threaded runtime sized by the CPU affinity mask: under `taskset -c 0`, as
/// `bench/run` starts it, that is one worker thread, like ThetaSecure there.
fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Echo { listen } => echo::run(listen).await,
            Command::Sign { listen, alg } => sign::run(listen, alg).await,
            Command::Insert {
                listen,
                database_url,
            } => insert::run(listen, &database_url).await,
            Command::Verify { listen } => verify::run(listen).await,
            Command::Seed {
                database_url,
                count,
                credentials,
                server_key_file,
                credentials_out,
                migrate,
            } => {
                let plan = seed::Plan {
                    count,
                    credentials,
                    server_key_file,
                    credentials_out,
                    migrate,
                };
                seed::run(&database_url, &plan).await
            }
            Command::SeedGrants {
                database_url,
                kind,
                scope,
                count,
                out,
            } => grants::run(&database_url, kind, &scope, count, &out).await,
        }
    })
}

fn parse_alg(raw: &str) -> Result<SigningAlg, String> {
    SigningAlg::parse(raw).ok_or_else(|| format!("unknown algorithm {raw}; ES256, EdDSA or RS256"))
}

/// Binds `listen`, prints `listening on http://ADDR` once bound, and serves `app` until
/// SIGINT or SIGTERM.
pub(crate) async fn serve(listen: SocketAddr, app: axum::Router) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let local = listener.local_addr()?;
    println!("listening on http://{local}");
    // As ThetaSecure serves: TCP_NODELAY on every connection.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await?;
    Ok(())
}

async fn shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
