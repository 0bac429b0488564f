//! In-memory caches for the hot paths. Every entry lives at most `FRESHNESS`, so a change
//! made through another instance sharing the database is enforced here within a second
//! (SPEC 1); changes made through this instance invalidate their entry at once.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use thetasecure_core::client::Client;
use thetasecure_core::ids::ClientId;
use thetasecure_core::token::AccessTokenClaims;
use thetasecure_store::SecretRecord;

/// How long a cached answer may be trusted without asking the store again.
pub const FRESHNESS: Duration = Duration::from_secs(1);

/// A bounded map whose entries expire after `FRESHNESS`. When full it is cleared whole:
/// simpler than LRU, and a refill costs one store read per live key.
///
/// Keyed with foldhash: SipHash over a 400-byte token cost more than the rest of the
/// lookup. The seed is random per process, so keys cannot be chosen to collide.
struct FreshMap<K, V> {
    entries: RwLock<HashMap<K, (Instant, V), foldhash::quality::RandomState>>,
    capacity: usize,
}

impl<K: Eq + Hash, V: Clone> FreshMap<K, V> {
    fn new(capacity: usize) -> Self {
        Self {
            entries: RwLock::new(HashMap::default()),
            capacity,
        }
    }

    fn get<Q>(&self, key: &Q, now: Instant) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let entries = self.entries.read().ok()?;
        let (loaded, value) = entries.get(key)?;
        (now.duration_since(*loaded) < FRESHNESS).then(|| value.clone())
    }

    fn insert(&self, key: K, value: V, loaded: Instant) {
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= self.capacity {
                entries.clear();
            }
            entries.insert(key, (loaded, value));
        }
    }

    fn remove<Q>(&self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(key);
        }
    }
}

/// A client with its secrets, as the token path needs it.
#[derive(Debug)]
pub struct ClientEntry {
    pub client: Client,
    pub secrets: Vec<SecretRecord>,
}

/// Clients by id; `None` caches "no such client" too, so unknown ids do not reach the store
/// on every attempt.
pub(crate) struct ClientCache(FreshMap<ClientId, Option<Arc<ClientEntry>>>);

impl ClientCache {
    pub(crate) fn new() -> Self {
        Self(FreshMap::new(100_000))
    }

    pub(crate) fn get(&self, id: &ClientId, now: Instant) -> Option<Option<Arc<ClientEntry>>> {
        self.0.get(id, now)
    }

    pub(crate) fn insert(&self, id: ClientId, entry: Option<Arc<ClientEntry>>, loaded: Instant) {
        self.0.insert(id, entry, loaded);
    }

    pub(crate) fn invalidate(&self, id: &ClientId) {
        self.0.remove(id);
    }
}

/// A token whose signature verified: its claims, and the same claims as JSON, serialized
/// once here rather than on every introspection of the token.
#[derive(Debug)]
pub struct VerifiedClaims {
    pub claims: AccessTokenClaims,
    pub json: Box<str>,
}

/// Tokens whose signature already verified, with whether their `jti` was revoked when
/// last checked; spares introspection and the admin API the signature check.
pub(crate) struct TokenCache(FreshMap<Box<str>, (Arc<VerifiedClaims>, bool)>);

impl TokenCache {
    pub(crate) fn new() -> Self {
        Self(FreshMap::new(16_384))
    }

    pub(crate) fn get(&self, token: &str, now: Instant) -> Option<(Arc<VerifiedClaims>, bool)> {
        self.0.get(token, now)
    }

    pub(crate) fn insert(
        &self,
        token: &str,
        claims: Arc<VerifiedClaims>,
        revoked: bool,
        loaded: Instant,
    ) {
        self.0.insert(token.into(), (claims, revoked), loaded);
    }

    pub(crate) fn forget(&self, token: &str) {
        self.0.remove(token);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_capacity_clears() {
        let map: FreshMap<String, u32> = FreshMap::new(2);
        let t0 = Instant::now();
        map.insert("a".into(), 1, t0);
        assert_eq!(map.get("a", t0), Some(1));
        assert_eq!(map.get("a", t0 + FRESHNESS), None);
        map.insert("b".into(), 2, t0);
        map.insert("c".into(), 3, t0);
        assert_eq!(map.get("a", t0), None, "cleared when full");
        assert_eq!(map.get("c", t0), Some(3));
        map.remove("c");
        assert_eq!(map.get("c", t0), None);
    }
}
