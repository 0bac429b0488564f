//! The JSON shapes the admin API answers with (the CLI's `--json` prints the same),
//! each made from the typed view a use case returns. Request bodies are in `requests`.

use serde::Serialize;
use thetasecure_app::records::{
    AuditEvent, ConsentRecord, RefreshTokenRecord, ScopeRecord, SecretRecord, SessionRecord,
};
use thetasecure_core::client::{Client, ClientMetadata};
use thetasecure_core::usage::ClientUsage;
use thetasecure_core::user::User;
use utoipa::ToSchema;

/// A client as the API shows it: RFC 7591 metadata plus ThetaSecure's fields. Never the secret.
#[derive(Serialize, ToSchema)]
pub struct ClientView {
    pub client_id: String,
    #[schema(value_type = String, example = "custom")]
    pub client_type: &'static str,
    #[serde(flatten)]
    pub metadata: ClientMetadataDoc,
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
            metadata: ClientMetadataDoc::from(client.metadata),
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[schema(example = json!(["https://app.example.com/callback"]))]
    pub redirect_uris: Vec<String>,
    #[schema(example = json!(["https://app.example.com/signed-out"]))]
    pub post_logout_redirect_uris: Vec<String>,
    #[schema(example = json!(["client_credentials"]))]
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    #[schema(example = "api.read api.write")]
    pub scope: String,
    #[schema(example = "client_secret_basic")]
    pub token_endpoint_auth_method: String,
    pub require_user_consent: bool,
    #[schema(minimum = 60, maximum = 86400)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token_ttl_seconds: Option<u32>,
    #[schema(example = "active")]
    pub status: String,
}

impl From<ClientMetadata> for ClientMetadataDoc {
    fn from(metadata: ClientMetadata) -> Self {
        fn names<T>(items: &[T], name: impl Fn(&T) -> &str) -> Vec<String> {
            items.iter().map(|item| name(item).to_owned()).collect()
        }
        Self {
            redirect_uris: names(&metadata.redirect_uris, |uri| uri.as_str()),
            post_logout_redirect_uris: names(&metadata.post_logout_redirect_uris, |uri| {
                uri.as_str()
            }),
            grant_types: names(&metadata.grant_types, |grant| grant.as_str()),
            response_types: names(&metadata.response_types, |kind| kind.as_str()),
            scope: metadata.scope.to_string(),
            token_endpoint_auth_method: metadata.token_endpoint_auth_method.as_str().to_owned(),
            status: metadata.status.as_str().to_owned(),
            client_name: metadata.client_name,
            description: metadata.description,
            require_user_consent: metadata.require_user_consent,
            access_token_ttl_seconds: metadata.access_token_ttl_seconds,
        }
    }
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

/// A client's usage, to tell idle clients from busy ones: kept as per-day counters that
/// each instance writes every 30 seconds, so the latest figures may lag that long.
#[derive(Serialize, ToSchema)]
pub struct ClientUsageView {
    /// The last successful client authentication at any endpoint (for a public client,
    /// the last token issued to it), RFC 3339 UTC; null if none was ever recorded.
    pub last_authenticated_at: Option<String>,
    /// Access tokens issued over the 30 days.
    pub tokens_issued_total: u64,
    /// The last 30 UTC days, oldest first, today last; days without tokens included.
    pub days: Vec<DayUsageView>,
}

/// Access tokens issued to a client on one UTC day, by every grant.
#[derive(Serialize, ToSchema)]
pub struct DayUsageView {
    #[schema(format = Date, example = "2026-01-31")]
    pub day: String,
    pub tokens_issued: u64,
}

impl From<ClientUsage> for ClientUsageView {
    fn from(usage: ClientUsage) -> Self {
        Self {
            last_authenticated_at: usage.last_authenticated_at.map(|t| t.to_rfc3339()),
            tokens_issued_total: usage.total(),
            days: usage
                .days
                .iter()
                .map(|d| DayUsageView {
                    day: d.day.to_iso_date(),
                    tokens_issued: d.tokens_issued,
                })
                .collect(),
        }
    }
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

/// A user as the API shows it. Never the password or its hash.
#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    #[schema(example = "alice")]
    pub username: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    #[schema(example = "active")]
    pub status: &'static str,
    pub is_admin: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        let profile = user.profile;
        Self {
            id: user.id,
            username: profile.username,
            email: profile.email,
            display_name: profile.display_name,
            status: profile.status.as_str(),
            is_admin: profile.is_admin,
            created_at: user.created_at.to_rfc3339(),
            updated_at: user.updated_at.to_rfc3339(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct UserListView {
    pub items: Vec<UserView>,
    pub next_cursor: Option<String>,
}

/// A live browser session; the cookie's value is never stored, so never shown.
#[derive(Serialize, ToSchema)]
pub struct SessionView {
    pub created_at: String,
    pub last_seen_at: String,
    /// When the user last entered their password (OIDC `auth_time`).
    pub auth_time: String,
    /// The earlier of the idle and the absolute expiry.
    pub expires_at: String,
}

impl From<SessionRecord> for SessionView {
    fn from(session: SessionRecord) -> Self {
        Self {
            created_at: session.created_at.to_rfc3339(),
            last_seen_at: session.last_seen_at.to_rfc3339(),
            auth_time: session.auth_time.to_rfc3339(),
            expires_at: session
                .idle_expires_at
                .min(session.absolute_expires_at)
                .to_rfc3339(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SessionListView {
    pub items: Vec<SessionView>,
}

/// What a user allowed a client.
#[derive(Serialize, ToSchema)]
pub struct ConsentView {
    pub client_id: String,
    pub scope: String,
    pub granted_at: String,
}

impl From<ConsentRecord> for ConsentView {
    fn from(consent: ConsentRecord) -> Self {
        Self {
            client_id: consent.client_id.to_string(),
            scope: consent.scope,
            granted_at: consent.granted_at.to_rfc3339(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ConsentListView {
    pub items: Vec<ConsentView>,
}

/// A live refresh-token family (a grant and its rotations); never the token itself.
#[derive(Serialize, ToSchema)]
pub struct RefreshTokenView {
    pub family_id: String,
    pub client_id: String,
    pub scope: String,
    /// When the family's current token was issued (its last rotation).
    pub issued_at: String,
    pub expires_at: String,
}

impl From<RefreshTokenRecord> for RefreshTokenView {
    fn from(token: RefreshTokenRecord) -> Self {
        Self {
            family_id: token.family_id,
            client_id: token.client_id.to_string(),
            scope: token.scope,
            issued_at: token.created_at.to_rfc3339(),
            expires_at: token.expires_at.to_rfc3339(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct RefreshTokenListView {
    pub items: Vec<RefreshTokenView>,
}
