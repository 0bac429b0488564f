//! A PostgreSQL outage (issue 11.2): while the database cannot be reached, every request
//! is answered within 5 s — `/readyz` 503 within 1 s, the admin API 503 with
//! `Retry-After` and an RFC-style body, tokens from the caches where they can be — and
//! once it is back, everything recovers without a restart. The server reaches
//! PostgreSQL through a TCP proxy the test controls, which can act as a stopped
//! database (connections closed, new ones refused) or as a broken network (nothing
//! forwarded, nothing closed).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::support::*;

const OPEN: u8 = 0;
/// A stopped server: nothing listens (connecting is refused) and open connections close.
const STOPPED: u8 = 1;
/// A broken network: connections stay open, but nothing gets through either way.
const PARTITIONED: u8 = 2;

/// A TCP proxy in front of PostgreSQL.
struct PgProxy {
    addr: SocketAddr,
    mode: Arc<AtomicU8>,
    /// Bumped on every mode change, so the listener and live connections re-check the
    /// mode. Dropping it ends them all.
    changes: watch::Sender<u64>,
}

impl PgProxy {
    async fn start(upstream: SocketAddr) -> PgProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mode = Arc::new(AtomicU8::new(OPEN));
        let (changes, _) = watch::channel(0);
        tokio::spawn(listen(
            listener,
            upstream,
            mode.clone(),
            changes.subscribe(),
        ));
        PgProxy {
            addr,
            mode,
            changes,
        }
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
        self.changes.send_modify(|n| *n += 1);
    }
}

/// Accepts while open or partitioned; while stopped, closes the listening socket and
/// binds the same address again when the database "returns".
async fn listen(
    listener: TcpListener,
    upstream: SocketAddr,
    mode: Arc<AtomicU8>,
    mut changed: watch::Receiver<u64>,
) {
    let addr = listener.local_addr().unwrap();
    let mut listener = Some(listener);
    loop {
        let Some(open) = &listener else {
            if changed.changed().await.is_err() {
                return;
            }
            if mode.load(Ordering::SeqCst) != STOPPED {
                listener = Some(TcpListener::bind(addr).await.unwrap());
            }
            continue;
        };
        tokio::select! {
            accepted = open.accept() => {
                if let Ok((client, _)) = accepted {
                    tokio::spawn(pipe(client, upstream, mode.clone(), changed.clone()));
                }
            }
            result = changed.changed() => {
                if result.is_err() {
                    return;
                }
                if mode.load(Ordering::SeqCst) == STOPPED {
                    listener = None;
                }
            }
        }
    }
}

/// One connection through the proxy. Any mode change ends forwarding: a stop or a
/// return closes the connection (the server sees it drop), a partition holds it open,
/// silent, until the next change.
async fn pipe(
    mut client: TcpStream,
    upstream: SocketAddr,
    mode: Arc<AtomicU8>,
    mut changed: watch::Receiver<u64>,
) {
    if mode.load(Ordering::SeqCst) == PARTITIONED {
        let _ = changed.changed().await;
        return;
    }
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => return,
        _ = changed.changed() => {}
    }
    if mode.load(Ordering::SeqCst) == PARTITIONED {
        let _ = changed.changed().await;
    }
}

/// The PostgreSQL address in `THETASECURE_TEST_DATABASE_URL` (host:port after the `@`).
fn upstream_of(url: &str) -> SocketAddr {
    let authority = url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split(['/', '?']).next())
        .unwrap();
    let host_port = authority.rsplit('@').next().unwrap();
    let host_port = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    };
    std::net::ToSocketAddrs::to_socket_addrs(&host_port.replace("localhost", "127.0.0.1"))
        .unwrap()
        .next()
        .unwrap()
}

/// The request, and how long its answer took.
async fn timed(request: reqwest::RequestBuilder) -> (Response, Duration) {
    let started = Instant::now();
    let response = request.send().await.expect("an answer");
    (response, started.elapsed())
}

async fn assert_unavailable(what: &str, response: Response, took: Duration) {
    assert!(took < Duration::from_secs(5), "{what} took {took:?}");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{what}");
    assert!(
        response.headers().contains_key("retry-after"),
        "{what}: no Retry-After"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable", "{what}: {body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{what}: {body}"
    );
}

/// Each outage on a server of its own, so the two run side by side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_answer_within_5_s_while_postgresql_is_stopped_and_recover() {
    unreachable_and_back(STOPPED, "stopped").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_answer_within_5_s_while_the_network_is_partitioned_and_recover() {
    unreachable_and_back(PARTITIONED, "partitioned").await;
}

async fn unreachable_and_back(mode: u8, name: &str) {
    let Some(place) = Place::new(Engine::Postgres).await else {
        return;
    };
    let proxy = PgProxy::start(upstream_of(place.database.url())).await;
    let through_proxy = place.database.url().replacen(
        &upstream_of(place.database.url()).to_string(),
        &proxy.addr.to_string(),
        1,
    );
    assert_ne!(
        through_proxy,
        place.database.url(),
        "the URL names the proxy"
    );
    let server = TestServer::start_with(
        Arc::new(place),
        true,
        &[("THETASECURE_DATABASE_URL", &through_proxy)],
    )
    .await;

    let admin = server.admin_token().await;
    let (client_id, secret) = server.machine_client("Outage", "directory.read").await;
    let token = server.token(&client_id, &secret).await;
    let created_before = clients_named(&server, &admin, "During outage").await;
    assert_eq!(created_before, 0);

    server.token(&client_id, &secret).await;
    proxy.set(mode);

    let (ready, took) = timed(server.http.get(server.url("/readyz"))).await;
    eprintln!("{name}: /readyz {} in {took:?}", ready.status());
    assert!(
        took < Duration::from_secs(1),
        "{name}: /readyz took {took:?}"
    );
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE, "{name}");

    // Past the caches' one-second horizon, so the admin token's client is read again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // All at once, as callers arrive during an outage; each is timed on its own.
    let read = server
        .http
        .get(server.url("/api/v1/clients"))
        .bearer_auth(&admin);
    let write = server
        .http
        .post(server.url("/api/v1/clients"))
        .bearer_auth(&admin)
        .json(&json!({"client_name": "During outage", "grant_types": ["client_credentials"], "scope": "directory.read"}));
    let token_request = server
        .http
        .post(server.url("/oauth2/token"))
        .basic_auth(&client_id, Some(&secret))
        .form(&[("grant_type", "client_credentials")]);
    let introspection = server
        .http
        .post(server.url("/oauth2/introspect"))
        .basic_auth("ts_admin_client", Some(ADMIN_SECRET))
        .form(&[("token", &token)]);
    let (read, write, token_answer, introspected) = tokio::join!(
        timed(read),
        timed(write),
        timed(token_request),
        timed(introspection)
    );

    for (what, (response, took)) in [("admin read", read), ("admin write", write)] {
        eprintln!("{name}: {what} {} in {took:?}", response.status());
        assert_unavailable(&format!("{name}: {what}"), response, took).await;
    }
    // Token and introspection: from the caches where they can, else 503, in time.
    for (what, (response, took)) in [("token", token_answer), ("introspection", introspected)] {
        eprintln!("{name}: {what} {} in {took:?}", response.status());
        assert!(
            took < Duration::from_secs(5),
            "{name}: {what} took {took:?}"
        );
        if response.status() != StatusCode::OK {
            assert_unavailable(&format!("{name}: {what}"), response, took).await;
        }
    }

    proxy.set(OPEN);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let status = server
            .http
            .get(server.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status();
        if status == StatusCode::OK {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{name}: not ready again after the database returned"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Back without a restart: reads, writes and tokens go to the database again.
    assert_eq!(
        clients_named(&server, &admin, "During outage").await,
        0,
        "{name}: the refused write left nothing"
    );
    let (created_id, created_secret) = server
        .machine_client(&format!("After {name}"), "directory.read")
        .await;
    server.token(&created_id, &created_secret).await;
    let introspected = server
        .introspect(("ts_admin_client", ADMIN_SECRET), &token)
        .await;
    assert_eq!(introspected["active"], true, "{name}");
}

async fn clients_named(server: &TestServer, admin: &str, name: &str) -> usize {
    let response = server
        .http
        .request(Method::GET, server.url("/api/v1/clients"))
        .query(&[("search", name), ("limit", "100")])
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let page: Value = response.json().await.unwrap();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|client| client["client_name"] == name)
        .count()
}
