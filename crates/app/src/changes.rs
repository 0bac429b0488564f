//! Applies the change feed (`thetasecure_store::changes`) to this instance's caches: a
//! client changed or deleted anywhere is dropped from the client cache, a revoked
//! access token from the token cache (by `jti`), a changed scope registry from its
//! cache, as soon as the change commits. When the feed (re)starts listening, the token
//! and scope caches are cleared, since changes made meanwhile were missed, and the
//! change log is read at once for the clients. While it is down, the token and scope
//! caches' horizon (`Settings::cache_freshness`) bounds how long a change elsewhere
//! goes unseen, as it always did.
//!
//! The change log (`client_changes`) is read on both engines every half
//! `cache_freshness`: it drops the clients changed elsewhere whose notification was
//! lost, and on SQLite (no feed) those the CLI changed. The client cache serves entries
//! only while these reads succeed (`client_cache`).

use std::sync::Weak;
use std::time::{Duration, Instant};

use thetasecure_store::{Change, ChangeFeed, ClientChangesRead, FeedEvent, RevokedTokens};

use crate::{App, Inner};

/// 1 while this instance listens for other instances' changes, 0 while it does not
/// (the caches then rely on their horizon). Absent on SQLite.
pub const LISTENING_GAUGE: &str = "thetasecure_change_feed_listening";

impl App {
    /// Follows `feed` in a task that ends with the app (or `close`).
    pub(crate) fn follow_changes(&self, feed: ChangeFeed) {
        metrics::gauge!(LISTENING_GAUGE).set(0.0);
        let task = tokio::spawn(follow(std::sync::Arc::downgrade(&self.0), feed));
        self.keep_follower(task.abort_handle());
    }

    /// Reads the change log in a task that ends with the app (or `close`): at once, then
    /// every half `cache_freshness`, and whenever the feed reconnects.
    pub(crate) fn follow_client_change_log(&self) {
        let task = tokio::spawn(read_change_log(std::sync::Arc::downgrade(&self.0)));
        self.keep_follower(task.abort_handle());
    }

    fn keep_follower(&self, task: tokio::task::AbortHandle) {
        if let Ok(mut followers) = self.0.change_followers.lock() {
            followers.push(task);
        }
    }

    /// Stops following the change feed and the log, which closes their connections.
    pub(crate) fn stop_following_changes(&self) {
        if let Ok(mut followers) = self.0.change_followers.lock() {
            for task in followers.drain(..) {
                task.abort();
            }
        }
    }

    /// Drops what `change` made stale. Changes made through this instance arrive here
    /// too: by then their entries are gone already, and this costs a lookup.
    pub fn apply_change(&self, change: &Change) {
        match change {
            Change::ClientChanged { client_id } | Change::ClientDeleted { client_id } => {
                self.forget_client(client_id);
            }
            Change::ScopesChanged => self.forget_scope_names(),
            Change::AccessTokensRevoked { .. }
            | Change::RefreshFamilyRevoked { .. }
            | Change::UserTokensRevoked { .. }
            | Change::ClientTokensRevoked { .. } => {}
        }
        for jti in change.revoked_jtis() {
            self.0.token_cache.forget_jti(jti);
        }
    }

    /// After this instance revoked `revoked`: its cached tokens stop being trusted now,
    /// not when the notification comes back.
    pub(crate) fn forget_revoked(&self, revoked: &RevokedTokens) {
        for jti in &revoked.access_token_jtis {
            self.0.token_cache.forget_jti(jti);
        }
    }

    /// Every cache emptied: what changed while nobody listened is unknown.
    pub fn forget_everything(&self) {
        self.0.client_cache.clear();
        self.0.token_cache.clear();
        self.0.scope_names.clear();
    }
}

async fn follow(app: Weak<Inner>, mut feed: ChangeFeed) {
    while let Some(event) = feed.next().await {
        let Some(inner) = app.upgrade() else {
            return;
        };
        let app = App(inner);
        match event {
            FeedEvent::Listening => {
                // Clients are not cleared: the log says which changed meanwhile, and
                // dropping every client made each reconnection a burst of store reads.
                app.0.token_cache.clear();
                app.0.scope_names.clear();
                app.0.read_change_log.notify_one();
                metrics::gauge!(LISTENING_GAUGE).set(1.0);
            }
            FeedEvent::Interrupted => metrics::gauge!(LISTENING_GAUGE).set(0.0),
            FeedEvent::Change(change) => app.apply_change(&change),
            FeedEvent::Unreadable => app.forget_everything(),
        }
    }
    metrics::gauge!(LISTENING_GAUGE).set(0.0);
}

/// 1 while the change log is being read successfully, 0 while it is not (the client
/// cache then sends every lookup to the store).
pub const LOG_READ_GAUGE: &str = "thetasecure_client_change_log_ok";

/// How many clients, and unknown client ids, the client cache holds.
pub const CACHED_CLIENTS_GAUGE: &str = "thetasecure_client_cache_clients";
pub const CACHED_UNKNOWN_IDS_GAUGE: &str = "thetasecure_client_cache_unknown_ids";

/// How often an instance prunes the log of rows past their retention.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

async fn read_change_log(app: Weak<Inner>) {
    let (mut reader, every, nudge) = match app.upgrade() {
        Some(inner) => (
            inner.store.client_changes().reader(),
            inner.settings.cache_freshness / 2,
            inner.read_change_log.clone(),
        ),
        None => return,
    };
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Not at once: a CLI command, which also opens an app, has no need to.
    let mut pruned_at = Instant::now();
    let mut failing = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = nudge.notified() => {}
        }
        let started = Instant::now();
        let read = reader.read().await;
        let Some(inner) = app.upgrade() else {
            return;
        };
        let app = App(inner);
        match read {
            Ok(changed) => {
                match changed {
                    ClientChangesRead::Changed(ids) => {
                        for id in &ids {
                            app.forget_client(id);
                        }
                    }
                    ClientChangesRead::Unknown => app.0.client_cache.clear(),
                }
                // Only now, with what it found dropped, may entries be served again.
                app.0.client_cache.confirm(started);
                if failing {
                    tracing::info!("the client change log is read again");
                    failing = false;
                }
                metrics::gauge!(LOG_READ_GAUGE).set(1.0);
                let (known, unknown) = app.0.client_cache.len();
                metrics::gauge!(CACHED_CLIENTS_GAUGE).set(known as f64);
                metrics::gauge!(CACHED_UNKNOWN_IDS_GAUGE).set(unknown as f64);
            }
            Err(error) => {
                if !failing {
                    tracing::warn!(
                        error = %thetasecure_core::ErrorChain(&error),
                        "could not read the client change log; cached clients are not served until it is read again"
                    );
                    failing = true;
                }
                metrics::gauge!(LOG_READ_GAUGE).set(0.0);
            }
        }
        if pruned_at.elapsed() >= PRUNE_EVERY {
            pruned_at = Instant::now();
            if let Err(error) = app.store().client_changes().prune().await {
                tracing::debug!(error = %thetasecure_core::ErrorChain(&error), "could not prune the client change log");
            }
        }
    }
}
