//! Clients with their active secrets, as the token path needs them, kept until the client
//! changes rather than for a fixed time (#15): with thousands of machine clients an
//! expiring entry meant a store read per request.
//!
//! What keeps an entry current: this instance's own changes drop it at once; the change
//! feed (PostgreSQL's notifications) drops it when another instance changes the client;
//! and the change log (`client_changes`), read every half `cache_freshness`, drops it
//! when a notification was lost or, on SQLite, when the CLI changed the client. The log
//! is the guarantee, so entries are served only while it is being read: from
//! `cache_freshness` after the last successful read on, every lookup goes to the store
//! (SPEC 1's one-second bound holds with the database unreachable or the feed cut).
//!
//! Memory is bounded by `quick_cache` (an S3-FIFO policy, comparable to W-TinyLFU:
//! clients seen once do not push out the ones in steady use). Unknown ids are kept
//! apart, in a map an eighth the size, so that a stream of made-up ids cannot evict
//! real clients.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use quick_cache::UnitWeighter;
use quick_cache::sync::{Cache, DefaultLifecycle};
use thetasecure_core::client::Client;
use thetasecure_core::ids::ClientId;
use thetasecure_store::SecretRecord;

use crate::cache::{Cached, Generation, Removals};

/// How many clients are cached unless the settings say otherwise.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// The capacities the setting accepts: fewer than a hundred would barely cache the
/// default clients and the admin's; ten million is about 10 GiB (docs/performance.md).
pub const CAPACITY_RANGE: std::ops::RangeInclusive<usize> = 100..=10_000_000;

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

type Map<V> = Cache<ClientId, V, UnitWeighter, foldhash::quality::RandomState>;

/// Clients by id, and ids known not to name a client.
pub(crate) struct ClientCache {
    known: Map<Arc<ClientEntry>>,
    unknown: Map<()>,
    removals: Removals,
    freshness: Duration,
    origin: Instant,
    /// The start of the last successful read of the change log, in nanoseconds after
    /// `origin`, plus one; 0 until the first.
    confirmed: AtomicU64,
    lookups: Lookups,
}

/// The `thetasecure_client_cache_lookups_total` counters by outcome: `hit` (a client or
/// a known-unknown id), `miss` (not held), `unconfirmed` (held entries not served because
/// the change log was not read within the freshness). Registered at the first lookup,
/// like the token counters, not through the macro on every request.
#[derive(Default)]
struct Lookups([OnceLock<metrics::Counter>; 3]);

/// The name of the lookup counters.
pub const LOOKUPS_COUNTER: &str = "thetasecure_client_cache_lookups_total";

#[derive(Clone, Copy)]
enum Lookup {
    Hit = 0,
    Miss = 1,
    Unconfirmed = 2,
}

impl Lookups {
    fn count(&self, lookup: Lookup) {
        self.0[lookup as usize]
            .get_or_init(|| {
                let outcome = match lookup {
                    Lookup::Hit => "hit",
                    Lookup::Miss => "miss",
                    Lookup::Unconfirmed => "unconfirmed",
                };
                metrics::counter!(LOOKUPS_COUNTER, "outcome" => outcome)
            })
            .increment(1);
    }
}

/// How many entries a map sized for `capacity` may hold.
///
/// quick_cache splits its capacity evenly over its shards (four per core), and hashing
/// never fills them evenly: a shard past its share evicts while others have room. With
/// exactly `capacity`, a working set of that many clients kept missing (#15: 100,000
/// clients, 800 store reads a second once full). Each shard's count varies by about the
/// square root of its share, so the maps get five times that more per shard.
fn held_at_most(capacity: usize) -> usize {
    let shards = std::thread::available_parallelism().map_or(1, usize::from) * 4;
    let headroom = capacity.saturating_mul(shards).isqrt().saturating_mul(5);
    capacity.max(1).saturating_add(headroom)
}

fn map<V: Clone>(capacity: usize) -> Map<V> {
    let capacity = held_at_most(capacity);
    Cache::with(
        capacity,
        u64::try_from(capacity).unwrap_or(u64::MAX),
        UnitWeighter,
        foldhash::quality::RandomState::default(),
        DefaultLifecycle::default(),
    )
}

impl ClientCache {
    pub(crate) fn new(capacity: usize, freshness: Duration) -> Self {
        Self {
            known: map(capacity),
            unknown: map(capacity / 8),
            removals: Removals::default(),
            freshness,
            origin: Instant::now(),
            confirmed: AtomicU64::new(0),
            lookups: Lookups::default(),
        }
    }

    /// Whether the change log was read successfully less than `freshness` before `now`.
    fn serving(&self, now: Instant) -> bool {
        match self.confirmed.load(Ordering::Acquire) {
            0 => false,
            confirmed => {
                let read_at = self.origin + Duration::from_nanos(confirmed - 1);
                now.saturating_duration_since(read_at) < self.freshness
            }
        }
    }

    /// A read of the change log that started at `started` succeeded, and what it found
    /// was dropped: entries may be served until `freshness` after `started`.
    pub(crate) fn confirm(&self, started: Instant) {
        let since_origin = started.saturating_duration_since(self.origin).as_nanos();
        let value = u64::try_from(since_origin)
            .unwrap_or(u64::MAX - 1)
            .saturating_add(1);
        self.confirmed.fetch_max(value, Ordering::AcqRel);
    }

    pub(crate) fn get(&self, id: &ClientId, now: Instant) -> Cached<Option<Arc<ClientEntry>>> {
        if !self.serving(now) {
            self.lookups.count(Lookup::Unconfirmed);
            return Cached::Missing;
        }
        let found = if let Some(entry) = self.known.get(id) {
            Cached::Fresh(Some(entry))
        } else if self.unknown.get(id).is_some() {
            Cached::Fresh(None)
        } else {
            Cached::Missing
        };
        self.lookups.count(match found {
            Cached::Missing => Lookup::Miss,
            _ => Lookup::Hit,
        });
        found
    }

    pub(crate) fn generation(&self, id: &ClientId) -> Generation {
        self.removals.generation(id)
    }

    /// Inserts what a load that began at `since` read, unless the client was invalidated
    /// meanwhile (the load may predate that change).
    pub(crate) fn insert(&self, id: ClientId, entry: Option<Arc<ClientEntry>>, since: Generation) {
        if !self.removals.unchanged_since(since) {
            return;
        }
        match entry {
            Some(entry) => {
                self.unknown.remove(&id);
                self.known.insert(id.clone(), entry);
            }
            None => {
                self.known.remove(&id);
                self.unknown.insert(id.clone(), ());
            }
        }
        // The maps lock per shard, not with the counters: an invalidation between the
        // check above and the insert is caught here (it counts before it removes).
        if !self.removals.unchanged_since(since) {
            self.known.remove(&id);
            self.unknown.remove(&id);
        }
    }

    pub(crate) fn invalidate(&self, id: &ClientId) {
        self.removals.removing(id);
        self.known.remove(id);
        self.unknown.remove(id);
    }

    pub(crate) fn clear(&self) {
        self.removals.removing_all();
        self.known.clear();
        self.unknown.clear();
    }

    /// How many clients and unknown ids are held.
    pub(crate) fn len(&self) -> (usize, usize) {
        (self.known.len(), self.unknown.len())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::OnceLock;

    use thetasecure_core::Timestamp;
    use thetasecure_core::client::ClientMetadata;
    use thetasecure_core::grant::{AuthMethod, ClientStatus, ClientType, GrantType};
    use thetasecure_core::scope::ScopeSet;

    use super::*;

    fn entry(n: usize) -> Arc<ClientEntry> {
        let client = Client {
            client_id: id(n),
            client_type: ClientType::Custom,
            metadata: ClientMetadata {
                client_name: format!("client {n}"),
                description: None,
                redirect_uris: Vec::new(),
                post_logout_redirect_uris: Vec::new(),
                grant_types: vec![GrantType::ClientCredentials],
                response_types: Vec::new(),
                scope: ScopeSet::from_trusted("directory.read"),
                token_endpoint_auth_method: AuthMethod::ClientSecretBasic,
                require_user_consent: false,
                access_token_ttl_seconds: None,
                status: ClientStatus::Active,
            },
            is_default: false,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            tokens_revoked_before: None,
        };
        Arc::new(ClientEntry::new(client, Vec::new()))
    }

    /// The `n`th of a fixed list of generated ids.
    fn id(n: usize) -> ClientId {
        static IDS: OnceLock<Vec<ClientId>> = OnceLock::new();
        IDS.get_or_init(|| (0..3000).map(|_| ClientId::generate()).collect())[n].clone()
    }

    fn is_missing(cache: &ClientCache, id: &ClientId, now: Instant) -> bool {
        matches!(cache.get(id, now), Cached::Missing)
    }

    fn is_cached(cache: &ClientCache, id: &ClientId, now: Instant) -> bool {
        matches!(cache.get(id, now), Cached::Fresh(Some(_)))
    }

    #[test]
    fn entries_do_not_expire_by_age_while_the_log_is_read() {
        let freshness = Duration::from_secs(1);
        let cache = ClientCache::new(16, freshness);
        let t0 = Instant::now();
        cache.insert(id(1), Some(entry(1)), cache.generation(&id(1)));
        assert!(
            !is_cached(&cache, &id(1), t0),
            "nothing is served before the log is read"
        );
        cache.confirm(t0);
        assert!(is_cached(&cache, &id(1), t0));
        // An hour on, the entry is still there, as long as the log keeps being read.
        let later = t0 + Duration::from_secs(3600);
        cache.confirm(later);
        assert!(is_cached(&cache, &id(1), later + freshness / 2));
    }

    #[test]
    fn entries_are_not_served_once_the_log_goes_unread_for_the_freshness() {
        let freshness = Duration::from_secs(1);
        let cache = ClientCache::new(16, freshness);
        let t0 = Instant::now();
        cache.confirm(t0);
        cache.insert(id(1), Some(entry(1)), cache.generation(&id(1)));
        assert!(is_cached(
            &cache,
            &id(1),
            t0 + freshness - Duration::from_millis(1)
        ));
        assert!(is_missing(&cache, &id(1), t0 + freshness));
        // A successful read later serves it again: what changed meanwhile was dropped.
        cache.confirm(t0 + freshness * 2);
        assert!(is_cached(&cache, &id(1), t0 + freshness * 2));
        // An older read finishing late does not move the confirmation back.
        cache.confirm(t0);
        assert!(is_cached(&cache, &id(1), t0 + freshness * 2));
    }

    #[test]
    fn a_change_drops_the_entry_and_a_load_that_raced_it_is_not_inserted() {
        let cache = ClientCache::new(16, Duration::from_secs(1));
        let t0 = Instant::now();
        cache.confirm(t0);
        cache.insert(id(1), Some(entry(1)), cache.generation(&id(1)));
        cache.invalidate(&id(1));
        assert!(is_missing(&cache, &id(1), t0));
        let before_load = cache.generation(&id(2));
        cache.invalidate(&id(2)); // the change lands while the load is in flight
        cache.insert(id(2), Some(entry(2)), before_load);
        assert!(is_missing(&cache, &id(2), t0));
        let before_load = cache.generation(&id(3));
        cache.clear();
        cache.insert(id(3), Some(entry(3)), before_load);
        assert!(is_missing(&cache, &id(3), t0));
    }

    #[test]
    fn unknown_ids_are_kept_apart_and_cannot_evict_clients() {
        let cache = ClientCache::new(64, Duration::from_secs(1));
        let t0 = Instant::now();
        cache.confirm(t0);
        for n in 0..32 {
            cache.insert(id(n), Some(entry(n)), cache.generation(&id(n)));
        }
        for n in 1000..3000 {
            cache.insert(id(n), None, cache.generation(&id(n)));
        }
        let (known, unknown) = cache.len();
        assert_eq!(known, 32, "no client was pushed out by unknown ids");
        assert!(
            unknown <= held_at_most(64 / 8),
            "{unknown} unknown ids held"
        );
        assert!(matches!(cache.get(&id(2999), t0), Cached::Fresh(None)));
        // An id that turns out to exist replaces its "unknown" entry.
        cache.insert(id(2999), Some(entry(2999)), cache.generation(&id(2999)));
        assert!(is_cached(&cache, &id(2999), t0));
    }

    #[test]
    fn capacity_bounds_the_clients_held() {
        let cache = ClientCache::new(100, Duration::from_secs(1));
        for n in 0..1000 {
            cache.insert(id(n), Some(entry(n)), cache.generation(&id(n)));
        }
        let (known, _) = cache.len();
        assert!(known <= held_at_most(100), "{known} clients held");
    }

    #[test]
    fn a_working_set_as_large_as_the_capacity_stays_whole() {
        const CAPACITY: usize = 10_000;
        let cache = ClientCache::new(CAPACITY, Duration::from_secs(1));
        let t0 = Instant::now();
        cache.confirm(t0);
        let clients: Vec<_> = (0..CAPACITY).map(fleet_entry).collect();
        for (id, entry) in &clients {
            cache.insert(id.clone(), Some(entry.clone()), cache.generation(id));
        }
        let missing = clients
            .iter()
            .filter(|(id, _)| !is_cached(&cache, id, t0))
            .count();
        assert_eq!(missing, 0, "of {CAPACITY} clients, {missing} were evicted");
    }

    /// The server's allocator, so that the measurement below is the server's.
    #[global_allocator]
    static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

    /// Resident memory in bytes (Linux), `None` elsewhere.
    fn resident_bytes() -> Option<usize> {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
        Some(pages * 4096)
    }

    /// A sync connector as the fleet has them: a name, two scopes, one secret.
    fn fleet_entry(n: usize) -> (ClientId, Arc<ClientEntry>) {
        let client_id = ClientId::generate();
        let mut client = Arc::try_unwrap(entry(0)).unwrap().client;
        client.client_id = client_id.clone();
        client.metadata.client_name = format!("Sync connector {n:06}");
        client.metadata.scope = ScopeSet::from_trusted("directory.read directory.write");
        let secret = SecretRecord {
            id: uuid::Uuid::now_v7().to_string(),
            client_id: client_id.clone(),
            hash: thetasecure_core::secret::SecretHash::from_bytes(vec![7; 32]),
            hint: "tss_Ab3x".into(),
            created_at: Timestamp(0),
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
        };
        (client_id, Arc::new(ClientEntry::new(client, vec![secret])))
    }

    /// What a cached client costs in resident memory: the entry, its key and the map's
    /// share, with the server's allocator. Figures go to docs/performance.md. Run:
    /// `cargo test -p thetasecure-app --lib bytes_per_cached_client -- --ignored --nocapture`
    #[test]
    #[ignore = "a measurement: prints resident bytes per cached client"]
    fn bytes_per_cached_client() {
        const CLIENTS: usize = 100_000;
        let Some(before) = resident_bytes() else {
            return;
        };
        let cache = ClientCache::new(CLIENTS, Duration::from_secs(1));
        for n in 0..CLIENTS {
            let (id, entry) = fleet_entry(n);
            let since = cache.generation(&id);
            cache.insert(id, Some(entry), since);
        }
        let after = resident_bytes().unwrap_or(before);
        let (held, _) = cache.len();
        let per_client = after.saturating_sub(before) / held.max(1);
        println!(
            "{held} clients cached: {} KiB resident more, {per_client} bytes per client",
            (after - before) / 1024
        );
        assert!(held >= CLIENTS * 9 / 10, "{held} held");
        assert!(per_client < 4096, "{per_client} bytes per client");
    }
}
