//! The change feed: what a write changed that other instances may hold in memory
//! (clients, the scope registry, revoked access tokens), so that they drop it at once
//! rather than at their caches' horizon.
//!
//! On PostgreSQL a write sends its changes with `pg_notify` in its own transaction, so
//! they are delivered on commit and never for a write that rolled back; each instance
//! listens on the channel of its schema (`listener`). SQLite is one process's database:
//! the writes of that process invalidate its caches directly.
//!
//! On both engines a change to a client is also logged (`client_changes`), which each
//! instance reads twice per `cache_freshness`: that is how a server on SQLite notices
//! what the CLI committed, and how an instance on PostgreSQL that missed a notification
//! still drops the client within the bound (SPEC 1).

pub(crate) mod listener;

use serde::{Deserialize, Serialize};
use thetasecure_core::ids::ClientId;

pub use listener::ChangeFeed;

/// One change another instance may have cached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// Updated, disabled, its secrets rotated or revoked, its tokens cut off.
    ClientChanged {
        client_id: ClientId,
    },
    ClientDeleted {
        client_id: ClientId,
    },
    /// A scope created, described anew or deleted.
    ScopesChanged,
    /// Access tokens revoked one by one (RFC 7009 on an access token, a replayed code).
    AccessTokensRevoked {
        jtis: Vec<String>,
    },
    /// A refresh-token family revoked, with the access tokens issued from it.
    RefreshFamilyRevoked {
        family_id: String,
        jtis: Vec<String>,
    },
    /// Every refresh token of a user revoked (sign-out everywhere, disabled, deleted),
    /// with the user's access tokens.
    UserTokensRevoked {
        user_id: String,
        jtis: Vec<String>,
    },
    /// Every refresh token of a client revoked, with the access tokens issued with them.
    ClientTokensRevoked {
        client_id: ClientId,
        jtis: Vec<String>,
    },
}

/// PostgreSQL refuses a payload of 8000 bytes or more; a change naming more tokens
/// than fit is sent as several.
const PAYLOAD_MAX: usize = 7000;

/// Revoked token ids per payload: a `jti` is a 36-character UUID, quoted and separated.
const JTIS_PER_PAYLOAD: usize = 150;

impl Change {
    /// The client whose cached entry (the client and its secrets) this change makes
    /// stale, if any: such changes are also logged in `client_changes`.
    pub fn changed_client(&self) -> Option<&ClientId> {
        match self {
            Change::ClientChanged { client_id } | Change::ClientDeleted { client_id } => {
                Some(client_id)
            }
            _ => None,
        }
    }

    /// The revoked access tokens the change names (none for most).
    pub fn revoked_jtis(&self) -> &[String] {
        match self {
            Change::AccessTokensRevoked { jtis }
            | Change::RefreshFamilyRevoked { jtis, .. }
            | Change::UserTokensRevoked { jtis, .. }
            | Change::ClientTokensRevoked { jtis, .. } => jtis,
            Change::ClientChanged { .. } | Change::ClientDeleted { .. } | Change::ScopesChanged => {
                &[]
            }
        }
    }

    /// The same change naming only `jtis`.
    fn with_jtis(&self, part: &[String]) -> Change {
        let jtis = part.to_vec();
        match self {
            Change::AccessTokensRevoked { .. } => Change::AccessTokensRevoked { jtis },
            Change::RefreshFamilyRevoked { family_id, .. } => Change::RefreshFamilyRevoked {
                family_id: family_id.clone(),
                jtis,
            },
            Change::UserTokensRevoked { user_id, .. } => Change::UserTokensRevoked {
                user_id: user_id.clone(),
                jtis,
            },
            Change::ClientTokensRevoked { client_id, .. } => Change::ClientTokensRevoked {
                client_id: client_id.clone(),
                jtis,
            },
            other => other.clone(),
        }
    }

    /// The notification payloads carrying this change: one, or one per slice of its
    /// token ids when they would not fit in one.
    pub(crate) fn payloads(&self) -> Vec<String> {
        let whole = self.encoded();
        if whole.len() <= PAYLOAD_MAX {
            return vec![whole];
        }
        self.revoked_jtis()
            .chunks(JTIS_PER_PAYLOAD)
            .map(|part| self.with_jtis(part).encoded())
            .collect()
    }

    fn encoded(&self) -> String {
        // A derived `Serialize` of strings and lists of strings cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// `None` for a payload this build does not understand (a newer instance's change):
    /// the listener then clears everything, as after a gap.
    pub(crate) fn decode(payload: &str) -> Option<Change> {
        serde_json::from_str(payload).ok()
    }
}

/// The channel a schema's changes are sent on. PostgreSQL channel names are
/// identifiers of at most 63 bytes; a long or unusual schema name is hashed.
pub(crate) fn channel_for(schema: &str) -> String {
    const PREFIX: &str = "thetasecure_changes_";
    let plain = schema
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if plain && PREFIX.len() + schema.len() <= 63 {
        format!("{PREFIX}{schema}")
    } else {
        let hash = thetasecure_core::opaque::hash_of(schema);
        format!("{PREFIX}{}", &hash[..32])
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn changes_round_trip_and_many_tokens_are_split() {
        let change = Change::ClientChanged {
            client_id: ClientId::fixed("ts_admin_client"),
        };
        assert_eq!(Change::decode(&change.payloads()[0]), Some(change.clone()));
        let jtis: Vec<String> = (0..400)
            .map(|n| format!("0190a4a0-0000-7000-8000-{n:012}"))
            .collect();
        let many = Change::UserTokensRevoked {
            user_id: "u1".into(),
            jtis: jtis.clone(),
        };
        let payloads = many.payloads();
        assert_eq!(payloads.len(), 3);
        let mut seen = Vec::new();
        for payload in &payloads {
            assert!(payload.len() <= PAYLOAD_MAX);
            let part = Change::decode(payload).unwrap();
            assert!(matches!(&part, Change::UserTokensRevoked { user_id, .. } if user_id == "u1"));
            seen.extend_from_slice(part.revoked_jtis());
        }
        assert_eq!(seen, jtis);
        assert_eq!(Change::decode("{\"change\":\"from_the_future\"}"), None);
    }

    #[test]
    fn channels_are_identifiers_of_at_most_63_bytes() {
        assert_eq!(channel_for("public"), "thetasecure_changes_public");
        let long = channel_for(&"s".repeat(60));
        assert!(long.len() <= 63);
        assert_ne!(channel_for("Odd-Name"), channel_for("odd-name"));
        assert!(channel_for("Odd-Name").len() <= 63);
    }
}
