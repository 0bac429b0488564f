//! Applies the change feed (`thetasecure_store::changes`) to this instance's caches: a
//! client changed or deleted anywhere is dropped from the client cache, a revoked
//! access token from the token cache (by `jti`), a changed scope registry from its
//! cache, as soon as the change commits. When the feed (re)starts listening, every
//! cache is cleared, since changes made meanwhile were missed. While it is down, the
//! caches' horizon (`Settings::cache_freshness`) bounds how long a change elsewhere
//! goes unseen, as it always did. On SQLite there is no feed: this process's own writes
//! invalidate what they change, and a CLI on the same file is seen within the horizon.

use std::sync::Weak;

use thetasecure_store::{Change, ChangeFeed, FeedEvent, RevokedTokens};

use crate::{App, Inner};

/// 1 while this instance listens for other instances' changes, 0 while it does not
/// (the caches then rely on their horizon). Absent on SQLite.
pub const LISTENING_GAUGE: &str = "thetasecure_change_feed_listening";

impl App {
    /// Follows `feed` in a task that ends with the app (or `close`).
    pub(crate) fn follow_changes(&self, feed: ChangeFeed) {
        metrics::gauge!(LISTENING_GAUGE).set(0.0);
        let task = tokio::spawn(follow(std::sync::Arc::downgrade(&self.0), feed));
        if let Ok(mut follower) = self.0.change_follower.lock() {
            *follower = Some(task.abort_handle());
        }
    }

    /// Stops following the change feed, which closes its connection.
    pub(crate) fn stop_following_changes(&self) {
        if let Ok(mut follower) = self.0.change_follower.lock()
            && let Some(task) = follower.take()
        {
            task.abort();
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
                app.forget_everything();
                metrics::gauge!(LISTENING_GAUGE).set(1.0);
            }
            FeedEvent::Interrupted => metrics::gauge!(LISTENING_GAUGE).set(0.0),
            FeedEvent::Change(change) => app.apply_change(&change),
            FeedEvent::Unreadable => app.forget_everything(),
        }
    }
    metrics::gauge!(LISTENING_GAUGE).set(0.0);
}
