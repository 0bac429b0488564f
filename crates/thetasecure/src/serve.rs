//! `thetasecure serve`: open and migrate the store, provision it on first start, load the
//! keys, then serve until SIGTERM or Ctrl-C, letting in-flight requests finish.

use std::time::Duration;

use anyhow::{Context, Result};
use thetasecure_app::App;
use thetasecure_web::{HttpRouter, Metrics};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::commands::open_app;
use crate::config::Config;

/// How often what the token path noted in memory (secrets' last use, clients' usage) is
/// written: the most an admin's view of another instance's traffic lags behind.
const NOTES_FLUSH_INTERVAL: Duration = Duration::from_secs(30);
const PURGE_INTERVAL: Duration = Duration::from_secs(3600);
/// How soon a key rotated elsewhere (another instance, the CLI) signs here and is published.
const KEY_RELOAD_INTERVAL: Duration = Duration::from_secs(60);
/// How often buffered latency samples are folded into their histograms, bounding the
/// memory they take between scrapes.
const METRICS_UPKEEP_INTERVAL: Duration = Duration::from_secs(5);
/// mimalloc keeps freed memory for a second before it may be returned.
const MEMORY_RELEASE_INTERVAL: Duration = Duration::from_secs(1);

pub async fn serve(mut config: Config) -> Result<()> {
    let app = open_app(&mut config).await?;
    let metrics = Metrics::install().context("installing the metrics recorder")?;
    let (stop_tx, stop_rx) = watch::channel(false);

    let main_listener = bind(&config.listen).await?;
    let admin_listener = match &config.admin_listen {
        Some(address) => Some(bind(address).await?),
        None => None,
    };
    let mut servers = Vec::new();
    let router = thetasecure_web::router(app.clone(), metrics.clone(), admin_listener.is_some());
    servers.push(tokio::spawn(run_listener(
        main_listener,
        router,
        stop_rx.clone(),
    )));
    if let Some(listener) = admin_listener {
        let router = thetasecure_web::admin_router(app.clone(), metrics.clone());
        servers.push(tokio::spawn(run_listener(
            listener,
            router,
            stop_rx.clone(),
        )));
    }
    let maintenance = tokio::spawn(maintenance(app.clone(), metrics, stop_rx));

    shutdown_signal().await;
    tracing::info!("shutting down: finishing in-flight requests");
    let _ = stop_tx.send(true);
    for server in servers {
        let _ = server.await;
    }
    let _ = maintenance.await;
    if let Err(error) = app.flush_notes().await {
        tracing::warn!(error = %thetasecure_core::ErrorChain(&error), "could not record secret use times and client usage at shutdown");
    }
    app.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn bind(address: &str) -> Result<TcpListener> {
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("listening on {address}"))?;
    let local = listener.local_addr().context("reading the bound address")?;
    // On stdout so scripts and tests started with port 0 can find the server.
    println!("thetasecure listening on http://{local}");
    tracing::info!(address = %local, "listening");
    Ok(listener)
}

async fn run_listener(listener: TcpListener, router: HttpRouter, mut stop: watch::Receiver<bool>) {
    let stopped = async move {
        let _ = stop.changed().await;
    };
    let served = thetasecure_web::serve(listener, router, stopped).await;
    if let Err(error) = served {
        tracing::error!(error = %thetasecure_core::ErrorChain(&error), "listener failed");
    }
}

/// mimalloc hands freed memory back to the OS only when a later free runs its purge, so
/// an idle server kept what a burst had freed: the 19 MiB of a password hash at
/// bootstrap or login stayed resident for good. Freeing one large block runs the purge
/// (a microsecond, once a second).
fn release_freed_memory() {
    const LARGE: usize = 1 << 20;
    drop(std::hint::black_box(Vec::<u8>::with_capacity(LARGE)));
}

/// Periodic work: write coalesced secret use times and client usage, pick up keys rotated elsewhere, purge
/// expired revocation records, fold latency samples into their histograms.
async fn maintenance(app: App, metrics: Metrics, mut stop: watch::Receiver<bool>) {
    let mut upkeep = tokio::time::interval(METRICS_UPKEEP_INTERVAL);
    let mut release = tokio::time::interval(MEMORY_RELEASE_INTERVAL);
    let mut flush = tokio::time::interval(NOTES_FLUSH_INTERVAL);
    let mut purge = tokio::time::interval(PURGE_INTERVAL);
    // The keys were just loaded at start: the first reload is one interval away.
    let mut keys = tokio::time::interval_at(
        tokio::time::Instant::now() + KEY_RELOAD_INTERVAL,
        KEY_RELOAD_INTERVAL,
    );
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = upkeep.tick() => metrics.run_upkeep(),
            _ = release.tick() => release_freed_memory(),
            _ = flush.tick() => {
                if let Err(error) = app.flush_notes().await {
                    tracing::warn!(error = %thetasecure_core::ErrorChain(&error), "could not record secret use times and client usage");
                }
            }
            _ = keys.tick() => {
                if let Err(error) = app.reload_signing_keys().await {
                    tracing::warn!(error = %thetasecure_core::ErrorChain(&error), "could not reload signing keys");
                }
            }
            _ = purge.tick() => {
                if let Err(error) = app.purge_expired_revocations().await {
                    tracing::warn!(error = %thetasecure_core::ErrorChain(&error), "could not purge expired revocations");
                }
            }
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
