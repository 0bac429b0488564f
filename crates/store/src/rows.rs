//! Row shapes shared by both engines, and their conversion to and from domain types.
//! The SQL differs per engine; the columns and their meaning do not.

use thetasecure_core::Timestamp;
use thetasecure_core::client::{Client, ClientMetadata};
use thetasecure_core::grant::{AuthMethod, ClientStatus, ClientType, GrantType, ResponseType};
use thetasecure_core::ids::ClientId;
use thetasecure_core::redirect_uri::RedirectUri;
use thetasecure_core::scope::ScopeSet;
use thetasecure_core::secret::SecretHash;

use crate::{AuditEntry, ScopeRecord, SecretRecord, SigningKeyRecord, StoreError};

/// The column list every client `SELECT` reads, in `ClientRow` order.
macro_rules! client_columns {
    () => {
        "client_id, client_type, client_name, description, redirect_uris, grant_types, \
         response_types, scope, token_endpoint_auth_method, require_user_consent, \
         access_token_ttl_seconds, status, is_default, created_at, updated_at, \
         tokens_revoked_before, post_logout_redirect_uris"
    };
}
pub(crate) use client_columns;

macro_rules! secret_columns {
    () => {
        "id, client_id, hash, hint, created_at, expires_at, revoked_at, last_used_at"
    };
}
pub(crate) use secret_columns;

/// `INSERT INTO clients (…) VALUES $values`: every column of `client_columns!` and the
/// search text, in the order `bind_client!` binds them.
macro_rules! insert_client {
    ($values:literal) => {
        concat!(
            "INSERT INTO clients (",
            $crate::rows::client_columns!(),
            ", search_text) VALUES ",
            $values
        )
    };
}
pub(crate) use insert_client;

/// `INSERT INTO client_secrets (…) VALUES $values`, in the order `bind_secret!` binds.
macro_rules! insert_secret {
    ($values:literal) => {
        concat!(
            "INSERT INTO client_secrets (",
            $crate::rows::secret_columns!(),
            ") VALUES ",
            $values
        )
    };
}
pub(crate) use insert_secret;

/// `INSERT INTO audit_events (…) VALUES $values`, in the order `bind_audit!` binds.
macro_rules! insert_audit {
    ($values:literal) => {
        concat!(
            "INSERT INTO audit_events (id, at, actor, action, target_type, target_id, details) VALUES ",
            $values
        )
    };
}
pub(crate) use insert_audit;

/// Binds every client column of `ClientValues` in the order of `insert_client!`:
/// client_id first, then the mutable fields, then the rest.
macro_rules! bind_client {
    ($query:expr, $v:expr) => {
        $query
            .bind(&$v.client_id)
            .bind(&$v.client_type)
            .bind(&$v.client_name)
            .bind(&$v.description)
            .bind(&$v.redirect_uris)
            .bind(&$v.grant_types)
            .bind(&$v.response_types)
            .bind(&$v.scope)
            .bind(&$v.token_endpoint_auth_method)
            .bind($v.require_user_consent)
            .bind($v.access_token_ttl_seconds)
            .bind(&$v.status)
            .bind($v.is_default)
            .bind($v.created_at)
            .bind($v.updated_at)
            .bind($v.tokens_revoked_before)
            .bind(&$v.post_logout_redirect_uris)
            .bind(&$v.search_text)
    };
}
pub(crate) use bind_client;

macro_rules! bind_secret {
    ($query:expr, $s:expr) => {
        $query
            .bind(&$s.id)
            .bind($s.client_id.as_str())
            .bind($s.hash.as_bytes())
            .bind(&$s.hint)
            .bind($s.created_at.0)
            .bind($s.expires_at.map(|t| t.0))
            .bind($s.revoked_at.map(|t| t.0))
            .bind($s.last_used_at.map(|t| t.0))
    };
}
pub(crate) use bind_secret;

/// Binds an audit entry in the column order of `insert_audit!`; `$details` is
/// `audit_details(entry)?`, computed by the caller so the macro needs no `?`.
macro_rules! bind_audit {
    ($query:expr, $entry:expr, $details:expr) => {
        $query
            .bind(&$entry.id)
            .bind($entry.at.0)
            .bind(&$entry.actor)
            .bind(&$entry.action)
            .bind(&$entry.target_type)
            .bind(&$entry.target_id)
            .bind($details)
    };
}
pub(crate) use bind_audit;

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::backend(format!("stored {what} `{value}` is not valid"))
}

pub(crate) fn client_id(raw: &str) -> Result<ClientId, StoreError> {
    ClientId::parse(raw).ok_or_else(|| corrupt("client id", raw))
}

pub(crate) fn json_list(
    values: impl Iterator<Item = impl AsRef<str>>,
) -> Result<String, StoreError> {
    let list: Vec<String> = values.map(|v| v.as_ref().to_owned()).collect();
    serde_json::to_string(&list).map_err(|err| StoreError::backend_because("a JSON list", err))
}

fn parse_list<T>(
    what: &str,
    raw: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Vec<T>, StoreError> {
    let items: Vec<String> = serde_json::from_str(raw).map_err(|_| corrupt(what, raw))?;
    items
        .iter()
        .map(|item| parse(item).ok_or_else(|| corrupt(what, item)))
        .collect()
}

/// The lowercased text `ClientFilter::search` is matched against.
pub(crate) fn search_text(client: &Client) -> String {
    format!("{} {}", client.metadata.client_name, client.client_id).to_lowercase()
}

/// The needle for the grant-type filter: the quoted value as it appears in the JSON array.
pub(crate) fn grant_needle(grant: GrantType) -> String {
    format!("\"{}\"", grant.as_str())
}

/// A client create's rows: the client, its first secret and the audit entry, owned so
/// that the create can wait in a group commit's queue.
pub(crate) struct NewClientRows {
    pub client: Client,
    pub secret: Option<SecretRecord>,
    pub audit: AuditEntry,
}

impl NewClientRows {
    pub fn new(client: &Client, secret: Option<&SecretRecord>, audit: &AuditEntry) -> Self {
        Self {
            client: client.clone(),
            secret: secret.cloned(),
            audit: audit.clone(),
        }
    }
}

/// A client flattened into column values.
pub(crate) struct ClientValues {
    pub client_id: String,
    pub client_type: &'static str,
    pub client_name: String,
    pub description: Option<String>,
    pub redirect_uris: String,
    pub grant_types: String,
    pub response_types: String,
    pub scope: String,
    pub token_endpoint_auth_method: &'static str,
    pub require_user_consent: bool,
    pub access_token_ttl_seconds: Option<i64>,
    pub status: &'static str,
    pub is_default: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub tokens_revoked_before: Option<i64>,
    pub post_logout_redirect_uris: String,
    pub search_text: String,
}

impl ClientValues {
    pub fn new(client: &Client) -> Result<Self, StoreError> {
        let m = &client.metadata;
        Ok(Self {
            client_id: client.client_id.as_str().to_owned(),
            client_type: client.client_type.as_str(),
            client_name: m.client_name.clone(),
            description: m.description.clone(),
            redirect_uris: json_list(m.redirect_uris.iter().map(RedirectUri::as_str))?,
            grant_types: json_list(m.grant_types.iter().map(|g| g.as_str()))?,
            response_types: json_list(m.response_types.iter().map(|r| r.as_str()))?,
            scope: m.scope.to_string(),
            token_endpoint_auth_method: m.token_endpoint_auth_method.as_str(),
            require_user_consent: m.require_user_consent,
            access_token_ttl_seconds: m.access_token_ttl_seconds.map(i64::from),
            status: m.status.as_str(),
            is_default: client.is_default,
            created_at: client.created_at.0,
            updated_at: client.updated_at.0,
            tokens_revoked_before: client.tokens_revoked_before.map(|t| t.0),
            post_logout_redirect_uris: json_list(
                m.post_logout_redirect_uris.iter().map(RedirectUri::as_str),
            )?,
            search_text: search_text(client),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ClientRow {
    client_id: String,
    client_type: String,
    client_name: String,
    description: Option<String>,
    redirect_uris: String,
    grant_types: String,
    response_types: String,
    scope: String,
    token_endpoint_auth_method: String,
    require_user_consent: bool,
    access_token_ttl_seconds: Option<i64>,
    status: String,
    is_default: bool,
    created_at: i64,
    updated_at: i64,
    tokens_revoked_before: Option<i64>,
    post_logout_redirect_uris: String,
}

impl ClientRow {
    /// Stored values were validated before they were written; one that no longer parses
    /// is reported as a backend error, never a panic.
    pub fn into_client(self) -> Result<Client, StoreError> {
        let access_token_ttl_seconds = match self.access_token_ttl_seconds {
            None => None,
            Some(ttl) => Some(
                u32::try_from(ttl)
                    .map_err(|_| corrupt("access_token_ttl_seconds", &ttl.to_string()))?,
            ),
        };
        if self.scope.trim().is_empty() {
            return Err(corrupt("scope", &self.scope));
        }
        Ok(Client {
            client_id: client_id(&self.client_id)?,
            client_type: ClientType::parse(&self.client_type)
                .ok_or_else(|| corrupt("client_type", &self.client_type))?,
            metadata: ClientMetadata {
                client_name: self.client_name,
                description: self.description,
                redirect_uris: parse_list("redirect_uri", &self.redirect_uris, |raw| {
                    Some(RedirectUri::from_trusted(raw.to_owned()))
                })?,
                post_logout_redirect_uris: parse_list(
                    "post_logout_redirect_uri",
                    &self.post_logout_redirect_uris,
                    |raw| Some(RedirectUri::from_trusted(raw.to_owned())),
                )?,
                grant_types: parse_list("grant_type", &self.grant_types, GrantType::parse)?,
                response_types: parse_list(
                    "response_type",
                    &self.response_types,
                    ResponseType::parse,
                )?,
                scope: ScopeSet::from_trusted(&self.scope),
                token_endpoint_auth_method: AuthMethod::parse(&self.token_endpoint_auth_method)
                    .ok_or_else(|| {
                        corrupt(
                            "token_endpoint_auth_method",
                            &self.token_endpoint_auth_method,
                        )
                    })?,
                require_user_consent: self.require_user_consent,
                access_token_ttl_seconds,
                status: ClientStatus::parse(&self.status)
                    .ok_or_else(|| corrupt("status", &self.status))?,
            },
            is_default: self.is_default,
            created_at: Timestamp(self.created_at),
            updated_at: Timestamp(self.updated_at),
            tokens_revoked_before: self.tokens_revoked_before.map(Timestamp),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SecretRow {
    id: String,
    client_id: String,
    hash: Vec<u8>,
    hint: String,
    created_at: i64,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
    last_used_at: Option<i64>,
}

impl SecretRow {
    pub fn into_record(self) -> Result<SecretRecord, StoreError> {
        Ok(SecretRecord {
            id: self.id,
            client_id: client_id(&self.client_id)?,
            hash: SecretHash::from_bytes(self.hash),
            hint: self.hint,
            created_at: Timestamp(self.created_at),
            expires_at: self.expires_at.map(Timestamp),
            revoked_at: self.revoked_at.map(Timestamp),
            last_used_at: self.last_used_at.map(Timestamp),
        })
    }
}

/// A client joined with one of its secrets, or with none (`LEFT JOIN`): what
/// `clients::get_with_active_secrets` reads in one statement. The secret's columns are
/// prefixed, since both tables have `client_id` and `created_at`.
#[derive(sqlx::FromRow)]
pub(crate) struct ClientSecretRow {
    #[sqlx(flatten)]
    pub(crate) client: ClientRow,
    secret_id: Option<String>,
    secret_hash: Option<Vec<u8>>,
    secret_hint: Option<String>,
    secret_created_at: Option<i64>,
    secret_expires_at: Option<i64>,
    secret_revoked_at: Option<i64>,
    secret_last_used_at: Option<i64>,
}

/// The joined secret columns, in `ClientSecretRow`'s names, from the table aliased `s`.
macro_rules! joined_secret_columns {
    () => {
        "s.id AS secret_id, s.hash AS secret_hash, s.hint AS secret_hint, \
         s.created_at AS secret_created_at, s.expires_at AS secret_expires_at, \
         s.revoked_at AS secret_revoked_at, s.last_used_at AS secret_last_used_at"
    };
}
pub(crate) use joined_secret_columns;

impl ClientSecretRow {
    /// The joined secret, if the row has one.
    pub(crate) fn secret(&self) -> Result<Option<SecretRecord>, StoreError> {
        let (Some(id), Some(hash), Some(hint), Some(created_at)) = (
            &self.secret_id,
            &self.secret_hash,
            &self.secret_hint,
            self.secret_created_at,
        ) else {
            return Ok(None);
        };
        Ok(Some(SecretRecord {
            id: id.clone(),
            client_id: client_id(&self.client.client_id)?,
            hash: SecretHash::from_bytes(hash.clone()),
            hint: hint.clone(),
            created_at: Timestamp(created_at),
            expires_at: self.secret_expires_at.map(Timestamp),
            revoked_at: self.secret_revoked_at.map(Timestamp),
            last_used_at: self.secret_last_used_at.map(Timestamp),
        }))
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ScopeRow {
    name: String,
    description: String,
    is_builtin: bool,
    created_at: i64,
    updated_at: i64,
}

impl From<ScopeRow> for ScopeRecord {
    fn from(row: ScopeRow) -> Self {
        ScopeRecord {
            name: row.name,
            description: row.description,
            is_builtin: row.is_builtin,
            created_at: Timestamp(row.created_at),
            updated_at: Timestamp(row.updated_at),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SigningKeyRow {
    kid: String,
    alg: String,
    encrypted_private_key: Vec<u8>,
    created_at: i64,
    retired_at: Option<i64>,
}

impl From<SigningKeyRow> for SigningKeyRecord {
    fn from(row: SigningKeyRow) -> Self {
        SigningKeyRecord {
            kid: row.kid,
            alg: row.alg,
            encrypted_private_key: row.encrypted_private_key,
            created_at: Timestamp(row.created_at),
            retired_at: row.retired_at.map(Timestamp),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    id: String,
    at: i64,
    actor: String,
    action: String,
    target_type: String,
    target_id: String,
    details: String,
}

impl AuditRow {
    pub fn into_entry(self) -> Result<AuditEntry, StoreError> {
        let details =
            serde_json::from_str(&self.details).map_err(|_| corrupt("audit details", &self.id))?;
        Ok(AuditEntry {
            id: self.id,
            at: Timestamp(self.at),
            actor: self.actor,
            action: self.action,
            target_type: self.target_type,
            target_id: self.target_id,
            details,
        })
    }
}

pub(crate) fn audit_details(entry: &AuditEntry) -> Result<String, StoreError> {
    serde_json::to_string(&entry.details)
        .map_err(|err| StoreError::backend_because("audit details", err))
}

/// Limits are bound as i64: neither engine has unsigned integers.
pub(crate) fn limit(n: u32) -> i64 {
    i64::from(n)
}
