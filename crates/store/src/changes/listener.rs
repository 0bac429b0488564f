//! PostgreSQL's end of the change feed: one connection per instance (application name
//! `thetasecure-change-feed`) listens on its schema's channel and hands each change to
//! the app. It re-establishes itself after any failure, with backoff, and proves the
//! connection alive every `HEARTBEAT` when nothing arrives, so a silently broken network
//! is noticed too. Whenever it (re)starts listening it says so first: changes may have
//! been missed meanwhile, and what they would have invalidated must go.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio::sync::mpsc;

use super::Change;

/// What a test looks for in `pg_stat_activity` to cut the feed.
pub const APPLICATION_NAME: &str = "thetasecure-change-feed";

/// With nothing received for this long, the connection is asked to answer.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// How long it has to answer, or to connect, before it counts as lost.
const ANSWER_WITHIN: Duration = Duration::from_secs(3);
const BACKOFF_FIRST: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// What the feed reports, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedEvent {
    /// Listening (again): what changed before may have been missed.
    Listening,
    /// The connection was lost; until `Listening`, changes are not seen.
    Interrupted,
    Change(Change),
    /// A change this build cannot read (a newer instance's): treat everything as changed.
    Unreadable,
}

/// The changes of every instance sharing the database, this one's included; the
/// listener stops when this is dropped.
pub struct ChangeFeed {
    events: mpsc::Receiver<FeedEvent>,
}

impl ChangeFeed {
    /// The next event; `None` once the listener has stopped.
    pub async fn next(&mut self) -> Option<FeedEvent> {
        self.events.recv().await
    }
}

/// Starts listening on `channel` over a connection of its own made with `options`.
pub(crate) fn start(options: &PgConnectOptions, channel: Arc<str>) -> ChangeFeed {
    let (sender, events) = mpsc::channel(1024);
    let options = options.clone().application_name(APPLICATION_NAME);
    tokio::spawn(listen(options, channel, sender));
    ChangeFeed { events }
}

async fn listen(options: PgConnectOptions, channel: Arc<str>, events: mpsc::Sender<FeedEvent>) {
    let mut backoff = BACKOFF_FIRST;
    loop {
        let mut listening = false;
        let outcome = tokio::select! {
            () = events.closed() => return,
            outcome = listen_once(&options, &channel, &events, &mut listening) => outcome,
        };
        if listening {
            backoff = BACKOFF_FIRST;
            if events.send(FeedEvent::Interrupted).await.is_err() {
                return;
            }
        }
        match outcome {
            Ok(()) => return, // the app stopped listening
            Err(error) => tracing::warn!(
                error = %thetasecure_core::ErrorChain(&error),
                retry_in_ms = backoff.as_millis(),
                "the change feed is interrupted; caches fall back to their horizon"
            ),
        }
        tokio::select! {
            () = events.closed() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// Listens until the connection fails (`Err`) or the app stops listening (`Ok`).
async fn listen_once(
    options: &PgConnectOptions,
    channel: &str,
    events: &mpsc::Sender<FeedEvent>,
    listening: &mut bool,
) -> Result<(), sqlx::Error> {
    // A pool of one, for `PgListener`; made anew for each attempt, so nothing of a
    // broken connection is reused.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(ANSWER_WITHIN)
        .connect_with(options.clone())
        .await?;
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.ignore_pool_close_event(true);
    listener.eager_reconnect(false);
    tokio::time::timeout(ANSWER_WITHIN, listener.listen(channel))
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)??;
    *listening = true;
    tracing::info!(channel, "listening for changes made by other instances");
    if events.send(FeedEvent::Listening).await.is_err() {
        return Ok(());
    }
    // The heartbeat repeats the LISTEN (a no-op when listening already), so the
    // connection's last statement keeps naming the channel, and a test can tell its
    // own instance's listener from others in `pg_stat_activity`.
    let heartbeat = format!(r#"LISTEN "{channel}""#);
    loop {
        let event = match tokio::time::timeout(HEARTBEAT, listener.try_recv()).await {
            Ok(Ok(Some(notification))) => match Change::decode(notification.payload()) {
                Some(change) => FeedEvent::Change(change),
                None => FeedEvent::Unreadable,
            },
            Ok(Ok(None)) => return Err(sqlx::Error::WorkerCrashed),
            Ok(Err(error)) => return Err(error),
            Err(_quiet) => {
                let probe = sqlx::query(sqlx::AssertSqlSafe(heartbeat.clone()));
                tokio::time::timeout(ANSWER_WITHIN, probe.execute(&mut listener))
                    .await
                    .map_err(|_| sqlx::Error::PoolTimedOut)??;
                continue;
            }
        };
        if events.send(event).await.is_err() {
            return Ok(());
        }
    }
}
