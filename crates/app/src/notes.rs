//! What the hot paths note in memory and a periodic flush writes to the store in a few
//! large statements (and at shutdown): secrets' `last_used_at` (`last_used`) and clients' usage
//! (`usage`). A token request must not wait for a write, and a write per token would
//! make the store the bottleneck of the token endpoint.
//!
//! Noting takes one of several locks, chosen by the key's hash, for a map lookup and an
//! update in place: no allocation once a key is noted, and concurrent requests of
//! different clients rarely meet on one lock.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, PoisonError};

use thetasecure_store::{Store, StoreError};

/// Enough shards that the token endpoint's workers rarely wait for each other.
const SHARDS: usize = 16;

/// Notes a flush writes per statement, and the least pause between two statements,
/// which lets requests have the store and the core in between. The pause is at least as
/// long as the last statement took, so a flush takes at most half of either however
/// large it is.
const FLUSH_SLICE: usize = 2_000;
const FLUSH_PAUSE: std::time::Duration = std::time::Duration::from_millis(5);

/// A value noted under a key, which can absorb another noted under the same key: what a
/// flush that failed puts back meets what was noted meanwhile.
pub(crate) trait Note {
    fn absorb(&mut self, other: Self);
}

/// Writes a slice of notes to the store: a plain function, so that the flush's future
/// is `Send` for every slice's lifetime (an async closure's is not provably so).
pub(crate) type WriteSlice<K, V> = for<'a> fn(&'a Store, &'a [(K, V)]) -> WriteFuture<'a>;

pub(crate) type WriteFuture<'a> = Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send + 'a>>;

/// Notes by key, until the next [`Notes::drain`].
pub(crate) struct Notes<K, V> {
    shards: Box<[Mutex<HashMap<K, V>>]>,
    /// Seeded per process, so keys a caller chooses cannot all fall on one shard.
    hasher: foldhash::quality::RandomState,
}

impl<K, V> Default for Notes<K, V> {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: Default::default(),
        }
    }
}

impl<K: Ord + Hash, V: Note> Notes<K, V> {
    /// A poisoned shard is still used: a note is a plain value, whole at every instant.
    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> MutexGuard<'_, HashMap<K, V>> {
        // The modulo keeps the result below SHARDS, so the cast cannot truncate.
        let index = (self.hasher.hash_one(key) % SHARDS as u64) as usize;
        self.shards[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Updates the note of `key` in place, or adds `new()` when there is none; the key
    /// is copied only then.
    pub(crate) fn note<Q>(&self, key: &Q, new: impl FnOnce() -> V, update: impl FnOnce(&mut V))
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let mut shard = self.shard(key);
        match shard.get_mut(key) {
            Some(noted) => update(noted),
            None => {
                shard.insert(key.to_owned(), new());
            }
        }
    }

    /// The unwritten note of `key`, for reads that show it before the flush.
    pub(crate) fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        self.shard(key).get(key).cloned()
    }

    pub(crate) fn forget<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shard(key).remove(key);
    }

    /// Takes every note, for a flush to write.
    pub(crate) fn drain(&self) -> Vec<(K, V)> {
        let mut batch = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            batch.extend(shard.drain());
        }
        batch
    }

    /// Takes every note and writes it with `write`, a slice of at most [`FLUSH_SLICE`]
    /// notes at a time with a pause between slices: one statement of 100,000 rows held
    /// the store and the server's core long enough to triple the token endpoint's p99
    /// (docs/performance.md). The notes go in key order, so that a slice's rows sit
    /// together in the tables' indexes: in the order the map gave them, each slice of
    /// 2,000 touched most of the pages of 100,000 clients' rows, and every commit wrote
    /// them all (three times the work, #15). What a failed write did not take is put
    /// back, for the next flush to write with what was noted meanwhile.
    pub(crate) async fn flush(
        &self,
        store: &Store,
        write: WriteSlice<K, V>,
    ) -> Result<(), StoreError> {
        let mut batch = self.drain();
        batch.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut written = 0;
        let mut pause = FLUSH_PAUSE;
        while written < batch.len() {
            if written > 0 {
                tokio::time::sleep(pause).await;
            }
            let end = batch.len().min(written + FLUSH_SLICE);
            let started = std::time::Instant::now();
            if let Err(error) = write(store, &batch[written..end]).await {
                self.restore(batch.split_off(written));
                return Err(error);
            }
            pause = started.elapsed().max(FLUSH_PAUSE);
            written = end;
        }
        Ok(())
    }

    /// Puts back a batch whose write failed, so the next flush writes it with what was
    /// noted meanwhile.
    fn restore(&self, batch: Vec<(K, V)>) {
        for (key, value) in batch {
            let mut shard = self.shard(&key);
            match shard.get_mut(&key) {
                Some(noted) => noted.absorb(value),
                None => {
                    shard.insert(key, value);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct Count(u32);

    impl Note for Count {
        fn absorb(&mut self, other: Self) {
            self.0 += other.0;
        }
    }

    fn add(notes: &Notes<String, Count>, key: &str, n: u32) {
        notes.note(key, || Count(n), |count| count.0 += n);
    }

    #[test]
    fn notes_add_up_until_drained_and_a_restored_batch_joins_the_newer_notes() {
        let notes = Notes::<String, Count>::default();
        for key in ["a", "b", "a", "c", "a"] {
            add(&notes, key, 1);
        }
        assert_eq!(notes.get("a"), Some(Count(3)));
        let mut batch = notes.drain();
        batch.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(
            batch,
            [
                ("a".to_owned(), Count(3)),
                ("b".to_owned(), Count(1)),
                ("c".to_owned(), Count(1))
            ]
        );
        assert!(notes.drain().is_empty());

        add(&notes, "a", 10);
        notes.restore(batch);
        assert_eq!(notes.get("a"), Some(Count(13)));
        assert_eq!(notes.get("b"), Some(Count(1)));
        notes.forget("b");
        assert_eq!(notes.get("b"), None);
        assert_eq!(notes.drain().len(), 2);
    }

    /// Calls of `fail_the_second_slice`, counted: a `WriteSlice` is a plain function.
    static SLICES_WRITTEN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    fn fail_the_second_slice<'a>(_: &'a Store, slice: &'a [(String, Count)]) -> WriteFuture<'a> {
        let call = SLICES_WRITTEN.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let len = slice.len();
        // In key order, within a slice and from one slice to the next.
        static LAST_KEY: Mutex<String> = Mutex::new(String::new());
        let mut last = LAST_KEY.lock().unwrap_or_else(PoisonError::into_inner);
        for (key, _) in slice {
            assert!(*last < *key, "{key} came after {last}");
            key.clone_into(&mut last);
        }
        Box::pin(async move {
            assert!(len <= FLUSH_SLICE, "a slice of {len} notes");
            if call == 1 {
                Err(StoreError::Conflict("the store refused this slice".into()))
            } else {
                Ok(())
            }
        })
    }

    #[tokio::test]
    async fn a_flush_writes_in_slices_and_puts_back_what_a_failed_slice_did_not_write() {
        let clock = std::sync::Arc::new(thetasecure_core::clock::FixedClock::new(
            thetasecure_core::Timestamp(0),
        ));
        let (_database, app) = crate::test_support::sqlite_app(clock).await;
        let notes = Notes::<String, Count>::default();
        let total = 2 * FLUSH_SLICE + FLUSH_SLICE / 2;
        for key in 0..total {
            add(&notes, &key.to_string(), 1);
        }
        let flushed = notes.flush(&app.0.store, fail_the_second_slice).await;
        assert!(
            flushed.is_err(),
            "the second slice's refusal is the flush's"
        );
        assert_eq!(SLICES_WRITTEN.load(std::sync::atomic::Ordering::SeqCst), 2);
        // The first slice was written; the second and the rest wait for the next flush.
        assert_eq!(notes.drain().len(), total - FLUSH_SLICE);
    }
}
