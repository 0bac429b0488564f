//! Background re-reads of cached tokens' revocation state, in batches. A cached token's
//! state is re-read once it is half its freshness old; under steady introspection of N
//! tokens that was 2N single-row reads a second, each a task and a round trip, about 5 %
//! of the server's CPU at 256 tokens on PostgreSQL. Tokens that fall due are queued; the
//! first one queued starts a task that waits briefly for others, then reads the whole
//! batch in one query.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::App;
use crate::cache::{Generation, VerifiedClaims};

/// How long the first token due waits for others: a small part of the half freshness
/// (500 ms) left before its cache entry expires and a request would re-read it inline.
const GATHER: Duration = Duration::from_millis(20);

/// Tokens per query, so one statement's parameter stays of modest size.
const BATCH_MAX: usize = 512;

/// A cached token due for a re-read: what the cache needs to store the answer.
pub(crate) struct Recheck {
    pub(crate) token: String,
    pub(crate) verified: Arc<VerifiedClaims>,
    pub(crate) loaded: Instant,
    pub(crate) generation: Generation,
}

#[derive(Default)]
pub(crate) struct RevocationRechecks {
    queued: Mutex<Vec<Recheck>>,
}

impl RevocationRechecks {
    /// Queues `recheck`; true when the queue was empty, so the caller starts the batch.
    fn queue(&self, recheck: Recheck) -> bool {
        let Ok(mut queued) = self.queued.lock() else {
            return false; // the entry expires on time and the next request re-reads it
        };
        queued.push(recheck);
        queued.len() == 1
    }

    fn take(&self) -> Vec<Recheck> {
        self.queued
            .lock()
            .map(|mut queued| std::mem::take(&mut *queued))
            .unwrap_or_default()
    }
}

impl App {
    /// Re-reads `recheck`'s revocation state in the background, with whatever else falls
    /// due within `GATHER`.
    pub(crate) fn recheck_revocation(&self, recheck: Recheck) {
        if self.0.revocation_rechecks.queue(recheck) {
            let app = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(GATHER).await;
                app.recheck_queued().await;
            });
        }
    }

    async fn recheck_queued(&self) {
        let queued = self.0.revocation_rechecks.take();
        for batch in queued.chunks(BATCH_MAX) {
            let jtis: Vec<&str> = batch
                .iter()
                .map(|due| due.verified.claims.jti.as_str())
                .collect();
            let revoked = match self.store().tokens().revoked_among(&jtis).await {
                Ok(revoked) => revoked.into_iter().collect::<HashSet<String>>(),
                Err(error) => {
                    // The entries expire on time; the next request re-reads or fails.
                    tracing::warn!(error = %thetasecure_core::ErrorChain(&error), "could not refresh cached tokens' revocation state");
                    continue;
                }
            };
            for due in batch {
                let is_revoked = revoked.contains(&due.verified.claims.jti);
                self.0.token_cache.insert(
                    &due.token,
                    due.verified.clone(),
                    is_revoked,
                    due.loaded,
                    due.generation,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use thetasecure_core::Timestamp;
    use thetasecure_core::clock::SystemClock;
    use thetasecure_store::RevokedAccessToken;

    use super::*;
    use crate::cache::Cached;
    use crate::test_support::{credentials, machine_client, sqlite_app};

    fn due(app: &App, token: &str) -> Recheck {
        let now = Instant::now();
        let Cached::Fresh((verified, _)) = app.0.token_cache.get(token, now) else {
            panic!("the token is not cached");
        };
        Recheck {
            token: token.to_owned(),
            verified,
            loaded: now,
            generation: app.0.token_cache.generation(token),
        }
    }

    /// A token revoked elsewhere (another instance, straight into the store) stays
    /// active here until the batched re-read, which changes exactly that token.
    #[tokio::test]
    async fn one_batched_read_updates_each_queued_token() {
        let (_database, app) = sqlite_app(Arc::new(SystemClock)).await;
        let (id, secret) = machine_client(&app).await;
        let mut tokens = Vec::new();
        for _ in 0..2 {
            let issued = app
                .client_credentials_grant(&credentials(&id, &secret), None)
                .await
                .unwrap();
            assert!(
                app.active_access_token(&issued.access_token)
                    .await
                    .unwrap()
                    .is_some()
            );
            tokens.push(issued.access_token);
        }
        let [revoked, kept] = [&tokens[0], &tokens[1]];
        let claims = app.active_access_token(revoked).await.unwrap().unwrap();
        app.store()
            .tokens()
            .revoke_access_token(&RevokedAccessToken {
                jti: claims.claims().jti.clone(),
                client_id: claims.verified.client_id.clone(),
                expires_at: Timestamp::from_unix_seconds(claims.claims().exp),
            })
            .await
            .unwrap();
        assert!(
            app.active_access_token(revoked).await.unwrap().is_some(),
            "served from the cache until re-read"
        );

        assert!(app.0.revocation_rechecks.queue(due(&app, revoked)));
        assert!(
            !app.0.revocation_rechecks.queue(due(&app, kept)),
            "one batch"
        );
        app.recheck_queued().await;

        assert!(app.active_access_token(revoked).await.unwrap().is_none());
        assert!(app.active_access_token(kept).await.unwrap().is_some());
        assert!(app.0.revocation_rechecks.take().is_empty());
        assert!(
            app.0.revocation_rechecks.queue(due(&app, kept)),
            "a new batch"
        );
    }
}
