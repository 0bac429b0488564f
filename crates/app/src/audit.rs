//! Audit entries: who changed what. Built here, written by the store in the same
//! transaction as the change they describe.

use serde_json::Value;
use thetasecure_core::Timestamp;
use thetasecure_store::AuditEntry;

/// Who is acting: `client:<id>` for an admin API token, `user:<name>` for the console,
/// `cli` for the command line, `system` for bootstrap, `address:<ip>` for someone not
/// signed in (a failed sign-in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(String);

impl Actor {
    pub fn client(client_id: &str) -> Self {
        Self(format!("client:{client_id}"))
    }

    /// An administrator signed in to the console.
    pub fn user(username: &str) -> Self {
        Self(format!("user:{username}"))
    }

    /// Someone not signed in, known only by the address they came from.
    pub fn visitor(address: std::net::IpAddr) -> Self {
        Self(format!("address:{address}"))
    }

    pub fn cli() -> Self {
        Self("cli".into())
    }

    pub fn system() -> Self {
        Self("system".into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub(crate) fn entry(
    actor: &Actor,
    at: Timestamp,
    action: &str,
    target_type: &str,
    target_id: &str,
    details: Value,
) -> AuditEntry {
    AuditEntry {
        id: uuid::Uuid::now_v7().to_string(),
        at,
        actor: actor.0.clone(),
        action: action.to_owned(),
        target_type: target_type.to_owned(),
        target_id: target_id.to_owned(),
        details,
    }
}

/// Which events a listing keeps, as the caller wrote them; empty means any.
#[derive(Debug, Default, Clone)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target_id: Option<String>,
}

pub struct AuditPage {
    pub items: Vec<thetasecure_store::AuditEvent>,
    pub next_cursor: Option<String>,
}

impl crate::App {
    /// Newest first; `cursor` is the `next_cursor` of the previous page.
    pub async fn list_audit_events(
        &self,
        query: &AuditQuery,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<AuditPage, crate::AdminError> {
        // A term is compared as given, trimmed; one no event can hold is a 400.
        let term = |name: &'static str, raw: &Option<String>| {
            raw.as_deref()
                .map(str::trim)
                .filter(|raw| !raw.is_empty())
                .map(|raw| thetasecure_core::text::IDENTIFIER.normalise(name, raw))
                .transpose()
        };
        let filter = thetasecure_store::AuditFilter {
            actor: term("actor", &query.actor)?,
            action: term("action", &query.action)?,
            target_id: term("target", &query.target_id)?,
        };
        let limit = crate::paging::page_size(limit)?;
        // Cursors are event ids, which this server writes as canonical UUIDs; anything
        // else is refused here rather than compared in the store.
        if cursor.is_some_and(|raw| !crate::paging::is_canonical_uuid(raw)) {
            return Err(crate::AdminError::Invalid(
                thetasecure_core::OAuthError::invalid_request(
                    "cursor is not one this server issued",
                ),
            ));
        }
        let mut items = self
            .store()
            .audit()
            .list(&filter, cursor, limit + 1)
            .await
            .map_err(|e| crate::AdminError::from_store(e, "audit event"))?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|event| event.id.clone())
        } else {
            None
        };
        Ok(AuditPage { items, next_cursor })
    }
}
