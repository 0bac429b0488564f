//! In-memory caches for the hot paths. Every entry lives at most `FRESHNESS`, so a change
//! made through another instance sharing the database is enforced here within a second
//! (SPEC 1); changes made through this instance invalidate their entry at once.
//!
//! An entry past half its freshness is reloaded in the background by the first request
//! that sees it, while requests keep getting the still-fresh value: without that, every
//! in-flight request missed at the same instant once a second and waited for the store
//! together, which made the latency tails (docs/performance.md).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use thetasecure_core::Timestamp;
use thetasecure_core::client::Client;
use thetasecure_core::ids::ClientId;
use thetasecure_core::token::AccessTokenClaims;
use thetasecure_store::SecretRecord;

/// How long a cached answer may be trusted without asking the store again.
pub const FRESHNESS: Duration = Duration::from_secs(1);

/// From this age on, an entry is reloaded in the background while it is still served.
pub const REFRESH_AFTER: Duration = Duration::from_millis(500);

/// What the cache holds for a key.
#[derive(Debug, PartialEq)]
pub(crate) enum Cached<V> {
    Fresh(V),
    /// Fresh, but due for a reload, and the caller is the one to start it.
    RefreshDue(V),
    Missing,
}

/// Which removals a load started after: a load that raced a removal of its key must not
/// put back what the removal took out.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Generation {
    bucket: usize,
    removals: u64,
}

/// Removals are counted per bucket of keys, not per map: with one counter, a stream of
/// client creates (each removes its new id) discarded every other client's reload, so an
/// admin's own client was read from the store on every request. An unrelated key
/// sharing the bucket only costs a reload.
const REMOVAL_BUCKETS: usize = 64;

struct Entry<V> {
    loaded: Instant,
    value: V,
    refreshing: AtomicBool,
}

/// A bounded map whose entries expire after `FRESHNESS`. When full it is cleared whole:
/// simpler than LRU, and a refill costs one store read per live key.
///
/// Keyed with foldhash: SipHash over a 400-byte token cost more than the rest of the
/// lookup. The seed is random per process, so keys cannot be chosen to collide.
struct FreshMap<K, V, S = foldhash::quality::RandomState> {
    entries: RwLock<HashMap<K, Entry<V>, S>>,
    removals: [AtomicU64; REMOVAL_BUCKETS],
    bucket_hasher: S,
    capacity: usize,
}

impl<K: Eq + Hash, V: Clone, S: BuildHasher + Default> FreshMap<K, V, S> {
    fn new(capacity: usize) -> Self {
        Self {
            entries: RwLock::new(HashMap::default()),
            removals: std::array::from_fn(|_| AtomicU64::new(0)),
            bucket_hasher: Default::default(),
            capacity,
        }
    }

    fn get<Q>(&self, key: &Q, now: Instant) -> Cached<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let Ok(entries) = self.entries.read() else {
            return Cached::Missing;
        };
        let Some(entry) = entries.get(key) else {
            return Cached::Missing;
        };
        let age = now.saturating_duration_since(entry.loaded);
        if age >= FRESHNESS {
            Cached::Missing
        } else if age >= REFRESH_AFTER && !entry.refreshing.swap(true, Ordering::Relaxed) {
            Cached::RefreshDue(entry.value.clone())
        } else {
            Cached::Fresh(entry.value.clone())
        }
    }

    fn bucket<Q: Hash + ?Sized>(&self, key: &Q) -> usize {
        // The modulo keeps the result below REMOVAL_BUCKETS, so the cast cannot truncate.
        (self.bucket_hasher.hash_one(key) % REMOVAL_BUCKETS as u64) as usize
    }

    /// To be taken before loading what will be inserted under `key`.
    fn generation<Q: Hash + ?Sized>(&self, key: &Q) -> Generation {
        let bucket = self.bucket(key);
        Generation {
            bucket,
            removals: self.removals[bucket].load(Ordering::Acquire),
        }
    }

    /// Inserts what was loaded at `loaded`, unless a key of its bucket was removed since
    /// the load started (`since`): the loaded value may predate that change.
    fn insert(&self, key: K, value: V, loaded: Instant, since: Generation) {
        if let Ok(mut entries) = self.entries.write() {
            if self.removals[since.bucket].load(Ordering::Acquire) != since.removals {
                return;
            }
            if entries.len() >= self.capacity {
                entries.clear();
            }
            entries.insert(
                key,
                Entry {
                    loaded,
                    value,
                    refreshing: AtomicBool::new(false),
                },
            );
        }
    }

    fn remove<Q>(&self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        if let Ok(mut entries) = self.entries.write() {
            self.removals[self.bucket(key)].fetch_add(1, Ordering::AcqRel);
            entries.remove(key);
        }
    }
}

/// A client with its secrets, as the token path needs it.
#[derive(Debug)]
pub struct ClientEntry {
    pub client: Client,
    pub secrets: Vec<SecretRecord>,
    /// Which of `secrets` last verified, and the tag of what was presented then.
    pub(crate) recently_verified: RwLock<Option<(usize, SecretTag)>>,
}

impl ClientEntry {
    pub fn new(client: Client, secrets: Vec<SecretRecord>) -> Self {
        Self {
            client,
            secrets,
            recently_verified: RwLock::new(None),
        }
    }
}

/// A keyed 128-bit tag of a presented secret: SipHash-2-4 under a key drawn at random
/// when the process starts and never stored, so a tag says nothing outside this process.
pub(crate) type SecretTag = [u8; 16];

/// Clients by id; `None` caches "no such client" too, so unknown ids do not reach the store
/// on every attempt.
pub(crate) struct ClientCache(FreshMap<ClientId, Option<Arc<ClientEntry>>>);

impl ClientCache {
    pub(crate) fn new() -> Self {
        Self(FreshMap::new(100_000))
    }

    pub(crate) fn get(&self, id: &ClientId, now: Instant) -> Cached<Option<Arc<ClientEntry>>> {
        self.0.get(id, now)
    }

    pub(crate) fn generation(&self, id: &ClientId) -> Generation {
        self.0.generation(id)
    }

    pub(crate) fn insert(
        &self,
        id: ClientId,
        entry: Option<Arc<ClientEntry>>,
        loaded: Instant,
        since: Generation,
    ) {
        self.0.insert(id, entry, loaded, since);
    }

    pub(crate) fn invalidate(&self, id: &ClientId) {
        self.0.remove(id);
    }
}

/// The names in the scope registry, which every client create and update checks requests
/// against, and discovery lists.
pub(crate) struct ScopeNamesCache(FreshMap<(), Arc<[String]>>);

impl ScopeNamesCache {
    pub(crate) fn new() -> Self {
        Self(FreshMap::new(1))
    }

    pub(crate) fn get(&self, now: Instant) -> Cached<Arc<[String]>> {
        self.0.get(&(), now)
    }

    pub(crate) fn generation(&self) -> Generation {
        self.0.generation(&())
    }

    pub(crate) fn insert(&self, names: Arc<[String]>, loaded: Instant, since: Generation) {
        self.0.insert((), names, loaded, since);
    }

    pub(crate) fn invalidate(&self) {
        self.0.remove(&());
    }
}

/// A token whose signature verified: its claims, the same claims as JSON, and what the
/// activity check reads from them (the client and the issuing instant its `jti`
/// carries), each worked out once here rather than on every introspection of the token.
#[derive(Debug)]
pub struct VerifiedClaims {
    pub claims: AccessTokenClaims,
    pub json: Box<str>,
    pub client_id: ClientId,
    pub issued_at: Timestamp,
}

/// Tokens whose signature already verified, with whether their `jti` was revoked when
/// last checked; spares introspection and the admin API the signature check.
pub(crate) struct TokenCache(FreshMap<Box<str>, (Arc<VerifiedClaims>, bool), TailHashing>);

/// How many trailing bytes of a token its cache key hashes.
const TOKEN_HASHED_TAIL: usize = 64;

/// Hashes only the last `TOKEN_HASHED_TAIL` bytes of a key, for tokens: their tail is
/// signature, random and unforgeable, and hashing the whole 400 bytes twice (bucket and
/// map) was a fiftieth of an introspection. Keys still compare whole. Only verified
/// tokens are inserted, so a caller can make lookups share a bucket with one real
/// token, never pile entries into one; keys a caller chooses (client ids, which the
/// client cache holds even when unknown) keep the whole-key hash.
#[derive(Default)]
struct TailHashing(foldhash::quality::RandomState);

impl BuildHasher for TailHashing {
    type Hasher = TailHasher;

    fn build_hasher(&self) -> TailHasher {
        TailHasher(self.0.build_hasher())
    }
}

struct TailHasher(foldhash::quality::FoldHasher<'static>);

impl Hasher for TailHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0
            .write(&bytes[bytes.len().saturating_sub(TOKEN_HASHED_TAIL)..]);
    }

    fn finish(&self) -> u64 {
        self.0.finish()
    }
}

impl TokenCache {
    pub(crate) fn new() -> Self {
        Self(FreshMap::new(16_384))
    }

    pub(crate) fn get(&self, token: &str, now: Instant) -> Cached<(Arc<VerifiedClaims>, bool)> {
        self.0.get(token, now)
    }

    pub(crate) fn generation(&self, token: &str) -> Generation {
        self.0.generation(token)
    }

    pub(crate) fn insert(
        &self,
        token: &str,
        claims: Arc<VerifiedClaims>,
        revoked: bool,
        loaded: Instant,
        since: Generation,
    ) {
        self.0
            .insert(token.into(), (claims, revoked), loaded, since);
    }

    pub(crate) fn forget(&self, token: &str) {
        self.0.remove(token);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::access::test_claims;

    #[test]
    fn entries_expire_and_capacity_clears() {
        let map: FreshMap<String, u32> = FreshMap::new(2);
        let t0 = Instant::now();
        map.insert("a".into(), 1, t0, map.generation("a"));
        assert_eq!(map.get("a", t0), Cached::Fresh(1));
        assert_eq!(map.get("a", t0 + FRESHNESS), Cached::Missing);
        map.insert("b".into(), 2, t0, map.generation("b"));
        map.insert("c".into(), 3, t0, map.generation("c"));
        assert_eq!(map.get("a", t0), Cached::Missing, "cleared when full");
        assert_eq!(map.get("c", t0), Cached::Fresh(3));
        map.remove("c");
        assert_eq!(map.get("c", t0), Cached::Missing);
    }

    #[test]
    fn one_caller_is_asked_to_refresh_an_ageing_entry() {
        let map: FreshMap<String, u32> = FreshMap::new(8);
        let t0 = Instant::now();
        map.insert("a".into(), 1, t0, map.generation("a"));
        let ageing = t0 + REFRESH_AFTER;
        assert_eq!(map.get("a", ageing), Cached::RefreshDue(1));
        assert_eq!(
            map.get("a", ageing),
            Cached::Fresh(1),
            "only the first is asked"
        );
        // The reload lands: fresh again, and a later reload is asked for once more.
        map.insert("a".into(), 2, ageing, map.generation("a"));
        assert_eq!(map.get("a", ageing), Cached::Fresh(2));
        assert_eq!(map.get("a", ageing + REFRESH_AFTER), Cached::RefreshDue(2));
    }

    #[test]
    fn a_load_that_raced_a_removal_is_not_inserted() {
        let map: FreshMap<String, u32> = FreshMap::new(8);
        let t0 = Instant::now();
        let before_load = map.generation("a");
        map.remove("a"); // a change lands while the load is in flight
        map.insert("a".into(), 1, t0, before_load);
        assert_eq!(map.get("a", t0), Cached::Missing);
        map.insert("a".into(), 1, t0, map.generation("a"));
        assert_eq!(map.get("a", t0), Cached::Fresh(1));
    }

    #[test]
    fn removing_another_key_does_not_discard_a_load() {
        let map: FreshMap<String, u32> = FreshMap::new(8);
        let t0 = Instant::now();
        let other = (0..)
            .map(|n| format!("other-{n}"))
            .find(|key| map.bucket(key.as_str()) != map.bucket("a"))
            .expect("some key falls in another bucket");
        let before_load = map.generation("a");
        map.remove(other.as_str()); // e.g. a client created while "a" reloads
        map.insert("a".into(), 1, t0, before_load);
        assert_eq!(map.get("a", t0), Cached::Fresh(1));
    }

    /// Tokens hash by their tail but compare whole: one that shares a cached token's
    /// signature but not its payload is not that token.
    #[test]
    fn tokens_sharing_a_tail_are_different_keys() {
        let cache = TokenCache::new();
        let tail = "s".repeat(TOKEN_HASHED_TAIL);
        let (genuine, forged) = (
            format!("header.payload.{tail}"),
            format!("header.forged.{tail}"),
        );
        let builder = TailHashing::default();
        assert_eq!(builder.hash_one(&genuine), builder.hash_one(&forged));
        let verified = Arc::new(VerifiedClaims::new(test_claims(Timestamp(1_000))).unwrap());
        let t0 = Instant::now();
        cache.insert(&genuine, verified, false, t0, cache.generation(&genuine));
        assert!(matches!(cache.get(&genuine, t0), Cached::Fresh(_)));
        assert!(matches!(cache.get(&forged, t0), Cached::Missing));
        cache.forget(&genuine);
        assert!(matches!(cache.get(&genuine, t0), Cached::Missing));
    }
}
