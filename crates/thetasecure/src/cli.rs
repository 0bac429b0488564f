//! The command line. Flags are the top layer of the configuration; `config` merges them
//! over the `THETASECURE_*` variables, the TOML file and the defaults.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "thetasecure",
    version,
    about = "ThetaSecure: an OAuth 2.0 / OpenID Connect authorization server",
    after_help = "Every store and server option can also be set in the environment as \
        THETASECURE_<OPTION> (e.g. THETASECURE_DATABASE_URL) or as <option> in the --config \
        TOML file; flags win over the environment, which wins over the file. Secrets \
        (secret_key, database_url and the bootstrap_* secrets) may instead name a file: \
        THETASECURE_<OPTION>_FILE or <option>_file."
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
    /// Manage the users who sign in (the console's administrators among them).
    Users {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        command: UsersCommand,
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
        /// Address of the server to ask.
        #[arg(long, env = "THETASECURE_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
    },
}

/// Where the data lives; shared by every command that opens the store.
#[derive(Args, Clone, Default)]
#[command(next_help_heading = "Store and server options")]
pub struct StoreArgs {
    /// TOML configuration file; its keys are the long option names with underscores.
    #[arg(long, env = "THETASECURE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// `postgres://…` to scale out; omitted, the embedded SQLite store in --data-dir is used. [env: THETASECURE_DATABASE_URL]
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    /// Directory of the SQLite database and the generated server key [default: ./thetasecure-data]. [env: THETASECURE_DATA_DIR]
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// The 32-byte server key (hex or base64) that encrypts signing keys and keys secret hashes.
    /// Omitted (and no --secret-key-file): <data-dir>/secret.key, generated at first start. [env: THETASECURE_SECRET_KEY]
    #[arg(long, global = true)]
    pub secret_key: Option<String>,
    /// File holding the server key (as --secret-key); --secret-key wins when both are given. [env: THETASECURE_SECRET_KEY_FILE]
    #[arg(long, global = true)]
    pub secret_key_file: Option<PathBuf>,
    /// Base URL of every advertised endpoint and the `iss` of every token [default: http://127.0.0.1:8080]. [env: THETASECURE_ISSUER]
    #[arg(long, global = true)]
    pub issuer: Option<String>,
    /// Algorithm that signs access tokens [default: ES256]. [env: THETASECURE_SIGNING_ALG]
    #[arg(long, global = true)]
    pub signing_alg: Option<SigningAlgArg>,
    /// Algorithm that signs ID tokens [default: RS256]. [env: THETASECURE_ID_TOKEN_SIGNING_ALG]
    #[arg(long, global = true)]
    pub id_token_signing_alg: Option<SigningAlgArg>,
    /// Default access-token lifetime in seconds, 60–86400 [default: 3600]. [env: THETASECURE_ACCESS_TOKEN_TTL_SECONDS]
    // Not global: `clients create|update` have a client's own --access-token-ttl-seconds,
    // and clap copies a global option's value (this variable too) into it.
    #[arg(long)]
    pub access_token_ttl_seconds: Option<u32>,
    /// Log format [default: text]. [env: THETASECURE_LOG_FORMAT]
    #[arg(long, global = true)]
    pub log_format: Option<LogFormat>,
    /// Log filter, e.g. `info` or `thetasecure=debug` [default: info]. [env: THETASECURE_LOG_LEVEL]
    #[arg(long, global = true)]
    pub log_level: Option<String>,
}

#[derive(Args)]
pub struct ServeArgs {
    /// Address of the main listener [default: 127.0.0.1:8080]. [env: THETASECURE_LISTEN]
    #[arg(long)]
    pub listen: Option<String>,
    /// Serve the admin API and /metrics on this second address (e.g. loopback only) instead. [env: THETASECURE_ADMIN_LISTEN]
    #[arg(long)]
    pub admin_listen: Option<String>,
    /// Comma-separated networks (CIDR) or addresses of proxies whose X-Forwarded-For names the client, for the sign-in and client-authentication limits [default: none, the peer counts]. [env: THETASECURE_TRUSTED_PROXIES]
    #[arg(long)]
    pub trusted_proxies: Option<String>,
    /// How long cached tokens and scope names are trusted, and cached clients served after the last successful read of the client change log (read every half of it), 50–3600000 ms [default: 1000]: the longest a change made elsewhere goes unseen when no notification arrives (a CLI on the SQLite file; PostgreSQL's change feed down). Above 1000 that exceeds the 1 s SPEC bound. [env: THETASECURE_CACHE_FRESHNESS_MS]
    #[arg(long)]
    pub cache_freshness_ms: Option<u64>,
    /// How many clients the client cache holds, 100–10000000 [default: 100000]. Cached clients do not expire by age: a change anywhere drops them (the change feed and the change log). Each takes about 1 KiB; unknown client ids are held apart, an eighth as many. [env: THETASECURE_CLIENT_CACHE_CAPACITY]
    #[arg(long)]
    pub client_cache_capacity: Option<usize>,
    /// A refresh token unused this long (seconds) is dead [default: 2592000, 30 days]. [env: THETASECURE_REFRESH_TOKEN_IDLE_SECONDS]
    #[arg(long)]
    pub refresh_token_idle_seconds: Option<i64>,
    /// A refresh token family ends this long (seconds) after the sign-in that started it, however often it is rotated [default: 7776000, 90 days]. [env: THETASECURE_REFRESH_TOKEN_ABSOLUTE_SECONDS]
    #[arg(long)]
    pub refresh_token_absolute_seconds: Option<i64>,
    /// Seconds, 0–60, after a rotation in which the same client presenting the rotated refresh token again gets a fresh pair instead of losing the family (a lost response); 0 treats every such use as reuse [default: 0]. [env: THETASECURE_REFRESH_REUSE_GRACE_SECONDS]
    #[arg(long)]
    pub refresh_reuse_grace_seconds: Option<u32>,
    /// Serve the resource owner password grant (RFC 9700 §2.4 says it MUST NOT be used) to confidential clients registered for it; every use is audited [default: off]. [env: THETASECURE_ALLOW_PASSWORD_GRANT]
    #[arg(long)]
    pub allow_password_grant: bool,
    // Last: its help heading would otherwise also cover the options after it.
    #[command(flatten)]
    pub store: StoreArgs,
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

impl SigningAlgArg {
    pub fn alg(self) -> thetasecure_app::SigningAlg {
        match self {
            Self::Es256 => thetasecure_app::SigningAlg::Es256,
            Self::Rs256 => thetasecure_app::SigningAlg::Rs256,
            Self::EdDsa => thetasecure_app::SigningAlg::EdDsa,
        }
    }
}

#[derive(Subcommand)]
pub enum ClientsCommand {
    /// List clients, newest first.
    List {
        /// Only clients whose name or id contains this text (case-insensitive).
        #[arg(long)]
        search: Option<String>,
        /// Only clients with this status: `active` or `disabled`.
        #[arg(long)]
        status: Option<String>,
        /// Only clients allowed this grant type, e.g. `client_credentials`.
        #[arg(long)]
        grant_type: Option<String>,
        /// At most this many clients, 1–200 [default: 50].
        #[arg(long)]
        limit: Option<u32>,
        /// Go on where the previous page ended (it prints `more: --cursor …`).
        #[arg(long)]
        cursor: Option<String>,
        /// Print JSON (the admin API's shape) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Register a client; its secret is printed once.
    Create {
        #[command(flatten)]
        fields: ClientOptions,
        /// `custom` (default) or `sync_connector`.
        #[arg(long = "type")]
        client_type: Option<String>,
        /// Print JSON (the admin API's shape) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show one client.
    Get {
        /// The client's id, e.g. `ts_…`.
        client_id: String,
        /// Print JSON (the admin API's shape) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Change fields of a client (a merge patch of the given options).
    Update {
        /// The client's id, e.g. `ts_…`.
        client_id: String,
        #[command(flatten)]
        fields: ClientOptions,
        /// Allow changing grant types, scope or redirect URIs of a default client.
        #[arg(long)]
        force: bool,
        /// Print JSON (the admin API's shape) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Delete a client.
    Delete {
        /// The client's id, e.g. `ts_…`.
        client_id: String,
        /// Allow deleting a default client.
        #[arg(long)]
        force: bool,
        /// Print JSON (the admin API's shape) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Issue a new secret; the current ones keep working for --grace-period seconds.
    RotateSecret {
        /// The client's id, e.g. `ts_…`.
        client_id: String,
        /// Seconds the current secrets keep working beside the new one, 0–604800 (7 days).
        #[arg(long, default_value_t = 0)]
        grace_period: i64,
        /// Print JSON (the admin API's shape) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Stop a client from authenticating; its tokens are revoked.
    Disable {
        /// The client's id, e.g. `ts_…`.
        client_id: String,
        /// Print JSON (the admin API's shape) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Let a disabled client authenticate again.
    Enable {
        /// The client's id, e.g. `ts_…`.
        client_id: String,
        /// Print JSON (the admin API's shape) instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Client fields as options; only those given are sent.
#[derive(Args, Default)]
pub struct ClientOptions {
    /// Display name, 1–200 characters (required by `create`).
    #[arg(long)]
    pub name: Option<String>,
    /// Free text for operators, up to 2000 characters.
    #[arg(long)]
    pub description: Option<String>,
    /// authorization_code, client_credentials, refresh_token or password. Repeat for several.
    #[arg(long = "grant-type", value_name = "GRANT_TYPE")]
    pub grant_types: Vec<String>,
    /// Space-separated scopes; each must exist (e.g. "openid profile").
    #[arg(long)]
    pub scope: Option<String>,
    /// Where the authorization response may be sent (exact match). Repeat for several.
    #[arg(long = "redirect-uri", value_name = "URI")]
    pub redirect_uris: Vec<String>,
    /// Where signing out (`/logout`) may send the browser afterwards (exact match). Repeat for several.
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    pub post_logout_redirect_uris: Vec<String>,
    /// client_secret_basic (default), client_secret_post, or none (a public client: no secret, PKCE).
    #[arg(long)]
    pub auth_method: Option<String>,
    /// `true`: users approve this client on the consent page before it gets a code.
    #[arg(long)]
    pub require_user_consent: Option<bool>,
    /// This client's access-token lifetime in seconds, 60–86400, instead of the server's.
    #[arg(long)]
    pub access_token_ttl_seconds: Option<u32>,
}

/// Commands that set a password read it from standard input (its first line), so it
/// stays out of the shell history and the process list.
#[derive(Subcommand)]
pub enum UsersCommand {
    /// List users, newest first.
    List {
        /// Only users whose username, e-mail or display name contains this text (case-insensitive).
        #[arg(long)]
        search: Option<String>,
        /// Only users with this status: `active` or `disabled`.
        #[arg(long)]
        status: Option<String>,
        /// At most this many users, 1–200 [default: 50].
        #[arg(long)]
        limit: Option<u32>,
        /// Go on where the previous page ended (it prints `more: --cursor …`).
        #[arg(long)]
        cursor: Option<String>,
        /// Print JSON (the admin API's shape) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Create a user; the password is read from standard input.
    Create {
        /// 1–64 letters, digits and `. _ - @ +`; unique without regard to case.
        #[arg(long)]
        username: String,
        /// The user's e-mail address.
        #[arg(long)]
        email: Option<String>,
        /// The name shown for the user.
        #[arg(long)]
        display_name: Option<String>,
        /// Let the user sign in to the admin console.
        #[arg(long)]
        admin: bool,
        /// Print JSON (the admin API's shape) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show one user.
    Get {
        /// The user's id or username.
        user: String,
        /// Print JSON (the admin API's shape) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Replace a user's password with the one read from standard input.
    SetPassword {
        /// The user's id or username.
        user: String,
    },
    /// Stop a user from signing in.
    Disable {
        /// The user's id or username.
        user: String,
        /// Print JSON (the admin API's shape) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Let a disabled user sign in again.
    Enable {
        /// The user's id or username.
        user: String,
        /// Print JSON (the admin API's shape) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Delete a user.
    Delete {
        /// The user's id or username.
        user: String,
    },
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Generate a new signing key; the old one stays published until its tokens expire.
    Rotate,
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::{Cli, ClientsCommand, Command};

    /// Every argument of every subcommand, as `command path: --long` (or the value name).
    fn undocumented(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
        let path = format!("{path} {}", command.get_name()).trim().to_owned();
        if command.get_about().is_none() && path.contains(' ') {
            missing.push(format!("{path} (the subcommand itself)"));
        }
        for arg in command.get_arguments() {
            // clap's own --help and --version document themselves.
            if matches!(arg.get_id().as_str(), "help" | "version") {
                continue;
            }
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                let name = arg
                    .get_long()
                    .map(|long| format!("--{long}"))
                    .unwrap_or_else(|| arg.get_id().to_string());
                missing.push(format!("{path}: {name}"));
            }
        }
        for sub in command.get_subcommands() {
            undocumented(sub, &path, missing);
        }
    }

    #[test]
    fn every_option_and_subcommand_has_a_help_line() {
        let mut missing = Vec::new();
        undocumented(&Cli::command(), "", &mut missing);
        assert!(
            missing.is_empty(),
            "no help line for:\n{}",
            missing.join("\n")
        );
    }

    /// The server's default TTL and a client's own are two options of one name; neither
    /// may set the other (clap copies a global option's value into a subcommand's
    /// option of the same id, so the environment variable once set every new client's).
    #[test]
    fn a_clients_ttl_and_the_servers_default_ttl_stay_apart() {
        let ttls = |line: &str| match Cli::try_parse_from(line.split_whitespace()) {
            Ok(Cli {
                command:
                    Command::Clients {
                        store,
                        command: ClientsCommand::Create { fields, .. },
                    },
            }) => (
                store.access_token_ttl_seconds,
                fields.access_token_ttl_seconds,
            ),
            Ok(_) => panic!("{line}: another command"),
            Err(error) => panic!("{line}: {error}"),
        };
        assert_eq!(
            ttls("thetasecure clients create --name x --access-token-ttl-seconds 120"),
            (None, Some(120))
        );
        assert_eq!(
            ttls("thetasecure clients --access-token-ttl-seconds 900 create --name x"),
            (Some(900), None)
        );
    }

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }
}
