//! Configuration: defaults, then the TOML file, then environment and flags (clap reads
//! both, so they already sit above the file). Each crate gets its own settings from here.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use figment::Figment;
use figment::providers::{Format, Toml};
use serde::Deserialize;
use thetasecure_app::{ServerKey, Settings, SigningAlg};

use crate::cli::{LogFormat, ServeArgs, SigningAlgArg, StoreArgs};

/// The TOML file's keys: the long option names with underscores.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    admin_listen: Option<String>,
    database_url: Option<String>,
    data_dir: Option<PathBuf>,
    secret_key: Option<String>,
    secret_key_file: Option<PathBuf>,
    issuer: Option<String>,
    signing_alg: Option<SigningAlgArg>,
    access_token_ttl_seconds: Option<u32>,
    log_format: Option<LogFormat>,
    log_level: Option<String>,
}

pub struct Config {
    pub database_url: String,
    pub data_dir: PathBuf,
    pub server_key: ServerKey,
    pub settings: Settings,
    pub log_format: LogFormat,
    pub log_level: String,
    pub listen: String,
    pub admin_listen: Option<String>,
}

pub fn load_serve(args: ServeArgs) -> Result<Config> {
    let file = read_file(args.store.config.as_deref())?;
    let listen = args
        .listen
        .or(file.listen.clone())
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let admin_listen = args.admin_listen.or(file.admin_listen.clone());
    resolve(args.store, file, listen, admin_listen)
}

pub fn load(args: StoreArgs) -> Result<Config> {
    let file = read_file(args.config.as_deref())?;
    let listen = file
        .listen
        .clone()
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    resolve(args, file, listen, None)
}

fn read_file(path: Option<&Path>) -> Result<FileConfig> {
    match path {
        None => Ok(FileConfig::default()),
        Some(path) => Figment::new()
            .merge(Toml::file_exact(path))
            .extract()
            .with_context(|| format!("reading configuration file {}", path.display())),
    }
}

fn resolve(
    args: StoreArgs,
    file: FileConfig,
    listen: String,
    admin_listen: Option<String>,
) -> Result<Config> {
    let data_dir = args
        .data_dir
        .or(file.data_dir)
        .unwrap_or_else(|| PathBuf::from("./thetasecure-data"));
    let database_url = match args.database_url.or(file.database_url) {
        Some(url) => url,
        None => {
            fs::create_dir_all(&data_dir)
                .with_context(|| format!("creating data directory {}", data_dir.display()))?;
            format!("sqlite://{}", data_dir.join("thetasecure.db").display())
        }
    };
    let server_key = match (
        args.secret_key.or(file.secret_key),
        args.secret_key_file.or(file.secret_key_file),
    ) {
        (Some(text), _) => ServerKey::parse(&text).context("THETASECURE_SECRET_KEY")?,
        (None, Some(path)) => ServerKey::parse(
            &fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?,
        )
        .with_context(|| format!("server key in {}", path.display()))?,
        (None, None) => data_dir_key(&data_dir)?,
    };
    let issuer = args
        .issuer
        .or(file.issuer)
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    check_issuer(&issuer)?;
    let access_token_ttl_seconds = args
        .access_token_ttl_seconds
        .or(file.access_token_ttl_seconds)
        .unwrap_or(3600);
    if !(60..=86_400).contains(&access_token_ttl_seconds) {
        bail!("access_token_ttl_seconds must be from 60 to 86400");
    }
    let signing_alg = match args
        .signing_alg
        .or(file.signing_alg)
        .unwrap_or(SigningAlgArg::Es256)
    {
        SigningAlgArg::Es256 => SigningAlg::Es256,
        SigningAlgArg::Rs256 => SigningAlg::Rs256,
        SigningAlgArg::EdDsa => SigningAlg::EdDsa,
    };
    Ok(Config {
        database_url,
        data_dir,
        server_key,
        settings: Settings {
            issuer,
            access_token_ttl_seconds,
            signing_alg,
        },
        log_format: args
            .log_format
            .or(file.log_format)
            .unwrap_or(LogFormat::Text),
        log_level: args
            .log_level
            .or(file.log_level)
            .unwrap_or_else(|| "info".into()),
        listen,
        admin_listen,
    })
}

/// The issuer must be https unless it is a loopback address (SPEC 1; RFC 8414 §2).
fn check_issuer(issuer: &str) -> Result<()> {
    let url = url::Url::parse(issuer)
        .context("issuer must be an absolute URL, e.g. https://id.example.com")?;
    if url.query().is_some() || url.fragment().is_some() {
        bail!("issuer must not have a query or fragment");
    }
    match (url.scheme(), url.host_str()) {
        ("https", Some(_)) => Ok(()),
        ("http", Some("127.0.0.1" | "[::1]" | "localhost")) => Ok(()),
        _ => {
            bail!("issuer must use https unless its host is loopback (127.0.0.1, [::1], localhost)")
        }
    }
}

/// The server key file in the data directory, generated (mode 0600) when missing.
/// Written to a private temporary file and hard-linked into place, so instances starting
/// together agree on one key and none reads a half-written file.
fn data_dir_key(data_dir: &Path) -> Result<ServerKey> {
    let path = data_dir.join("secret.key");
    if !path.exists() {
        fs::create_dir_all(data_dir)
            .with_context(|| format!("creating data directory {}", data_dir.display()))?;
        let temporary = data_dir.join(format!("secret.key.{}.tmp", std::process::id()));
        write_private(&temporary, &ServerKey::generate().encode())
            .with_context(|| format!("writing {}", temporary.display()))?;
        let linked = fs::hard_link(&temporary, &path);
        let _ = fs::remove_file(&temporary);
        match linked {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(error) => return Err(error).with_context(|| format!("writing {}", path.display())),
        }
    }
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    ServerKey::parse(&text).with_context(|| format!("server key in {}", path.display()))
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::check_issuer;

    #[test]
    fn issuer_needs_https_unless_loopback() {
        assert!(check_issuer("https://id.example.com").is_ok());
        assert!(check_issuer("http://127.0.0.1:8080").is_ok());
        assert!(check_issuer("http://localhost").is_ok());
        assert!(check_issuer("http://[::1]:9000").is_ok());
        assert!(check_issuer("http://id.example.com").is_err());
        assert!(check_issuer("https://id.example.com/?x=1").is_err());
        assert!(check_issuer("id.example.com").is_err());
    }
}
