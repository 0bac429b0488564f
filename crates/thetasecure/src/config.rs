//! Configuration, in one place: defaults < the TOML file (`--config`) < `THETASECURE_*`
//! environment variables < command-line flags, merged by figment. A setting has one
//! name everywhere: the long option, the TOML key (underscores) and the variable
//! (`THETASECURE_` and the key upper-cased). Every secret may also be read from a file
//! (`…_file` / `…_FILE`), as container platforms mount secrets.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::{Deserialize, Serialize};
use thetasecure_app::bootstrap::BootstrapInput;
use thetasecure_app::client_address::TrustedProxies;
use thetasecure_app::client_cache;
use thetasecure_app::{ServerKey, Settings};
use thetasecure_core::client::TTL_RANGE_SECONDS;
use thetasecure_core::refresh_token::{PolicyError, RefreshTokenPolicy};

use crate::cli::{LogFormat, ServeArgs, SigningAlgArg, StoreArgs};

/// Every setting as one layer gives it; `None` leaves it to the layers below.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Layer {
    #[serde(skip_serializing_if = "Option::is_none")]
    listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    admin_listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trusted_proxies: Option<AddressList>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_freshness_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_cache_capacity: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    database_url_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_key_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    issuer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signing_alg: Option<SigningAlgArg>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token_signing_alg: Option<SigningAlgArg>,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_token_ttl_seconds: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token_idle_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token_absolute_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_reuse_grace_seconds: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allow_password_grant: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_format: Option<LogFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_level: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bootstrap_admin_client_secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bootstrap_admin_client_secret_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bootstrap_sync_client_secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bootstrap_sync_client_secret_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bootstrap_admin_username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bootstrap_admin_password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bootstrap_admin_password_file: Option<PathBuf>,
}

/// A list as a TOML array, or as one comma-separated string (a flag, a variable).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum AddressList {
    Joined(String),
    Each(Vec<String>),
}

impl AddressList {
    fn entries(&self) -> Vec<&str> {
        match self {
            Self::Joined(joined) => joined.split(',').collect(),
            Self::Each(each) => each.iter().map(String::as_str).collect(),
        }
    }
}

const ENV_PREFIX: &str = "THETASECURE_";

/// Today's horizon (`thetasecure_app::cache::DEFAULT_FRESHNESS`), in the unit of the setting.
const DEFAULT_CACHE_FRESHNESS_MS: u64 = 1000;
/// Shorter would read the store on nearly every request; longer than an hour leaves a
/// change unseen too long when the change feed is down.
const CACHE_FRESHNESS_RANGE_MS: std::ops::RangeInclusive<u64> = 50..=3_600_000;

/// The keys of [`Layer`], which are also the variables read (`THETASECURE_` + upper
/// case): the field names serde itself lists for the struct.
fn setting_keys() -> &'static [&'static str] {
    use serde::de::{self, Visitor};

    /// Answers serde's request to deserialize a struct with the fields it names.
    struct FieldNames;

    impl<'de> de::Deserializer<'de> for FieldNames {
        type Error = FieldsListed;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, FieldsListed> {
            Err(FieldsListed(&[]))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, FieldsListed> {
            Err(FieldsListed(fields))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map
            enum identifier ignored_any
        }
    }

    #[derive(Debug)]
    struct FieldsListed(&'static [&'static str]);

    impl std::fmt::Display for FieldsListed {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("field names listed")
        }
    }

    impl std::error::Error for FieldsListed {}

    impl de::Error for FieldsListed {
        fn custom<T: std::fmt::Display>(_: T) -> Self {
            FieldsListed(&[])
        }
    }

    match Layer::deserialize(FieldNames) {
        Ok(_) => &[],
        Err(FieldsListed(fields)) => fields,
    }
}

/// The `THETASECURE_*` variables, as strings: figment's own `Env` provider parses values,
/// which would turn an all-digit secret or password into a number. Errors name the
/// variable. Reads through `lookup` (the process environment, or a test's map).
struct Environment<F>(F);

impl<F: Fn(&str) -> Option<String>> Provider for Environment<F> {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment variable")
            .interpolater(|_, key| format!("{ENV_PREFIX}{}", key.join("_").to_ascii_uppercase()))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        for &key in setting_keys() {
            let name = format!("{ENV_PREFIX}{}", key.to_ascii_uppercase());
            // Set but empty counts as unset, as shells and compose files leave them.
            if let Some(value) = (self.0)(&name).filter(|v| !v.is_empty()) {
                dict.insert(key.to_owned(), Value::from(value));
            }
        }
        Ok(Profile::Default.collect(dict))
    }
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
    pub bootstrap: BootstrapInput,
}

fn process_environment(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

pub fn load_serve(args: ServeArgs) -> Result<Config> {
    let mut flags = store_flags(&args.store);
    flags.listen = args.listen;
    flags.admin_listen = args.admin_listen;
    flags.trusted_proxies = args.trusted_proxies.map(AddressList::Joined);
    flags.cache_freshness_ms = args.cache_freshness_ms;
    flags.client_cache_capacity = args.client_cache_capacity;
    flags.refresh_token_idle_seconds = args.refresh_token_idle_seconds;
    flags.refresh_token_absolute_seconds = args.refresh_token_absolute_seconds;
    flags.refresh_reuse_grace_seconds = args.refresh_reuse_grace_seconds;
    // A switch: present turns it on; absent leaves it to the layers below.
    flags.allow_password_grant = args.allow_password_grant.then_some(true);
    resolve(args.store.config.as_deref(), process_environment, flags)
}

pub fn load(args: StoreArgs) -> Result<Config> {
    resolve(
        args.config.as_deref(),
        process_environment,
        store_flags(&args),
    )
}

fn store_flags(args: &StoreArgs) -> Layer {
    Layer {
        database_url: args.database_url.clone(),
        data_dir: args.data_dir.clone(),
        secret_key: args.secret_key.clone(),
        secret_key_file: args.secret_key_file.clone(),
        issuer: args.issuer.clone(),
        signing_alg: args.signing_alg,
        id_token_signing_alg: args.id_token_signing_alg,
        access_token_ttl_seconds: args.access_token_ttl_seconds,
        log_format: args.log_format,
        log_level: args.log_level.clone(),
        ..Layer::default()
    }
}

/// The layers merged, lowest first; `resolve` gives the defaults of what none sets.
fn merged(
    file: Option<&Path>,
    environment: impl Fn(&str) -> Option<String>,
    flags: Layer,
) -> Figment {
    let mut figment = Figment::new();
    if let Some(path) = file {
        figment = figment.merge(Toml::file_exact(path));
    }
    figment
        .merge(Environment(environment))
        .merge(Serialized::defaults(flags))
}

fn resolve(
    file: Option<&Path>,
    environment: impl Fn(&str) -> Option<String>,
    flags: Layer,
) -> Result<Config> {
    // Lossy: a number may come as a string (all variables do).
    let layer: Layer = merged(file, environment, flags)
        .extract_lossy()
        .map_err(|error| anyhow::anyhow!("configuration: {error}"))?;
    let refresh_tokens = refresh_token_policy(&layer)?;
    let data_dir = layer
        .data_dir
        .unwrap_or_else(|| PathBuf::from("./thetasecure-data"));
    let database_url = match secret(layer.database_url, layer.database_url_file, "database_url")? {
        Some(url) => url,
        None => {
            fs::create_dir_all(&data_dir)
                .with_context(|| format!("creating data directory {}", data_dir.display()))?;
            format!("sqlite://{}", data_dir.join("thetasecure.db").display())
        }
    };
    let server_key = match secret(layer.secret_key, layer.secret_key_file, "secret_key")? {
        Some(text) => ServerKey::parse(&text).context(variable("secret_key"))?,
        None => data_dir_key(&data_dir)?,
    };
    let issuer = layer
        .issuer
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    check_issuer(&issuer).context(variable("issuer"))?;
    let access_token_ttl_seconds = layer.access_token_ttl_seconds.unwrap_or(3600);
    if !TTL_RANGE_SECONDS.contains(&access_token_ttl_seconds) {
        bail!(
            "{}: must be from {} to {} seconds",
            variable("access_token_ttl_seconds"),
            TTL_RANGE_SECONDS.start(),
            TTL_RANGE_SECONDS.end()
        );
    }
    let signing_alg = layer.signing_alg.unwrap_or(SigningAlgArg::Es256).alg();
    let id_token_signing_alg = layer
        .id_token_signing_alg
        .unwrap_or(SigningAlgArg::Rs256)
        .alg();
    let trusted_proxies = match &layer.trusted_proxies {
        Some(list) => TrustedProxies::parse(list.entries())
            .map_err(|error| anyhow::anyhow!("{}: {error}", variable("trusted_proxies")))?,
        None => TrustedProxies::default(),
    };
    let cache_freshness_ms = layer
        .cache_freshness_ms
        .unwrap_or(DEFAULT_CACHE_FRESHNESS_MS);
    if !CACHE_FRESHNESS_RANGE_MS.contains(&cache_freshness_ms) {
        bail!(
            "{}: must be from {} to {} milliseconds",
            variable("cache_freshness_ms"),
            CACHE_FRESHNESS_RANGE_MS.start(),
            CACHE_FRESHNESS_RANGE_MS.end()
        );
    }
    let client_cache_capacity = layer
        .client_cache_capacity
        .unwrap_or(client_cache::DEFAULT_CAPACITY);
    if !client_cache::CAPACITY_RANGE.contains(&client_cache_capacity) {
        bail!(
            "{}: must be from {} to {} clients",
            variable("client_cache_capacity"),
            client_cache::CAPACITY_RANGE.start(),
            client_cache::CAPACITY_RANGE.end()
        );
    }
    let bootstrap = BootstrapInput {
        admin_client_secret: secret(
            layer.bootstrap_admin_client_secret,
            layer.bootstrap_admin_client_secret_file,
            "bootstrap_admin_client_secret",
        )?,
        sync_client_secret: secret(
            layer.bootstrap_sync_client_secret,
            layer.bootstrap_sync_client_secret_file,
            "bootstrap_sync_client_secret",
        )?,
        admin_username: layer.bootstrap_admin_username,
        admin_password: secret(
            layer.bootstrap_admin_password,
            layer.bootstrap_admin_password_file,
            "bootstrap_admin_password",
        )?,
    };
    Ok(Config {
        database_url,
        data_dir,
        server_key,
        settings: Settings {
            issuer,
            access_token_ttl_seconds,
            signing_alg,
            id_token_signing_alg,
            trusted_proxies,
            cache_freshness: Duration::from_millis(cache_freshness_ms),
            client_cache_capacity,
            refresh_tokens,
            allow_password_grant: layer.allow_password_grant.unwrap_or(false),
        },
        log_format: layer.log_format.unwrap_or(LogFormat::Text),
        log_level: layer.log_level.unwrap_or_else(|| "info".into()),
        listen: layer.listen.unwrap_or_else(|| "127.0.0.1:8080".into()),
        admin_listen: layer.admin_listen,
        bootstrap,
    })
}

/// The refresh-token lifetimes and reuse grace window; a value out of range is refused at
/// startup, naming the setting.
fn refresh_token_policy(layer: &Layer) -> Result<RefreshTokenPolicy> {
    let defaults = RefreshTokenPolicy::default();
    let policy = RefreshTokenPolicy::new(
        layer
            .refresh_token_idle_seconds
            .unwrap_or(defaults.idle_seconds()),
        layer
            .refresh_token_absolute_seconds
            .unwrap_or(defaults.absolute_seconds()),
        layer
            .refresh_reuse_grace_seconds
            .unwrap_or(defaults.reuse_grace_seconds()),
    );
    policy.map_err(|error| {
        let key = match error {
            PolicyError::IdleLifetime => "refresh_token_idle_seconds",
            PolicyError::AbsoluteLifetime => "refresh_token_absolute_seconds",
            PolicyError::ReuseGrace => "refresh_reuse_grace_seconds",
        };
        anyhow::anyhow!("{}: {error}", variable(key))
    })
}

/// How an operator names `key`: the variable, the option where a command has one, and
/// the TOML key.
fn variable(key: &str) -> String {
    let option = format!("--{}", key.replace('_', "-"));
    let has_option = <crate::cli::Cli as clap::CommandFactory>::command()
        .get_subcommands()
        .any(|command| {
            command
                .get_arguments()
                .any(|arg| arg.get_long() == Some(&option[2..]))
        });
    let option = if has_option {
        format!("{option}, ")
    } else {
        String::new()
    };
    format!(
        "{ENV_PREFIX}{} ({option}`{key}` in the file)",
        key.to_ascii_uppercase()
    )
}

/// A secret given directly, else read from the file named by its `_file` setting (one
/// trailing newline dropped, as `echo` and editors leave one); the direct value wins.
fn secret(value: Option<String>, file: Option<PathBuf>, key: &str) -> Result<Option<String>> {
    if value.is_some() {
        return Ok(value);
    }
    let Some(path) = file else {
        return Ok(None);
    };
    let setting = variable(&format!("{key}_file"));
    let text = fs::read_to_string(&path)
        .with_context(|| format!("{setting}: reading {}", path.display()))?;
    let text = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    if text.is_empty() {
        bail!("{setting}: {} is empty", path.display());
    }
    Ok(Some(text.to_owned()))
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
    #![allow(clippy::unwrap_used)]

    use std::collections::HashMap;

    use thetasecure_app::SigningAlg;

    use super::*;

    /// A place for the layers' files, and an environment of `vars`.
    struct Setup {
        dir: tempfile::TempDir,
        vars: HashMap<String, String>,
    }

    impl Setup {
        fn new(vars: &[(&str, &str)]) -> Self {
            Setup {
                dir: tempfile::tempdir().unwrap(),
                vars: vars
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            }
        }

        fn file(&self, name: &str, contents: &str) -> PathBuf {
            let path = self.dir.path().join(name);
            fs::write(&path, contents).unwrap();
            path
        }

        /// Flags name a data directory inside the temporary one, unless they name one.
        fn resolve(&self, file: Option<&Path>, mut flags: Layer) -> Result<Config> {
            flags.data_dir.get_or_insert(self.dir.path().join("data"));
            resolve(file, |name| self.vars.get(name).cloned(), flags)
        }
    }

    fn error_of(result: Result<Config>) -> String {
        match result {
            Ok(_) => panic!("expected a configuration error"),
            Err(error) => format!("{error:#}"),
        }
    }

    #[test]
    fn defaults_then_file_then_environment_then_flags() {
        let setup = Setup::new(&[("THETASECURE_ISSUER", "https://env.example")]);
        let toml = setup.file(
            "config.toml",
            "issuer = \"https://file.example\"\nlog_level = \"debug\"\naccess_token_ttl_seconds = 600\n",
        );
        let config = setup.resolve(None, Layer::default()).unwrap();
        assert_eq!(config.settings.issuer, "https://env.example");
        assert_eq!(config.settings.access_token_ttl_seconds, 3600);
        assert_eq!(config.log_level, "info");
        assert_eq!(config.listen, "127.0.0.1:8080");

        let config = setup.resolve(Some(&toml), Layer::default()).unwrap();
        assert_eq!(
            config.settings.issuer, "https://env.example",
            "env over file"
        );
        assert_eq!(config.log_level, "debug");
        assert_eq!(config.settings.access_token_ttl_seconds, 600);

        let flags = Layer {
            issuer: Some("https://flag.example".into()),
            ..Layer::default()
        };
        let config = setup.resolve(Some(&toml), flags).unwrap();
        assert_eq!(
            config.settings.issuer, "https://flag.example",
            "flags over env"
        );
    }

    #[test]
    fn every_secret_may_come_from_a_file() {
        let key = ServerKey::generate().encode();
        let setup = Setup::new(&[]);
        let vars = [
            (
                "THETASECURE_SECRET_KEY_FILE",
                setup.file("key", &format!("{key}\n")),
            ),
            (
                "THETASECURE_DATABASE_URL_FILE",
                setup.file("db", "sqlite://elsewhere.db"),
            ),
            (
                "THETASECURE_BOOTSTRAP_ADMIN_CLIENT_SECRET_FILE",
                setup.file("a", "admin-secret-from-a-file\r\n"),
            ),
            (
                "THETASECURE_BOOTSTRAP_SYNC_CLIENT_SECRET_FILE",
                setup.file("s", "sync-secret-from-a-file"),
            ),
            (
                "THETASECURE_BOOTSTRAP_ADMIN_PASSWORD_FILE",
                setup.file("p", "a password\n"),
            ),
        ];
        let setup = Setup {
            vars: vars
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.display().to_string()))
                .collect(),
            ..setup
        };
        let config = setup.resolve(None, Layer::default()).unwrap();
        assert_eq!(config.server_key.encode(), key);
        assert_eq!(config.database_url, "sqlite://elsewhere.db");
        let bootstrap = &config.bootstrap;
        assert_eq!(
            bootstrap.admin_client_secret.as_deref(),
            Some("admin-secret-from-a-file")
        );
        assert_eq!(
            bootstrap.sync_client_secret.as_deref(),
            Some("sync-secret-from-a-file")
        );
        assert_eq!(bootstrap.admin_password.as_deref(), Some("a password"));

        // The value itself wins over its file.
        let mut direct = setup.vars.clone();
        direct.insert(
            "THETASECURE_BOOTSTRAP_ADMIN_PASSWORD".into(),
            "given directly".into(),
        );
        let setup = Setup {
            vars: direct,
            ..setup
        };
        let config = setup.resolve(None, Layer::default()).unwrap();
        assert_eq!(
            config.bootstrap.admin_password.as_deref(),
            Some("given directly")
        );
    }

    #[test]
    fn variables_are_text_and_numbers_may_be_text() {
        let setup = Setup::new(&[
            ("THETASECURE_BOOTSTRAP_ADMIN_PASSWORD", "123456789012345678"),
            ("THETASECURE_ACCESS_TOKEN_TTL_SECONDS", "900"),
            ("THETASECURE_LOG_LEVEL", ""),
            ("THETASECURE_TEST_DATABASE_URL", "not a setting"),
        ]);
        let config = setup.resolve(None, Layer::default()).unwrap();
        assert_eq!(
            config.bootstrap.admin_password.as_deref(),
            Some("123456789012345678")
        );
        assert_eq!(config.settings.access_token_ttl_seconds, 900);
        assert_eq!(config.log_level, "info", "empty counts as unset");
    }

    #[test]
    fn mistakes_name_the_setting() {
        let cases: [(&[(&str, &str)], &str); 5] = [
            (
                &[("THETASECURE_ACCESS_TOKEN_TTL_SECONDS", "30")],
                "THETASECURE_ACCESS_TOKEN_TTL_SECONDS",
            ),
            (
                &[("THETASECURE_ACCESS_TOKEN_TTL_SECONDS", "soon")],
                "THETASECURE_ACCESS_TOKEN_TTL_SECONDS",
            ),
            (
                &[("THETASECURE_ISSUER", "http://id.example")],
                "THETASECURE_ISSUER",
            ),
            (
                &[("THETASECURE_SECRET_KEY", "too short")],
                "THETASECURE_SECRET_KEY",
            ),
            (
                &[(
                    "THETASECURE_BOOTSTRAP_ADMIN_PASSWORD_FILE",
                    "/nonexistent/password",
                )],
                "THETASECURE_BOOTSTRAP_ADMIN_PASSWORD_FILE",
            ),
        ];
        for (vars, named) in cases {
            let message = error_of(Setup::new(vars).resolve(None, Layer::default()));
            assert!(
                message.contains(named),
                "{vars:?}: `{message}` does not name {named}"
            );
        }
        let setup = Setup::new(&[]);
        let toml = setup.file("config.toml", "colour = \"blue\"\n");
        let message = error_of(setup.resolve(Some(&toml), Layer::default()));
        assert!(message.contains("colour"), "{message}");
    }

    #[test]
    fn signing_algs_default_to_es256_and_rs256_and_follow_the_layers() {
        let setup = Setup::new(&[]);
        let defaults = setup.resolve(None, Layer::default()).unwrap().settings;
        assert_eq!(
            (defaults.signing_alg, defaults.id_token_signing_alg),
            (SigningAlg::Es256, SigningAlg::Rs256)
        );
        let toml = setup.file("config.toml", "id_token_signing_alg = \"ES256\"\n");
        let from_file = setup.resolve(Some(&toml), Layer::default()).unwrap();
        assert_eq!(from_file.settings.id_token_signing_alg, SigningAlg::Es256);
        let env = Setup::new(&[("THETASECURE_ID_TOKEN_SIGNING_ALG", "EdDSA")]);
        let from_env = env.resolve(Some(&toml), Layer::default()).unwrap();
        assert_eq!(from_env.settings.id_token_signing_alg, SigningAlg::EdDsa);
        let flags = Layer {
            id_token_signing_alg: Some(SigningAlgArg::Rs256),
            ..Layer::default()
        };
        let from_flag = env.resolve(Some(&toml), flags).unwrap();
        assert_eq!(from_flag.settings.id_token_signing_alg, SigningAlg::Rs256);
        let bad = Setup::new(&[("THETASECURE_ID_TOKEN_SIGNING_ALG", "HS256")]);
        let message = error_of(bad.resolve(None, Layer::default()));
        assert!(
            message.contains("THETASECURE_ID_TOKEN_SIGNING_ALG"),
            "{message}"
        );
    }

    #[test]
    fn trusted_proxies_come_as_an_array_or_a_joined_list() {
        let setup = Setup::new(&[]);
        let toml = setup.file(
            "config.toml",
            "trusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n",
        );
        let from_file = setup.resolve(Some(&toml), Layer::default()).unwrap();
        let joined = Setup::new(&[("THETASECURE_TRUSTED_PROXIES", "10.0.0.0/8, ::1")]);
        let from_variable = joined.resolve(None, Layer::default()).unwrap();
        let expected = TrustedProxies::parse(["10.0.0.0/8", "::1"]).unwrap();
        assert_eq!(from_file.settings.trusted_proxies, expected);
        assert_eq!(from_variable.settings.trusted_proxies, expected);
        let none = setup.resolve(None, Layer::default()).unwrap();
        assert!(none.settings.trusted_proxies.is_empty());

        let bad = Setup::new(&[("THETASECURE_TRUSTED_PROXIES", "10.0.0.0/8,proxy.local")]);
        let message = error_of(bad.resolve(None, Layer::default()));
        assert!(message.contains("THETASECURE_TRUSTED_PROXIES"), "{message}");
        assert!(message.contains("`proxy.local`"), "{message}");
    }

    #[test]
    fn cache_freshness_defaults_to_a_second_and_is_layered() {
        let setup = Setup::new(&[("THETASECURE_CACHE_FRESHNESS_MS", "2500")]);
        let unset = Setup::new(&[]);
        let toml = unset.file("config.toml", "cache_freshness_ms = 3600000\n");
        assert_eq!(
            unset
                .resolve(None, Layer::default())
                .unwrap()
                .settings
                .cache_freshness,
            thetasecure_app::cache::DEFAULT_FRESHNESS
        );
        assert_eq!(
            unset
                .resolve(Some(&toml), Layer::default())
                .unwrap()
                .settings
                .cache_freshness,
            Duration::from_secs(3600)
        );
        assert_eq!(
            setup
                .resolve(Some(&toml), Layer::default())
                .unwrap()
                .settings
                .cache_freshness,
            Duration::from_millis(2500),
            "env over file"
        );
        let flags = Layer {
            cache_freshness_ms: Some(100),
            ..Layer::default()
        };
        assert_eq!(
            setup.resolve(None, flags).unwrap().settings.cache_freshness,
            Duration::from_millis(100),
            "flags over env"
        );
        let bad = Setup::new(&[("THETASECURE_CACHE_FRESHNESS_MS", "0")]);
        let message = error_of(bad.resolve(None, Layer::default()));
        assert!(
            message.contains("THETASECURE_CACHE_FRESHNESS_MS"),
            "{message}"
        );
        assert!(message.contains("--cache-freshness-ms"), "{message}");
    }

    #[test]
    fn client_cache_capacity_defaults_and_is_layered_and_bounded() {
        let capacity = |setup: &Setup, file: Option<&Path>, flags: Layer| {
            setup
                .resolve(file, flags)
                .unwrap()
                .settings
                .client_cache_capacity
        };
        let unset = Setup::new(&[]);
        assert_eq!(
            capacity(&unset, None, Layer::default()),
            client_cache::DEFAULT_CAPACITY
        );
        let toml = unset.file("config.toml", "client_cache_capacity = 5000\n");
        assert_eq!(capacity(&unset, Some(&toml), Layer::default()), 5000);
        let env = Setup::new(&[("THETASECURE_CLIENT_CACHE_CAPACITY", "20000")]);
        assert_eq!(
            capacity(&env, Some(&toml), Layer::default()),
            20000,
            "env over file"
        );
        let flags = Layer {
            client_cache_capacity: Some(300),
            ..Layer::default()
        };
        assert_eq!(capacity(&env, Some(&toml), flags), 300, "flags over env");
        let (low, high) = (
            client_cache::CAPACITY_RANGE.start(),
            client_cache::CAPACITY_RANGE.end(),
        );
        for edge in [*low, *high] {
            let setup = Setup::new(&[]);
            let flags = Layer {
                client_cache_capacity: Some(edge),
                ..Layer::default()
            };
            assert_eq!(capacity(&setup, None, flags), edge);
        }
        for bad in [(low - 1).to_string(), (high + 1).to_string(), "many".into()] {
            let setup = Setup::new(&[("THETASECURE_CLIENT_CACHE_CAPACITY", bad.as_str())]);
            let message = error_of(setup.resolve(None, Layer::default()));
            assert!(
                message.contains("THETASECURE_CLIENT_CACHE_CAPACITY"),
                "{bad}: {message}"
            );
        }
        let setup = Setup::new(&[("THETASECURE_CLIENT_CACHE_CAPACITY", "99")]);
        let message = error_of(setup.resolve(None, Layer::default()));
        assert!(message.contains("--client-cache-capacity"), "{message}");
        assert!(message.contains("100 to 10000000"), "{message}");
    }

    #[test]
    fn refresh_token_settings_and_the_password_grant() {
        let setup = Setup::new(&[]);
        let defaults = setup.resolve(None, Layer::default()).unwrap();
        assert_eq!(
            defaults.settings.refresh_tokens,
            RefreshTokenPolicy::default()
        );
        assert!(!defaults.settings.allow_password_grant);

        let toml = setup.file(
            "config.toml",
            "refresh_token_idle_seconds = 3600\nrefresh_token_absolute_seconds = 86400\nrefresh_reuse_grace_seconds = 5\nallow_password_grant = true\n",
        );
        let from_file = setup.resolve(Some(&toml), Layer::default()).unwrap();
        let policy = from_file.settings.refresh_tokens;
        assert_eq!(
            (
                policy.idle_seconds(),
                policy.absolute_seconds(),
                policy.reuse_grace_seconds()
            ),
            (3600, 86400, 5)
        );
        assert!(from_file.settings.allow_password_grant);

        let env = Setup::new(&[
            ("THETASECURE_REFRESH_REUSE_GRACE_SECONDS", "10"),
            ("THETASECURE_ALLOW_PASSWORD_GRANT", "false"),
        ]);
        let toml = env.file(
            "config.toml",
            "refresh_reuse_grace_seconds = 5\nallow_password_grant = true\n",
        );
        let config = env.resolve(Some(&toml), Layer::default()).unwrap();
        assert_eq!(config.settings.refresh_tokens.reuse_grace_seconds(), 10);
        assert!(!config.settings.allow_password_grant, "env over file");
        let flags = Layer {
            refresh_reuse_grace_seconds: Some(20),
            allow_password_grant: Some(true),
            ..Layer::default()
        };
        let config = env.resolve(Some(&toml), flags).unwrap();
        assert_eq!(config.settings.refresh_tokens.reuse_grace_seconds(), 20);
        assert!(config.settings.allow_password_grant, "flags over env");

        for (name, value) in [
            ("THETASECURE_REFRESH_REUSE_GRACE_SECONDS", "61"),
            ("THETASECURE_REFRESH_REUSE_GRACE_SECONDS", "-1"),
            ("THETASECURE_REFRESH_TOKEN_IDLE_SECONDS", "0"),
            ("THETASECURE_REFRESH_TOKEN_ABSOLUTE_SECONDS", "forever"),
            ("THETASECURE_ALLOW_PASSWORD_GRANT", "perhaps"),
        ] {
            let message = error_of(Setup::new(&[(name, value)]).resolve(None, Layer::default()));
            assert!(message.contains(name), "{name}={value}: `{message}`");
        }
    }

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
