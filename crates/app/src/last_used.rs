//! `last_used_at` of client secrets, kept to the minute without a write per token
//! request: uses are noted in memory and written in one batch by a periodic flush.

use std::collections::HashMap;
use std::sync::Mutex;

use thetasecure_core::Timestamp;
use thetasecure_store::{SecretRecord, Store, StoreError};

/// Uses closer together than this are not worth noting again.
const RESOLUTION_MS: i64 = 60_000;

#[derive(Default)]
pub(crate) struct LastUsed {
    pending: Mutex<HashMap<String, Timestamp>>,
}

impl LastUsed {
    pub(crate) fn note(&self, secret: &SecretRecord, now: Timestamp) {
        if secret
            .last_used_at
            .is_some_and(|at| now.0 - at.0 < RESOLUTION_MS)
        {
            return;
        }
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        match pending.get_mut(&secret.id) {
            // The common case on the hot path: noted recently, nothing to allocate.
            Some(at) if now.0 - at.0 < RESOLUTION_MS => {}
            Some(at) => *at = now,
            None => {
                pending.insert(secret.id.clone(), now);
            }
        }
    }

    /// Shows noted-but-unwritten uses on records read from the store.
    pub(crate) fn overlay(&self, secrets: &mut [SecretRecord]) {
        let Ok(pending) = self.pending.lock() else {
            return;
        };
        for secret in secrets {
            if let Some(at) = pending.get(&secret.id)
                && secret.last_used_at.is_none_or(|stored| stored < *at)
            {
                secret.last_used_at = Some(*at);
            }
        }
    }

    pub(crate) async fn flush(&self, store: &Store) -> Result<(), StoreError> {
        let batch: Vec<(String, Timestamp)> = match self.pending.lock() {
            Ok(mut pending) => pending.drain().collect(),
            Err(_) => return Ok(()),
        };
        if batch.is_empty() {
            return Ok(());
        }
        store.secrets().record_last_used(&batch).await
    }
}
