//! The client model (SPEC 3). Parse, don't validate: a `ClientMetadata` that exists has
//! passed every rule, and the same parser serves create and merge-patch, so an update is
//! validated exactly as a create is.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::Timestamp;
use crate::error::{ErrorCode, OAuthError};
use crate::grant::{AuthMethod, ClientStatus, ClientType, GrantType, ResponseType};
use crate::ids::ClientId;
use crate::redirect_uri::RedirectUri;
use crate::scope::ScopeSet;
use crate::text::{TextError, TextRule, shown};

/// SPEC 3: 1–200 characters after trimming, any Unicode.
pub const CLIENT_NAME: TextRule = TextRule::single_line(1, 200);
/// SPEC 3: at most 2000 characters.
pub const CLIENT_DESCRIPTION: TextRule = TextRule::multi_line(0, 2000);
/// The admin list's `search`: a term longer than any client name or id matches nothing.
pub const CLIENT_SEARCH: TextRule = TextRule::single_line(0, CLIENT_NAME.max_chars);
pub const MAX_REDIRECT_URIS: usize = 20;
pub const TTL_RANGE_SECONDS: std::ops::RangeInclusive<u32> = 60..=86_400;
const SYNC_CONNECTOR_SCOPE: &str = "directory.read directory.write";

/// Every mutable field, validated. Field names are RFC 7591 client metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientMetadata {
    pub client_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub redirect_uris: Vec<RedirectUri>,
    pub grant_types: Vec<GrantType>,
    pub response_types: Vec<ResponseType>,
    #[serde(serialize_with = "serialize_display")]
    pub scope: ScopeSet,
    pub token_endpoint_auth_method: AuthMethod,
    pub require_user_consent: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token_ttl_seconds: Option<u32>,
    pub status: ClientStatus,
}

fn serialize_display<S: serde::Serializer>(value: &ScopeSet, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

impl ClientMetadata {
    pub fn is_confidential(&self) -> bool {
        self.token_endpoint_auth_method.is_confidential()
    }

    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }
}

/// A stored client. The secret is not part of it: secrets are separate records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub client_id: ClientId,
    pub client_type: ClientType,
    pub metadata: ClientMetadata,
    pub is_default: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Access tokens issued before this instant are revoked (revoke-tokens, disable).
    pub tokens_revoked_before: Option<Timestamp>,
}

impl Client {
    pub fn is_active(&self) -> bool {
        self.metadata.status == ClientStatus::Active
    }
}

/// A validated create request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewClient {
    pub client_type: ClientType,
    pub metadata: ClientMetadata,
}

const MUTABLE_FIELDS: &[&str] = &[
    "client_name",
    "description",
    "redirect_uris",
    "grant_types",
    "response_types",
    "scope",
    "token_endpoint_auth_method",
    "require_user_consent",
    "access_token_ttl_seconds",
    "status",
];
const READ_ONLY_FIELDS: &[&str] = &[
    "client_id",
    "client_secret",
    "is_default",
    "created_at",
    "updated_at",
];

/// Parses a create request body. `scope_exists` answers whether a scope is registered.
pub fn parse_new_client(
    body: &Value,
    scope_exists: &dyn Fn(&str) -> bool,
) -> Result<NewClient, OAuthError> {
    let mut fields = as_object(body)?.clone();
    let client_type = match fields.remove("client_type") {
        None | Some(Value::Null) => ClientType::Custom,
        Some(Value::String(raw)) => ClientType::parse(&raw).ok_or_else(|| {
            metadata_error(format!(
                "client_type must be one of: {}",
                ClientType::expected()
            ))
        })?,
        Some(_) => return Err(metadata_error("client_type must be a string")),
    };
    let metadata = parse_metadata(fields, client_type, scope_exists)?;
    Ok(NewClient {
        client_type,
        metadata,
    })
}

/// Applies a JSON merge patch (RFC 7396) to a client and validates the result as a
/// create would be. `client_type` may be repeated unchanged but never changed.
pub fn apply_merge_patch(
    current: &Client,
    patch: &Value,
    scope_exists: &dyn Fn(&str) -> bool,
) -> Result<ClientMetadata, OAuthError> {
    let mut patch = as_object(patch)?.clone();
    match patch.remove("client_type") {
        None => {}
        Some(Value::String(raw)) if raw == current.client_type.as_str() => {}
        Some(_) => return Err(metadata_error("client_type is immutable")),
    }
    // Also for members set to null, which the merge drops: the audit entry lists them.
    if let Some(refused) = patch.keys().find_map(|key| refuse_field(key)) {
        return Err(refused);
    }
    let mut merged = match serde_json::to_value(&current.metadata) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    // response_types follows grant_types unless the patch sets it, so a patch that only
    // changes grant_types does not trip over the old, now inconsistent, value.
    if patch.contains_key("grant_types") && !patch.contains_key("response_types") {
        merged.remove("response_types");
    }
    for (key, value) in patch {
        if value.is_null() {
            merged.remove(&key);
        } else {
            merged.insert(key, value);
        }
    }
    parse_metadata(merged, current.client_type, scope_exists)
}

/// For a default client, the name of the first protected field an update changes.
pub fn protected_field_changed(current: &Client, updated: &ClientMetadata) -> Option<&'static str> {
    let before = &current.metadata;
    if !current.is_default {
        None
    } else if before.grant_types != updated.grant_types {
        Some("grant_types")
    } else if before.scope != updated.scope {
        Some("scope")
    } else if before.redirect_uris != updated.redirect_uris {
        Some("redirect_uris")
    } else {
        None
    }
}

fn as_object(body: &Value) -> Result<&Map<String, Value>, OAuthError> {
    body.as_object()
        .ok_or_else(|| OAuthError::invalid_request("the request body must be a JSON object"))
}

fn metadata_error(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClientMetadata, description)
}

fn text_error(error: TextError) -> OAuthError {
    metadata_error(error.to_string())
}

/// The error for a member that is not a mutable field, if `key` is not one.
fn refuse_field(key: &str) -> Option<OAuthError> {
    if MUTABLE_FIELDS.contains(&key) {
        None
    } else if READ_ONLY_FIELDS.contains(&key) {
        Some(metadata_error(format!("{key} is read-only")))
    } else {
        Some(metadata_error(format!("unknown field `{}`", shown(key))))
    }
}

fn redirect_error(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRedirectUri, description)
}

fn parse_metadata(
    mut fields: Map<String, Value>,
    client_type: ClientType,
    scope_exists: &dyn Fn(&str) -> bool,
) -> Result<ClientMetadata, OAuthError> {
    fields.retain(|_, value| !value.is_null());
    if let Some(refused) = fields.keys().find_map(|key| refuse_field(key)) {
        return Err(refused);
    }
    if client_type == ClientType::SyncConnector {
        apply_sync_connector_preset(&mut fields)?;
    }

    let client_name = CLIENT_NAME
        .normalise("client_name", required_string(&fields, "client_name")?)
        .map_err(text_error)?;
    let description = optional_string(&fields, "description")?
        .map(|raw| CLIENT_DESCRIPTION.normalise("description", raw))
        .transpose()
        .map_err(text_error)?
        .filter(|text| !text.is_empty());

    let token_endpoint_auth_method = match optional_string(&fields, "token_endpoint_auth_method")? {
        None => AuthMethod::ClientSecretBasic,
        Some(raw) => AuthMethod::parse(raw).ok_or_else(|| {
            metadata_error(format!(
                "token_endpoint_auth_method must be one of: {}",
                AuthMethod::expected()
            ))
        })?,
    };
    let confidential = token_endpoint_auth_method.is_confidential();

    let grant_types = parse_grant_types(&fields)?;
    let has = |grant| grant_types.contains(&grant);
    if has(GrantType::RefreshToken)
        && !has(GrantType::AuthorizationCode)
        && !has(GrantType::Password)
    {
        return Err(metadata_error(
            "grant_types: refresh_token requires authorization_code or password",
        ));
    }
    if !confidential {
        for grant in [GrantType::ClientCredentials, GrantType::Password] {
            if has(grant) {
                return Err(metadata_error(format!(
                    "grant_types: {grant} requires a confidential client (token_endpoint_auth_method other than none)"
                )));
            }
        }
    }

    let consistent_response_types = if has(GrantType::AuthorizationCode) {
        vec![ResponseType::Code]
    } else {
        Vec::new()
    };
    let response_types = match fields.get("response_types") {
        None => consistent_response_types,
        Some(value) => {
            let parsed = string_array(value, "response_types")?
                .into_iter()
                .map(|raw| {
                    ResponseType::parse(raw).ok_or_else(|| {
                        metadata_error(format!(
                            "response_types: `{}` is not supported (supported: {})",
                            shown(raw),
                            ResponseType::expected()
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let mut deduped = parsed.clone();
            deduped.dedup();
            if deduped != consistent_response_types {
                return Err(metadata_error(
                    "response_types must be [\"code\"] when grant_types has authorization_code, else [] (RFC 7591 §2.1)",
                ));
            }
            deduped
        }
    };

    let scope_raw = required_string(&fields, "scope")?;
    let scope = ScopeSet::parse(scope_raw).map_err(|err| metadata_error(format!("scope {err}")))?;
    if let Some(unknown) = scope.iter().find(|name| !scope_exists(name)) {
        return Err(metadata_error(format!(
            "scope `{unknown}` is not in the scope registry"
        )));
    }

    let redirect_uris = parse_redirect_uris(&fields, !confidential)?;
    if has(GrantType::AuthorizationCode) && redirect_uris.is_empty() {
        return Err(redirect_error(
            "redirect_uris: at least one is required with the authorization_code grant",
        ));
    }

    let require_user_consent = match fields.get("require_user_consent") {
        None => false,
        Some(Value::Bool(flag)) => *flag,
        Some(_) => return Err(metadata_error("require_user_consent must be a boolean")),
    };
    let access_token_ttl_seconds = match fields.get("access_token_ttl_seconds") {
        None => None,
        Some(value) => Some(
            value
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| TTL_RANGE_SECONDS.contains(n))
                .ok_or_else(|| {
                    metadata_error(format!(
                        "access_token_ttl_seconds must be an integer from {} to {}",
                        TTL_RANGE_SECONDS.start(),
                        TTL_RANGE_SECONDS.end()
                    ))
                })?,
        ),
    };
    let status = match optional_string(&fields, "status")? {
        None => ClientStatus::Active,
        Some(raw) => ClientStatus::parse(raw).ok_or_else(|| {
            metadata_error(format!(
                "status must be one of: {}",
                ClientStatus::expected()
            ))
        })?,
    };

    Ok(ClientMetadata {
        client_name,
        description,
        redirect_uris,
        grant_types,
        response_types,
        scope,
        token_endpoint_auth_method,
        require_user_consent,
        access_token_ttl_seconds,
        status,
    })
}

/// Sync connectors get a fixed configuration; a request may restate it but not vary it.
fn apply_sync_connector_preset(fields: &mut Map<String, Value>) -> Result<(), OAuthError> {
    let preset = [
        ("grant_types", serde_json::json!(["client_credentials"])),
        ("scope", Value::from(SYNC_CONNECTOR_SCOPE)),
        (
            "token_endpoint_auth_method",
            Value::from("client_secret_basic"),
        ),
        ("redirect_uris", serde_json::json!([])),
        ("response_types", serde_json::json!([])),
    ];
    for (key, fixed) in preset {
        let same = match (fields.get(key), &fixed) {
            (None, _) => true,
            (Some(Value::String(given)), Value::String(_)) if key == "scope" => {
                ScopeSet::parse(given).ok() == ScopeSet::parse(SYNC_CONNECTOR_SCOPE).ok()
            }
            (Some(given), fixed) => given == fixed,
        };
        if !same {
            return Err(metadata_error(format!(
                "{key} is fixed for sync_connector clients (preset: {fixed})"
            )));
        }
        fields.insert(key.to_owned(), fixed);
    }
    Ok(())
}

fn parse_grant_types(fields: &Map<String, Value>) -> Result<Vec<GrantType>, OAuthError> {
    let Some(value) = fields.get("grant_types") else {
        return Err(metadata_error("grant_types is required"));
    };
    let mut grants = Vec::new();
    for raw in string_array(value, "grant_types")? {
        let grant = GrantType::parse(raw).ok_or_else(|| {
            metadata_error(format!(
                "grant_types: `{}` is not supported (supported: {})",
                shown(raw),
                GrantType::expected()
            ))
        })?;
        if !grants.contains(&grant) {
            grants.push(grant);
        }
    }
    if grants.is_empty() {
        return Err(metadata_error(
            "grant_types must name at least one grant type",
        ));
    }
    Ok(grants)
}

fn parse_redirect_uris(
    fields: &Map<String, Value>,
    public_client: bool,
) -> Result<Vec<RedirectUri>, OAuthError> {
    let Some(value) = fields.get("redirect_uris") else {
        return Ok(Vec::new());
    };
    let raw_uris =
        string_array(value, "redirect_uris").map_err(|err| redirect_error(err.description))?;
    if raw_uris.len() > MAX_REDIRECT_URIS {
        return Err(redirect_error(format!(
            "redirect_uris: at most {MAX_REDIRECT_URIS} are allowed"
        )));
    }
    let mut uris: Vec<RedirectUri> = Vec::with_capacity(raw_uris.len());
    for raw in raw_uris {
        let uri = RedirectUri::parse(raw, public_client)
            .map_err(|why| redirect_error(format!("redirect_uris: `{}` {why}", shown(raw))))?;
        if uris.contains(&uri) {
            return Err(redirect_error(format!(
                "redirect_uris: `{}` is listed twice",
                shown(raw)
            )));
        }
        uris.push(uri);
    }
    Ok(uris)
}

fn required_string<'a>(fields: &'a Map<String, Value>, key: &str) -> Result<&'a str, OAuthError> {
    optional_string(fields, key)?.ok_or_else(|| metadata_error(format!("{key} is required")))
}

fn optional_string<'a>(
    fields: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a str>, OAuthError> {
    match fields.get(key) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(metadata_error(format!("{key} must be a string"))),
    }
}

fn string_array<'a>(value: &'a Value, key: &str) -> Result<Vec<&'a str>, OAuthError> {
    value
        .as_array()
        .and_then(|items| items.iter().map(Value::as_str).collect::<Option<Vec<_>>>())
        .ok_or_else(|| metadata_error(format!("{key} must be an array of strings")))
}

/// One of the clients every installation starts with (SPEC 2).
pub struct DefaultClient {
    pub client_id: &'static str,
    pub metadata: ClientMetadata,
}

pub const ADMIN_CLIENT_ID: &str = "ts_admin_client";
pub const SYNC_CLIENT_ID: &str = "ts_sync_client";

/// The four default clients of the product page, exactly as SPEC 2 lists them.
pub fn default_clients() -> Vec<DefaultClient> {
    let scope = ScopeSet::from_trusted;
    let confidential = |name: &str, scope_raw: &str| ClientMetadata {
        client_name: name.to_owned(),
        description: None,
        redirect_uris: Vec::new(),
        grant_types: vec![GrantType::ClientCredentials],
        response_types: Vec::new(),
        scope: scope(scope_raw),
        token_endpoint_auth_method: AuthMethod::ClientSecretBasic,
        require_user_consent: false,
        access_token_ttl_seconds: None,
        status: ClientStatus::Active,
    };
    let native = |name: &str, redirect: &str| ClientMetadata {
        client_name: name.to_owned(),
        description: None,
        redirect_uris: vec![RedirectUri::from_trusted(redirect.to_owned())],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        response_types: vec![ResponseType::Code],
        scope: scope("openid profile email offline_access"),
        token_endpoint_auth_method: AuthMethod::None,
        require_user_consent: false,
        access_token_ttl_seconds: None,
        status: ClientStatus::Active,
    };
    let with_description = |mut metadata: ClientMetadata, text: &str| {
        metadata.description = Some(text.to_owned());
        metadata
    };
    vec![
        DefaultClient {
            client_id: ADMIN_CLIENT_ID,
            metadata: with_description(
                confidential("Admin Client", "admin"),
                "Administrative API access for platform management operations.",
            ),
        },
        DefaultClient {
            client_id: SYNC_CLIENT_ID,
            metadata: with_description(
                confidential("Sync Service Client", SYNC_CONNECTOR_SCOPE),
                "Internal service communication for directory synchronization.",
            ),
        },
        DefaultClient {
            client_id: "thetasecure-mobile-app",
            metadata: with_description(
                native(
                    "ThetaSecure Mobile App",
                    "com.thetasecure.mobile:/oauth2/callback",
                ),
                "End user authentication from the ThetaSecure mobile application.",
            ),
        },
        DefaultClient {
            client_id: "thetasecure-desktop-agent",
            metadata: with_description(
                native("ThetaSecure Desktop Agent", "http://127.0.0.1/callback"),
                "End user authentication from the ThetaSecure desktop agent.",
            ),
        },
    ]
}

#[cfg(test)]
mod tests;
