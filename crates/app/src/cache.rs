//! In-memory caches for the hot paths.
//!
//! Clients (`client_cache`) do not expire by age: the change log and the change feed
//! drop an entry when its client changes. Verified tokens and the scope registry live at
//! most the configured freshness (`Settings::cache_freshness`, a second by default), so
//! a change made through another instance sharing the database is enforced here within
//! that horizon (SPEC 1) even when no notification of it arrives; changes made through
//! this instance invalidate their entry at once, and so do the notifications of the
//! change feed (`changes`).
//!
//! A token or scope entry past half its freshness is reloaded in the background by the
//! first request that sees it, while requests keep getting the still-fresh value:
//! without that, every in-flight request missed at the same instant once a second and
//! waited for the store together, which made the latency tails (docs/performance.md).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use thetasecure_core::Timestamp;
use thetasecure_core::ids::ClientId;
use thetasecure_core::token::AccessTokenClaims;

pub use crate::client_cache::ClientEntry;
pub(crate) use crate::client_cache::{ClientCache, SecretTag};

/// How long a cached answer may be trusted without asking the store again, unless the
/// settings say otherwise.
pub const DEFAULT_FRESHNESS: Duration = Duration::from_secs(1);

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
    /// Removals not by key (a whole clear, a token revoked by `jti`) count for every key.
    epoch: u64,
}

/// Removals are counted per bucket of keys, not per map: with one counter, a stream of
/// client creates (each removes its new id) discarded every other client's reload, so an
/// admin's own client was read from the store on every request. An unrelated key
/// sharing the bucket only costs a reload.
const REMOVAL_BUCKETS: usize = 64;

/// Counts removals, so that a load that raced one is not inserted (`Generation`).
pub(crate) struct Removals<S = foldhash::quality::RandomState> {
    counts: [AtomicU64; REMOVAL_BUCKETS],
    epoch: AtomicU64,
    hasher: S,
}

impl<S: BuildHasher + Default> Default for Removals<S> {
    fn default() -> Self {
        Self {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            epoch: AtomicU64::new(0),
            hasher: S::default(),
        }
    }
}

impl<S: BuildHasher> Removals<S> {
    fn bucket<Q: Hash + ?Sized>(&self, key: &Q) -> usize {
        // The modulo keeps the result below REMOVAL_BUCKETS, so the cast cannot truncate.
        (self.hasher.hash_one(key) % REMOVAL_BUCKETS as u64) as usize
    }

    /// To be taken before loading what will be inserted under `key`.
    pub(crate) fn generation<Q: Hash + ?Sized>(&self, key: &Q) -> Generation {
        let bucket = self.bucket(key);
        Generation {
            bucket,
            removals: self.counts[bucket].load(Ordering::Acquire),
            epoch: self.epoch.load(Ordering::Acquire),
        }
    }

    /// Whether nothing that could concern a load taken at `since` was removed since.
    pub(crate) fn unchanged_since(&self, since: Generation) -> bool {
        self.counts[since.bucket].load(Ordering::Acquire) == since.removals
            && self.epoch.load(Ordering::Acquire) == since.epoch
    }

    /// To be called before the entry of `key` is removed.
    pub(crate) fn removing<Q: Hash + ?Sized>(&self, key: &Q) {
        self.counts[self.bucket(key)].fetch_add(1, Ordering::AcqRel);
    }

    /// To be called before every entry is removed, or one whose key is not known.
    pub(crate) fn removing_all(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }
}

struct Entry<V> {
    loaded: Instant,
    value: V,
    refreshing: AtomicBool,
}

/// The entries, and (for a map made `with_alias`) each entry's key by its alias.
struct Table<K, V, S> {
    entries: HashMap<K, Entry<V>, S>,
    by_alias: HashMap<Box<str>, K, foldhash::quality::RandomState>,
}

/// A bounded map whose entries expire after `freshness`. When full it is cleared whole:
/// simpler than LRU, and a refill costs one store read per live key.
///
/// Keyed with foldhash: SipHash over a 400-byte token cost more than the rest of the
/// lookup. The seed is random per process, so keys cannot be chosen to collide.
struct FreshMap<K, V, S = foldhash::quality::RandomState> {
    table: RwLock<Table<K, V, S>>,
    removals: Removals<S>,
    capacity: usize,
    freshness: Duration,
    /// From this age on, an entry is reloaded in the background while it is still served.
    refresh_after: Duration,
    /// A second key of each entry, by which it can be removed (a token's `jti`).
    alias: Option<fn(&V) -> &str>,
}

impl<K: Eq + Hash + Clone, V: Clone, S: BuildHasher + Default> FreshMap<K, V, S> {
    fn new(capacity: usize, freshness: Duration) -> Self {
        Self {
            table: RwLock::new(Table {
                entries: HashMap::default(),
                by_alias: HashMap::default(),
            }),
            removals: Removals::default(),
            capacity,
            freshness,
            refresh_after: freshness / 2,
            alias: None,
        }
    }

    fn with_alias(mut self, alias: fn(&V) -> &str) -> Self {
        self.alias = Some(alias);
        self
    }

    fn get<Q>(&self, key: &Q, now: Instant) -> Cached<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let Ok(table) = self.table.read() else {
            return Cached::Missing;
        };
        let Some(entry) = table.entries.get(key) else {
            return Cached::Missing;
        };
        let age = now.saturating_duration_since(entry.loaded);
        if age >= self.freshness {
            Cached::Missing
        } else if age >= self.refresh_after && !entry.refreshing.swap(true, Ordering::Relaxed) {
            Cached::RefreshDue(entry.value.clone())
        } else {
            Cached::Fresh(entry.value.clone())
        }
    }

    /// To be taken before loading what will be inserted under `key`.
    fn generation<Q: Hash + ?Sized>(&self, key: &Q) -> Generation {
        self.removals.generation(key)
    }

    /// Inserts what was loaded at `loaded`, unless a key of its bucket was removed, or
    /// the map cleared, since the load started (`since`): the loaded value may predate
    /// that change.
    fn insert(&self, key: K, value: V, loaded: Instant, since: Generation) {
        if let Ok(mut table) = self.table.write() {
            if !self.removals.unchanged_since(since) {
                return;
            }
            if table.entries.len() >= self.capacity {
                table.entries.clear();
                table.by_alias.clear();
            }
            if let Some(alias) = self.alias {
                table.by_alias.insert(alias(&value).into(), key.clone());
            }
            table.entries.insert(
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
        if let Ok(mut table) = self.table.write() {
            self.removals.removing(key);
            let removed = table.entries.remove(key);
            if let (Some(alias), Some(entry)) = (self.alias, removed) {
                table.by_alias.remove(alias(&entry.value));
            }
        }
    }

    /// Removes the entry whose alias is `alias`, and keeps out every load in flight:
    /// one may be of that entry, whose key is not known here until it is inserted.
    fn remove_alias(&self, alias: &str) {
        if let Ok(mut table) = self.table.write() {
            self.removals.removing_all();
            if let Some(key) = table.by_alias.remove(alias) {
                self.removals.removing(&key);
                table.entries.remove(&key);
            }
        }
    }

    /// Removes every entry, and keeps out every load in flight.
    fn clear(&self) {
        if let Ok(mut table) = self.table.write() {
            self.removals.removing_all();
            table.entries.clear();
            table.by_alias.clear();
        }
    }
}

/// The names in the scope registry, which every client create and update checks requests
/// against, and discovery lists.
pub(crate) struct ScopeNamesCache(FreshMap<(), Arc<[String]>>);

impl ScopeNamesCache {
    pub(crate) fn new(freshness: Duration) -> Self {
        Self(FreshMap::new(1, freshness))
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

    pub(crate) fn clear(&self) {
        self.0.clear();
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
/// last checked; spares introspection and the admin API the signature check. Indexed by
/// `jti` too, so a revocation known only by `jti` (the change feed, a revoked refresh
/// family) drops the token at once.
pub(crate) struct TokenCache(FreshMap<Arc<str>, (Arc<VerifiedClaims>, bool), TailHashing>);

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
    pub(crate) fn new(freshness: Duration) -> Self {
        Self(FreshMap::new(16_384, freshness).with_alias(|(verified, _)| &verified.claims.jti))
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

    /// Drops the token whose `jti` this is, if cached, and any load of a token in flight.
    pub(crate) fn forget_jti(&self, jti: &str) {
        self.0.remove_alias(jti);
    }

    pub(crate) fn clear(&self) {
        self.0.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::access::test_claims;

    #[test]
    fn entries_expire_and_capacity_clears() {
        let map: FreshMap<String, u32> = FreshMap::new(2, DEFAULT_FRESHNESS);
        let t0 = Instant::now();
        map.insert("a".into(), 1, t0, map.generation("a"));
        assert_eq!(map.get("a", t0), Cached::Fresh(1));
        assert_eq!(map.get("a", t0 + DEFAULT_FRESHNESS), Cached::Missing);
        map.insert("b".into(), 2, t0, map.generation("b"));
        map.insert("c".into(), 3, t0, map.generation("c"));
        assert_eq!(map.get("a", t0), Cached::Missing, "cleared when full");
        assert_eq!(map.get("c", t0), Cached::Fresh(3));
        map.remove("c");
        assert_eq!(map.get("c", t0), Cached::Missing);
    }

    #[test]
    fn one_caller_is_asked_to_refresh_an_ageing_entry() {
        let map: FreshMap<String, u32> = FreshMap::new(8, DEFAULT_FRESHNESS);
        let t0 = Instant::now();
        map.insert("a".into(), 1, t0, map.generation("a"));
        let ageing = t0 + DEFAULT_FRESHNESS / 2;
        assert_eq!(map.get("a", ageing), Cached::RefreshDue(1));
        assert_eq!(
            map.get("a", ageing),
            Cached::Fresh(1),
            "only the first is asked"
        );
        // The reload lands: fresh again, and a later reload is asked for once more.
        map.insert("a".into(), 2, ageing, map.generation("a"));
        assert_eq!(map.get("a", ageing), Cached::Fresh(2));
        assert_eq!(
            map.get("a", ageing + DEFAULT_FRESHNESS / 2),
            Cached::RefreshDue(2)
        );
    }

    #[test]
    fn a_load_that_raced_a_removal_is_not_inserted() {
        let map: FreshMap<String, u32> = FreshMap::new(8, DEFAULT_FRESHNESS);
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
        let map: FreshMap<String, u32> = FreshMap::new(8, DEFAULT_FRESHNESS);
        let t0 = Instant::now();
        let other = (0..)
            .map(|n| format!("other-{n}"))
            .find(|key| map.removals.bucket(key.as_str()) != map.removals.bucket("a"))
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
        let cache = TokenCache::new(DEFAULT_FRESHNESS);
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

    #[test]
    fn freshness_is_a_setting() {
        let map: FreshMap<String, u32> = FreshMap::new(8, Duration::from_secs(3600));
        let t0 = Instant::now();
        map.insert("a".into(), 1, t0, map.generation("a"));
        assert_eq!(
            map.get("a", t0 + Duration::from_secs(1000)),
            Cached::Fresh(1)
        );
        assert_eq!(
            map.get("a", t0 + Duration::from_secs(1800)),
            Cached::RefreshDue(1)
        );
        assert_eq!(
            map.get("a", t0 + Duration::from_secs(3600)),
            Cached::Missing
        );
    }

    /// A clear (the change feed reconnected) empties the map and keeps out what was
    /// being loaded before it.
    #[test]
    fn a_load_that_raced_a_clear_is_not_inserted() {
        let map: FreshMap<String, u32> = FreshMap::new(8, DEFAULT_FRESHNESS);
        let t0 = Instant::now();
        map.insert("a".into(), 1, t0, map.generation("a"));
        let before_load = map.generation("b");
        map.clear();
        assert_eq!(map.get("a", t0), Cached::Missing);
        map.insert("b".into(), 2, t0, before_load);
        assert_eq!(map.get("b", t0), Cached::Missing);
    }

    /// A token revoked by `jti` leaves the cache, and a load of it that was in flight
    /// (the revocation read before the revocation committed) is not put back.
    #[test]
    fn tokens_are_forgotten_by_jti() {
        let cache = TokenCache::new(DEFAULT_FRESHNESS);
        let t0 = Instant::now();
        let cached = Arc::new(VerifiedClaims::new(test_claims(Timestamp(1_000))).unwrap());
        let loading = Arc::new(VerifiedClaims::new(test_claims(Timestamp(2_000))).unwrap());
        let (token, other) = ("header.payload.one", "header.payload.two");
        cache.insert(token, cached.clone(), false, t0, cache.generation(token));
        let before_load = cache.generation(other);

        cache.forget_jti(&cached.claims.jti);
        assert!(matches!(cache.get(token, t0), Cached::Missing));
        cache.insert(other, loading.clone(), false, t0, before_load);
        assert!(matches!(cache.get(other, t0), Cached::Missing));

        // Forgetting a token by its key forgets its `jti` too: a later token under a
        // new key is not removed by the old `jti`'s index entry, and vice versa.
        cache.insert(other, loading.clone(), false, t0, cache.generation(other));
        cache.forget_jti(&cached.claims.jti);
        assert!(matches!(cache.get(other, t0), Cached::Fresh(_)));
        cache.forget(other);
        cache.forget_jti(&loading.claims.jti);
        assert!(matches!(cache.get(other, t0), Cached::Missing));
    }
}
