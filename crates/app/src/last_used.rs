//! `last_used_at` of client secrets, kept to the minute without a write per token
//! request: uses are noted in memory and written in one batch by a periodic flush
//! (`notes`).

use thetasecure_core::Timestamp;
use thetasecure_store::{SecretRecord, Store, StoreError};

use crate::notes::{Note, Notes, WriteFuture};

/// Uses closer together than this are not worth noting again.
const RESOLUTION_MS: i64 = 60_000;

/// The time a secret was last used: the later of two notes wins.
impl Note for Timestamp {
    fn absorb(&mut self, other: Self) {
        *self = (*self).max(other);
    }
}

#[derive(Default)]
pub(crate) struct LastUsed {
    pending: Notes<String, Timestamp>,
}

impl LastUsed {
    pub(crate) fn note(&self, secret: &SecretRecord, now: Timestamp) {
        if secret
            .last_used_at
            .is_some_and(|at| now.0 - at.0 < RESOLUTION_MS)
        {
            return;
        }
        self.pending.note(
            secret.id.as_str(),
            || now,
            |at| {
                // The common case on the hot path: noted recently, nothing to change.
                if now.0 - at.0 >= RESOLUTION_MS {
                    *at = now;
                }
            },
        );
    }

    /// Shows noted-but-unwritten uses on records read from the store.
    pub(crate) fn overlay(&self, secrets: &mut [SecretRecord]) {
        for secret in secrets {
            if let Some(at) = self.pending.get(secret.id.as_str())
                && secret.last_used_at.is_none_or(|stored| stored < at)
            {
                secret.last_used_at = Some(at);
            }
        }
    }

    pub(crate) async fn flush(&self, store: &Store) -> Result<(), StoreError> {
        self.pending.flush(store, write_uses).await
    }
}

fn write_uses<'a>(store: &'a Store, uses: &'a [(String, Timestamp)]) -> WriteFuture<'a> {
    Box::pin(async move { store.secrets().record_last_used(uses).await })
}
