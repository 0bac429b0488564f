//! The command line. Every option has a `THETASECURE_*` environment variable; both sit
//! above the optional TOML file (`--config`), which sits above the defaults.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "thetasecure",
    version,
    about = "ThetaSecure: an OAuth 2.0 / OpenID Connect authorization server"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the server (OAuth endpoints, admin API, health and metrics) on one port.
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate(StoreArgs),
    /// Manage OAuth clients directly in the local store.
    Clients {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        command: ClientsCommand,
    },
    /// Manage signing keys.
    Keys {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Exit 0 when the server at --listen answers /healthz (for container health checks).
    Healthcheck {
        #[arg(long, env = "THETASECURE_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
    },
}

/// Where the data lives; shared by every command that opens the store.
#[derive(Args, Clone, Default)]
pub struct StoreArgs {
    /// TOML configuration file; its keys are the long option names with underscores.
    #[arg(long, env = "THETASECURE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// `postgres://…` to scale out; omitted, the embedded SQLite store in --data-dir is used.
    #[arg(
        long,
        env = "THETASECURE_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// Directory of the SQLite database and the generated server key [default: ./thetasecure-data].
    #[arg(long, env = "THETASECURE_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// The 32-byte server key (hex or base64) that encrypts signing keys and keys secret hashes.
    /// THETASECURE_SECRET_KEY_FILE names a file holding it. Omitted: <data-dir>/secret.key, generated at first start.
    #[arg(
        long,
        env = "THETASECURE_SECRET_KEY",
        global = true,
        hide_env_values = true
    )]
    pub secret_key: Option<String>,
    #[arg(long, env = "THETASECURE_SECRET_KEY_FILE", global = true)]
    pub secret_key_file: Option<PathBuf>,
    /// Base URL of every advertised endpoint and the `iss` of every token [default: http://127.0.0.1:8080].
    #[arg(long, env = "THETASECURE_ISSUER", global = true)]
    pub issuer: Option<String>,
    /// Algorithm that signs access tokens [default: ES256].
    #[arg(long, env = "THETASECURE_SIGNING_ALG", global = true)]
    pub signing_alg: Option<SigningAlgArg>,
    /// Default access-token lifetime in seconds, 60–86400 [default: 3600].
    #[arg(long, env = "THETASECURE_ACCESS_TOKEN_TTL_SECONDS", global = true)]
    pub access_token_ttl_seconds: Option<u32>,
    /// Log format [default: text].
    #[arg(long, env = "THETASECURE_LOG_FORMAT", global = true)]
    pub log_format: Option<LogFormat>,
    /// Log filter, e.g. `info` or `thetasecure=debug` [default: info].
    #[arg(long, env = "THETASECURE_LOG_LEVEL", global = true)]
    pub log_level: Option<String>,
}

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address of the main listener [default: 127.0.0.1:8080].
    #[arg(long, env = "THETASECURE_LISTEN")]
    pub listen: Option<String>,
    /// Serve the admin API and /metrics on this second address (e.g. loopback only) instead.
    #[arg(long, env = "THETASECURE_ADMIN_LISTEN")]
    pub admin_listen: Option<String>,
}

#[derive(Clone, Copy, ValueEnum, serde::Deserialize, serde::Serialize, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum, serde::Deserialize, serde::Serialize, PartialEq, Eq, Debug)]
pub enum SigningAlgArg {
    #[value(name = "ES256")]
    #[serde(rename = "ES256")]
    Es256,
    #[value(name = "RS256")]
    #[serde(rename = "RS256")]
    Rs256,
    #[value(name = "EdDSA")]
    #[serde(rename = "EdDSA")]
    EdDsa,
}

#[derive(Subcommand)]
pub enum ClientsCommand {
    /// List clients, newest first.
    List {
        #[arg(long)]
        search: Option<String>,
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        grant_type: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        cursor: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Register a client; its secret is printed once.
    Create {
        #[command(flatten)]
        fields: ClientFields,
        /// `custom` (default) or `sync_connector`.
        #[arg(long = "type")]
        client_type: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show one client.
    Get {
        client_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Change fields of a client (a merge patch of the given options).
    Update {
        client_id: String,
        #[command(flatten)]
        fields: ClientFields,
        /// Allow changing grant types, scope or redirect URIs of a default client.
        #[arg(long)]
        force: bool,
        #[arg(long)]
        json: bool,
    },
    /// Delete a client.
    Delete {
        client_id: String,
        /// Allow deleting a default client.
        #[arg(long)]
        force: bool,
        #[arg(long)]
        json: bool,
    },
    /// Issue a new secret; the current ones keep working for --grace-period seconds.
    RotateSecret {
        client_id: String,
        #[arg(long, default_value_t = 0)]
        grace_period: i64,
        #[arg(long)]
        json: bool,
    },
    /// Stop a client from authenticating; its tokens are revoked.
    Disable {
        client_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Let a disabled client authenticate again.
    Enable {
        client_id: String,
        #[arg(long)]
        json: bool,
    },
}

/// Client fields as options; only those given are sent.
#[derive(Args, Default)]
pub struct ClientFields {
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub description: Option<String>,
    /// Repeat for several.
    #[arg(long = "grant-type")]
    pub grant_types: Vec<String>,
    /// Space-separated scopes.
    #[arg(long)]
    pub scope: Option<String>,
    /// Repeat for several.
    #[arg(long = "redirect-uri")]
    pub redirect_uris: Vec<String>,
    #[arg(long)]
    pub auth_method: Option<String>,
    #[arg(long)]
    pub require_user_consent: Option<bool>,
    #[arg(long)]
    pub access_token_ttl_seconds: Option<u32>,
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Generate a new signing key; the old one stays published until its tokens expire.
    Rotate,
}
