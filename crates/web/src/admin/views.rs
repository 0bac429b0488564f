//! The JSON shapes of the admin API. Bodies that create or change things are parsed by
//! the domain (so errors name fields); these types document them in the OpenAPI.

use serde::Serialize;
use thetasecure_app::records::{AuditEvent, ScopeRecord, SecretRecord};
use thetasecure_core::client::{Client, ClientMetadata};
use utoipa::ToSchema;

/// A client as the API shows it: RFC 7591 metadata plus ThetaSecure's fields. Never the secret.
#[derive(Serialize, ToSchema)]
pub struct ClientView {
    pub client_id: String,
    #[schema(value_type = String, example = "custom")]
    pub client_type: &'static str,
    #[serde(flatten)]
    #[schema(value_type = ClientMetadataDoc)]
    pub metadata: ClientMetadata,
    pub is_default: bool,
    /// RFC 3339 UTC.
    pub created_at: String,
    pub updated_at: String,
}

impl From<Client> for ClientView {
    fn from(client: Client) -> Self {
        Self {
            client_id: client.client_id.to_string(),
            client_type: client.client_type.as_str(),
            metadata: client.metadata,
            is_default: client.is_default,
            created_at: client.created_at.to_rfc3339(),
            updated_at: client.updated_at.to_rfc3339(),
        }
    }
}

/// The mutable client fields (RFC 7591 names) as a client shows them.
#[derive(Serialize, ToSchema)]
pub struct ClientMetadataDoc {
    #[schema(example = "Billing service")]
    pub client_name: String,
    pub description: Option<String>,
    #[schema(example = json!(["https://app.example.com/callback"]))]
    pub redirect_uris: Vec<String>,
    #[schema(example = json!(["client_credentials"]))]
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    #[schema(example = "api.read api.write")]
    pub scope: String,
    #[schema(example = "client_secret_basic")]
    pub token_endpoint_auth_method: String,
    pub require_user_consent: bool,
    #[schema(minimum = 60, maximum = 86400)]
    pub access_token_ttl_seconds: Option<u32>,
    #[schema(example = "active")]
    pub status: String,
}

/// The create body: the mutable fields plus `client_type`. Only `client_name` is always
/// required; a `custom` client also needs `grant_types` and `scope`, which the
/// `sync_connector` preset sets. `null` is the same as leaving a field out; unknown and
/// read-only fields are refused.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClientDoc {
    /// `custom` (the default) or `sync_connector`; immutable.
    #[schema(example = "custom")]
    pub client_type: Option<String>,
    #[schema(example = "Billing service")]
    pub client_name: String,
    pub description: Option<String>,
    #[schema(example = json!(["https://app.example.com/callback"]))]
    pub redirect_uris: Option<Vec<String>>,
    #[schema(example = json!(["client_credentials"]))]
    pub grant_types: Option<Vec<String>>,
    /// Defaults to what `grant_types` implies.
    pub response_types: Option<Vec<String>>,
    #[schema(example = "api.read api.write")]
    pub scope: Option<String>,
    /// `client_secret_basic` (the default), `client_secret_post` or `none`.
    pub token_endpoint_auth_method: Option<String>,
    /// Defaults to `false`.
    pub require_user_consent: Option<bool>,
    #[schema(minimum = 60, maximum = 86400)]
    pub access_token_ttl_seconds: Option<u32>,
    /// `active` (the default) or `disabled`.
    pub status: Option<String>,
}

/// A JSON merge patch (RFC 7396) of the mutable fields: those given replace the
/// client's, `null` resets one to its default. The result is validated as a create is.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientPatchDoc {
    /// May be repeated, never changed.
    pub client_type: Option<String>,
    pub client_name: Option<String>,
    pub description: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub grant_types: Option<Vec<String>>,
    pub response_types: Option<Vec<String>>,
    pub scope: Option<String>,
    pub token_endpoint_auth_method: Option<String>,
    pub require_user_consent: Option<bool>,
    #[schema(minimum = 60, maximum = 86400)]
    pub access_token_ttl_seconds: Option<u32>,
    pub status: Option<String>,
}

/// A created client with its secret, shown this once.
#[derive(Serialize, ToSchema)]
pub struct ClientCreatedView {
    #[serde(flatten)]
    pub client: ClientView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ClientListView {
    pub items: Vec<ClientView>,
    pub next_cursor: Option<String>,
}

/// A secret's record; its value is never shown after creation.
#[derive(Serialize, ToSchema)]
pub struct SecretView {
    pub id: String,
    /// The first 8 characters, e.g. `tss_Ab3x`.
    pub hint: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub last_used_at: Option<String>,
    pub active: bool,
}

impl SecretView {
    pub fn new(record: SecretRecord, now: thetasecure_core::Timestamp) -> Self {
        Self {
            active: record.is_active(now),
            id: record.id,
            hint: record.hint,
            created_at: record.created_at.to_rfc3339(),
            expires_at: record.expires_at.map(|t| t.to_rfc3339()),
            revoked_at: record.revoked_at.map(|t| t.to_rfc3339()),
            last_used_at: record.last_used_at.map(|t| t.to_rfc3339()),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SecretListView {
    pub items: Vec<SecretView>,
}

/// A newly issued secret: its record plus `client_secret`, shown this once.
#[derive(Serialize, ToSchema)]
pub struct SecretCreatedView {
    #[serde(flatten)]
    pub record: SecretView,
    pub client_secret: String,
}

#[derive(Serialize, ToSchema)]
pub struct RotateSecretDoc {
    /// How long the secrets active now keep working (0–604800, default 0).
    #[schema(minimum = 0, maximum = 604800)]
    pub grace_period_seconds: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ScopeView {
    pub name: String,
    pub description: String,
    pub is_builtin: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<ScopeRecord> for ScopeView {
    fn from(scope: ScopeRecord) -> Self {
        Self {
            name: scope.name,
            description: scope.description,
            is_builtin: scope.is_builtin,
            created_at: scope.created_at.to_rfc3339(),
            updated_at: scope.updated_at.to_rfc3339(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ScopeListView {
    pub items: Vec<ScopeView>,
}

#[derive(Serialize, ToSchema)]
pub struct NewScopeDoc {
    #[schema(example = "billing:read")]
    pub name: String,
    pub description: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ScopePatchDoc {
    pub description: String,
}

#[derive(Serialize, ToSchema)]
pub struct AuditEventView {
    pub id: String,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

impl From<AuditEvent> for AuditEventView {
    fn from(event: AuditEvent) -> Self {
        Self {
            id: event.id,
            at: event.at.to_rfc3339(),
            actor: event.actor,
            action: event.action,
            target_type: event.target_type,
            target_id: event.target_id,
            details: event.details,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AuditListView {
    pub items: Vec<AuditEventView>,
    pub next_cursor: Option<String>,
}
