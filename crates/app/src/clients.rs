//! Managing clients: the admin API and the CLI both call these.

use std::sync::Arc;

use serde_json::json;
use thetasecure_core::client::{
    CLIENT_SEARCH, Client, ClientMetadata, ClientPatch, NewClient, PatchField, apply_client_patch,
    protected_field_changed, validate_new_client,
};
use thetasecure_core::grant::{ClientStatus, GrantType};
use thetasecure_core::ids::ClientId;
use thetasecure_core::secret::PlainSecret;
use thetasecure_core::text::IDENTIFIER;
use thetasecure_core::usage::{ClientUsage, UtcDay};
use thetasecure_core::{ErrorCode, OAuthError, Timestamp};
use thetasecure_store::{ClientCursor, ClientFilter, SecretRecord};

use crate::audit::{self, Actor};
use crate::paging;
use crate::{AdminError, App};

pub const MAX_ACTIVE_SECRETS: usize = 5;
pub const MAX_GRACE_PERIOD_SECONDS: i64 = 7 * 24 * 3600;

/// The words of the product page's tip, used wherever a default client is protected.
pub const DEFAULT_CLIENT_WARNING: &str = "Avoid modifying or deleting the default clients. These are required for core platform functionality including mobile authentication, desktop agent connectivity, and directory synchronization.";

/// A client just created, with its secret in the clear: the only time it is shown.
pub struct CreatedClient {
    pub client: Client,
    pub secret: Option<PlainSecret>,
}

/// A listing request as the caller wrote it; parsed and checked here.
#[derive(Debug, Default, Clone)]
pub struct ClientQuery {
    pub search: Option<String>,
    pub status: Option<String>,
    pub grant_type: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

pub struct ClientListing {
    pub items: Vec<Client>,
    pub next_cursor: Option<String>,
}

/// The fields an update changes, as they were and as they are now, by their RFC 7591
/// names, for the audit log to show (client metadata holds no secret).
fn changed_values(
    before: &ClientMetadata,
    after: &ClientMetadata,
) -> (serde_json::Value, serde_json::Value) {
    fn values(metadata: &ClientMetadata) -> serde_json::Map<String, serde_json::Value> {
        fn uris(uris: &[thetasecure_core::redirect_uri::RedirectUri]) -> serde_json::Value {
            uris.iter().map(|uri| json!(uri.as_str())).collect()
        }
        let mut map = serde_json::Map::new();
        let mut put = |name: &str, value: serde_json::Value| {
            map.insert(name.to_owned(), value);
        };
        put("client_name", json!(metadata.client_name));
        put("description", json!(metadata.description));
        put("redirect_uris", uris(&metadata.redirect_uris));
        put(
            "post_logout_redirect_uris",
            uris(&metadata.post_logout_redirect_uris),
        );
        put("grant_types", json!(metadata.grant_types));
        put("response_types", json!(metadata.response_types));
        put("scope", json!(metadata.scope.to_string()));
        put(
            "token_endpoint_auth_method",
            json!(metadata.token_endpoint_auth_method),
        );
        put("require_user_consent", json!(metadata.require_user_consent));
        put(
            "access_token_ttl_seconds",
            json!(metadata.access_token_ttl_seconds),
        );
        put("status", json!(metadata.status));
        map
    }
    let (mut old, mut new) = (values(before), values(after));
    let unchanged: Vec<String> = old
        .iter()
        .filter(|(name, value)| new.get(name.as_str()) == Some(value))
        .map(|(name, _)| name.clone())
        .collect();
    for name in unchanged {
        old.remove(&name);
        new.remove(&name);
    }
    (old.into(), new.into())
}

impl App {
    pub async fn create_client(
        &self,
        actor: &Actor,
        new: NewClient,
    ) -> Result<CreatedClient, AdminError> {
        let known_scopes = self.known_scopes().await?;
        let (client_type, metadata) =
            validate_new_client(new, &|name| known_scopes.iter().any(|known| known == name))?;
        self.check_password_grant(&metadata, None)?;
        let now = self.clock().now();
        let client = Client {
            client_id: ClientId::generate(),
            client_type,
            metadata,
            is_default: false,
            created_at: now,
            updated_at: now,
            tokens_revoked_before: None,
        };
        let secret = client
            .metadata
            .is_confidential()
            .then(PlainSecret::generate);
        let record = secret
            .as_ref()
            .map(|secret| self.secret_record(&client.client_id, secret, now));
        let entry = audit::entry(
            actor,
            now,
            "client.created",
            "client",
            client.client_id.as_str(),
            json!({"client_name": client.metadata.client_name, "client_type": client.client_type}),
        );
        self.store()
            .clients()
            .create(&client, record.as_ref(), &entry)
            .await
            .map_err(|e| AdminError::from_store(e, "client"))?;
        self.forget_client(&client.client_id);
        tracing::info!(client_id = %client.client_id, actor = actor.as_str(), "client created");
        Ok(CreatedClient { client, secret })
    }

    /// While the server does not serve the password grant (SPEC 9), no client is newly
    /// registered for it; one that holds it from before keeps it (and gets nothing).
    fn check_password_grant(
        &self,
        metadata: &ClientMetadata,
        before: Option<&ClientMetadata>,
    ) -> Result<(), AdminError> {
        let adds = metadata.allows_grant(GrantType::Password)
            && !before.is_some_and(|before| before.allows_grant(GrantType::Password));
        if adds && !self.settings().allow_password_grant {
            return Err(OAuthError::new(
                ErrorCode::InvalidClientMetadata,
                "grant_types: password is not enabled on this server (setting allow_password_grant)",
            )
            .into());
        }
        Ok(())
    }

    pub async fn get_client(&self, client_id: &str) -> Result<Client, AdminError> {
        IDENTIFIER.check("client_id", client_id)?;
        let id = ClientId::parse(client_id).ok_or(AdminError::NotFound("client"))?;
        self.store()
            .clients()
            .get(&id)
            .await
            .map_err(|e| AdminError::from_store(e, "client"))?
            .ok_or(AdminError::NotFound("client"))
    }

    pub async fn list_clients(&self, query: &ClientQuery) -> Result<ClientListing, AdminError> {
        let invalid = |text: String| AdminError::Invalid(OAuthError::invalid_request(text));
        let status = match query.status.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => Some(ClientStatus::parse(raw).ok_or_else(|| {
                invalid(format!(
                    "status must be one of: {}",
                    ClientStatus::expected()
                ))
            })?),
        };
        let grant_type = match query.grant_type.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => Some(GrantType::parse(raw).ok_or_else(|| {
                invalid(format!(
                    "grant_type must be one of: {}",
                    GrantType::expected()
                ))
            })?),
        };
        let limit = paging::page_size(query.limit)?;
        let after = paging::decode_cursor(query.cursor.as_deref(), ClientId::parse)?.map(
            |(created_at, client_id)| ClientCursor {
                created_at,
                client_id,
            },
        );
        let search = match query.search.as_deref() {
            None => None,
            Some(raw) => Some(CLIENT_SEARCH.normalise("search", raw)?).filter(|s| !s.is_empty()),
        };
        let filter = ClientFilter {
            search,
            status,
            grant_type,
            limit,
            after,
        };
        let page = self
            .store()
            .clients()
            .list(&filter)
            .await
            .map_err(|e| AdminError::from_store(e, "client"))?;
        Ok(ClientListing {
            items: page.items,
            next_cursor: page
                .next
                .map(|next| paging::encode_cursor(next.created_at, next.client_id.as_str())),
        })
    }

    /// Applies a merge patch. Changing the grant types, scope or redirect URIs of a
    /// default client needs `force`.
    pub async fn update_client(
        &self,
        actor: &Actor,
        client_id: &str,
        patch: ClientPatch,
        force: bool,
    ) -> Result<Client, AdminError> {
        let current = self.get_client(client_id).await?;
        let known_scopes = self.known_scopes().await?;
        // Every member the patch names, nulls too: the audit entry lists them.
        let changed = patch.named_fields();
        let metadata = apply_client_patch(&current, patch, &|name| {
            known_scopes.iter().any(|known| known == name)
        })?;
        if let (Some(field), false) = (protected_field_changed(&current, &metadata), force) {
            return Err(AdminError::Conflict(format!(
                "{field} of default client {client_id} can only be changed with ?force=true. {DEFAULT_CLIENT_WARNING}"
            )));
        }
        self.check_password_grant(&metadata, Some(&current.metadata))?;
        let (before, after) = changed_values(&current.metadata, &metadata);
        let now = self.clock().now();
        let disabling = current.is_active() && metadata.status == ClientStatus::Disabled;
        let updated = Client {
            metadata,
            updated_at: now,
            // Disabling revokes every token the client holds (SPEC 4, revoke-tokens).
            tokens_revoked_before: if disabling {
                Some(now)
            } else {
                current.tokens_revoked_before
            },
            ..current
        };
        let entry = audit::entry(
            actor,
            now,
            "client.updated",
            "client",
            client_id,
            json!({"fields": changed, "force": force, "before": before, "after": after}),
        );
        self.store()
            .clients()
            .update(&updated, &entry)
            .await
            .map_err(|e| AdminError::from_store(e, "client"))?;
        self.forget_client(&updated.client_id);
        Ok(updated)
    }

    pub async fn set_client_status(
        &self,
        actor: &Actor,
        client_id: &str,
        status: ClientStatus,
    ) -> Result<Client, AdminError> {
        let patch = ClientPatch {
            status: PatchField::Set(status.as_str().to_owned()),
            ..ClientPatch::default()
        };
        self.update_client(actor, client_id, patch, false).await
    }

    pub async fn delete_client(
        &self,
        actor: &Actor,
        client_id: &str,
        force: bool,
    ) -> Result<(), AdminError> {
        let current = self.get_client(client_id).await?;
        if current.is_default && !force {
            return Err(AdminError::Conflict(format!(
                "{client_id} is a default client and can only be deleted with ?force=true. {DEFAULT_CLIENT_WARNING}"
            )));
        }
        let entry = audit::entry(
            actor,
            self.clock().now(),
            "client.deleted",
            "client",
            client_id,
            json!({"force": force}),
        );
        self.store()
            .clients()
            .delete(&current.client_id, &entry)
            .await
            .map_err(|e| AdminError::from_store(e, "client"))?;
        self.forget_client(&current.client_id);
        self.0.usage.forget(&current.client_id);
        Ok(())
    }

    pub async fn list_secrets(&self, client_id: &str) -> Result<Vec<SecretRecord>, AdminError> {
        let client = self.get_client(client_id).await?;
        let mut secrets = self
            .store()
            .secrets()
            .list(&client.client_id)
            .await
            .map_err(|e| AdminError::from_store(e, "client"))?;
        self.0.last_used.overlay(&mut secrets);
        Ok(secrets)
    }

    /// Tokens issued to the client per UTC day over the last 30 days (today last) and
    /// when it last authenticated: what the store holds plus what this instance noted
    /// since its last flush. Other instances' notes arrive with their flush, within
    /// 30 seconds.
    pub async fn client_usage(&self, client_id: &str) -> Result<ClientUsage, AdminError> {
        let client = self.get_client(client_id).await?;
        let today = UtcDay::of(self.clock().now());
        let stored = self
            .store()
            .client_usage()
            .of_client(&client.client_id, UtcDay::window_start(today))
            .await
            .map_err(|e| AdminError::from_store(e, "client"))?;
        Ok(self.0.usage.overlay(&client.client_id, today, stored))
    }

    /// Issues a new secret; the secrets active now keep working for `grace_period_seconds`.
    pub async fn rotate_secret(
        &self,
        actor: &Actor,
        client_id: &str,
        grace_period_seconds: Option<i64>,
    ) -> Result<(SecretRecord, PlainSecret), AdminError> {
        let grace = grace_period_seconds.unwrap_or(0);
        if !(0..=MAX_GRACE_PERIOD_SECONDS).contains(&grace) {
            return Err(AdminError::Invalid(OAuthError::invalid_request(format!(
                "grace_period_seconds must be from 0 to {MAX_GRACE_PERIOD_SECONDS} (7 days)"
            ))));
        }
        let client = self.get_client(client_id).await?;
        if !client.metadata.is_confidential() {
            return Err(AdminError::Invalid(OAuthError::new(
                ErrorCode::InvalidRequest,
                "public clients (token_endpoint_auth_method none) have no secret",
            )));
        }
        let now = self.clock().now();
        let secret = PlainSecret::generate();
        let record = self.secret_record(&client.client_id, &secret, now);
        let entry = audit::entry(
            actor,
            now,
            "client.secret_rotated",
            "client",
            client_id,
            json!({"secret_id": record.id, "hint": record.hint, "grace_period_seconds": grace}),
        );
        self.store()
            .secrets()
            .rotate(
                &client.client_id,
                &record,
                now.plus_seconds(grace),
                MAX_ACTIVE_SECRETS,
                now,
                &entry,
            )
            .await
            .map_err(|e| AdminError::from_store(e, "client"))?;
        self.forget_client(&client.client_id);
        Ok((record, secret))
    }

    pub async fn revoke_secret(
        &self,
        actor: &Actor,
        client_id: &str,
        secret_id: &str,
    ) -> Result<(), AdminError> {
        IDENTIFIER.check("secret_id", secret_id)?;
        let client = self.get_client(client_id).await?;
        let now = self.clock().now();
        let entry = audit::entry(
            actor,
            now,
            "client.secret_revoked",
            "client",
            client_id,
            json!({"secret_id": secret_id}),
        );
        self.store()
            .secrets()
            .revoke(&client.client_id, secret_id, now, &entry)
            .await
            .map_err(|e| AdminError::from_store(e, "secret"))?;
        self.forget_client(&client.client_id);
        Ok(())
    }

    /// Every access token the client holds stops being active now.
    pub async fn revoke_client_tokens(
        &self,
        actor: &Actor,
        client_id: &str,
    ) -> Result<(), AdminError> {
        let client = self.get_client(client_id).await?;
        let now = self.clock().now();
        let entry = audit::entry(
            actor,
            now,
            "client.tokens_revoked",
            "client",
            client_id,
            json!({}),
        );
        self.store()
            .clients()
            .revoke_tokens(&client.client_id, now, &entry)
            .await
            .map_err(|e| AdminError::from_store(e, "client"))?;
        let refresh_entry = audit::entry(
            actor,
            now,
            "client.refresh_tokens_revoked",
            "client",
            client_id,
            json!({}),
        );
        let revoked = self
            .store()
            .refresh_tokens()
            .revoke_for_client(&client.client_id, now, &refresh_entry)
            .await
            .map_err(|e| AdminError::from_store(e, "client"))?;
        self.forget_revoked(&revoked);
        self.forget_client(&client.client_id);
        Ok(())
    }

    pub(crate) fn secret_record(
        &self,
        client_id: &ClientId,
        secret: &PlainSecret,
        now: Timestamp,
    ) -> SecretRecord {
        SecretRecord {
            id: uuid::Uuid::now_v7().to_string(),
            client_id: client_id.clone(),
            hash: self.hasher().hash(secret),
            hint: secret.hint(),
            created_at: now,
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
        }
    }

    async fn known_scopes(&self) -> Result<Arc<[String]>, AdminError> {
        self.scope_names()
            .await
            .map_err(|e| AdminError::from_store(e, "scope"))
    }
}
