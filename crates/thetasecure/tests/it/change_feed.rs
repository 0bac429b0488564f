//! Revocation is immediate on every instance (#13 item 8): two instances on one
//! PostgreSQL, whose caches are made to trust what they hold for an hour, so that only
//! the change feed's notification can make instance B drop what instance A changed.
//! B is asked right after A's response, for at most two seconds (delivery), never for
//! the horizon. On SQLite, which one process serves, the same cases show the revoking
//! instance itself dropping what it revoked at once.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::authorization_code::{Browser, DESKTOP, authorize_path, callback_query, redeem};
use crate::support::*;

const AN_HOUR: Duration = Duration::from_secs(3600);

/// How long a notification may take to arrive.
const DELIVERY: Duration = Duration::from_secs(2);

/// Instance B: a second instance on PostgreSQL, once both instances listen; on SQLite
/// the instance itself.
async fn observer(server: &TestApp) -> Option<TestApp> {
    match server.engine() {
        Engine::Postgres => {
            let second = server.second_instance().await;
            listeners_soon(server, 2, &[]).await;
            Some(second)
        }
        Engine::Sqlite => None,
    }
}

/// Waits until `count` listeners are connected to the case's schema, none of them one
/// of `gone`; returns their process ids.
async fn listeners_soon(server: &TestApp, count: usize, gone: &[i32]) -> Vec<i32> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let listening = server.database().change_feed_listeners().await;
        if listening.len() == count && listening.iter().all(|pid| !gone.contains(pid)) {
            return listening;
        }
        assert!(
            Instant::now() < deadline,
            "listeners: {listening:?}, expected {count} new ones"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn is_active(server: &TestApp, token: &str) -> bool {
    let seen = server
        .introspect(("ts_admin_client", ADMIN_SECRET), token)
        .await;
    seen["active"].as_bool().expect("`active` is a boolean")
}

/// Polls `server`'s introspection until `token` is inactive, for at most `DELIVERY`.
async fn inactive_soon(server: &TestApp, token: &str, what: &str) {
    let deadline = Instant::now() + DELIVERY;
    while is_active(server, token).await {
        assert!(
            Instant::now() < deadline,
            "{what}: still active on the other instance"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls `server`'s token endpoint until `client_id` is refused, for at most `DELIVERY`.
async fn refused_soon(server: &TestApp, client_id: &str, secret: &str) {
    let deadline = Instant::now() + DELIVERY;
    loop {
        let status = server
            .token_response(client_id, secret, None)
            .await
            .status();
        if status == StatusCode::UNAUTHORIZED {
            return;
        }
        assert_eq!(status, StatusCode::OK);
        assert!(
            Instant::now() < deadline,
            "{client_id}: still served tokens"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn revoke(server: &TestApp, caller: (&str, Option<&str>), token: &str) {
    let mut request = server.http.post(server.url("/oauth2/revoke"));
    let mut form = vec![("token", token)];
    match caller.1 {
        Some(secret) => request = request.basic_auth(caller.0, Some(secret)),
        None => form.push(("client_id", caller.0)),
    }
    let response = request.form(&form).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// Signs `username` in on `server` and redeems a code for the desktop agent with
/// `scope`: the tokens response.
async fn user_tokens(
    server: &TestApp,
    username: &str,
    password: &str,
    scope: &str,
) -> serde_json::Value {
    let mut browser = Browser::new(server);
    let start = browser
        .get(&authorize_path(DESKTOP, &[("scope", scope)]))
        .await;
    let signed_in = browser.sign_in(&start.location(), username, password).await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER, "signed in");
    let back = browser.get(&signed_in.location()).await;
    let code = callback_query(&back.location())["code"].clone();
    let (status, tokens) = redeem(server, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    tokens
}

both_engines! {
    async fn a_revoked_access_token_is_inactive_everywhere_at_once(server: TestApp with |app| app.cache_freshness(AN_HOUR)) {
        let second = observer(&server).await;
        let b = second.as_ref().unwrap_or(&server);
        let (client, secret) = server.machine_client("Fleet", "directory.read").await;
        let token = server.token(&client, &secret).await;
        let kept = server.token(&client, &secret).await;
        assert!(is_active(b, &token).await && is_active(b, &kept).await, "cached on B");
        revoke(&server, (&client, Some(&secret)), &token).await;
        inactive_soon(b, &token, "revoked access token").await;
        assert!(is_active(b, &kept).await, "only that token");
    }

    async fn a_revoked_refresh_family_takes_its_access_tokens_everywhere(server: TestApp with |app| app.cache_freshness(AN_HOUR)) {
        let second = observer(&server).await;
        let b = second.as_ref().unwrap_or(&server);
        let tokens = user_tokens(&server, "admin", ADMIN_PASSWORD, "openid offline_access").await;
        let (access, refresh) = (tokens["access_token"].as_str().unwrap(), tokens["refresh_token"].as_str().unwrap());
        assert!(is_active(b, access).await);
        revoke(&server, (DESKTOP, None), refresh).await;
        inactive_soon(b, access, "access token of a revoked family").await;
        assert!(!is_active(b, refresh).await);
    }

    async fn a_disabled_or_deleted_client_is_refused_everywhere(server: TestApp with |app| app.cache_freshness(AN_HOUR)) {
        let second = observer(&server).await;
        let b = second.as_ref().unwrap_or(&server);
        for change in ["disable", "delete"] {
            let (client, secret) = server.machine_client(change, "directory.read").await;
            let token = b.token(&client, &secret).await; // the client is cached on B
            assert!(is_active(b, &token).await);
            let path = format!("/api/v1/clients/{client}");
            let (status, body) = match change {
                "disable" => server.admin(Method::PATCH, &path, Some(json!({"status": "disabled"}))).await,
                _ => server.admin(Method::DELETE, &path, None).await,
            };
            assert!(status.is_success(), "{change}: {status} {body}");
            inactive_soon(b, &token, change).await;
            refused_soon(b, &client, &secret).await;
        }
    }

    /// Disabling a user revokes their access tokens, those issued without a refresh
    /// token too (recorded only with the code), and deleting one revokes them first.
    async fn a_disabled_or_deleted_users_tokens_are_inactive_everywhere(server: TestApp with |app| app.cache_freshness(AN_HOUR)) {
        let second = observer(&server).await;
        let b = second.as_ref().unwrap_or(&server);
        for change in ["disable", "delete"] {
            let password = "a long enough password";
            let (status, user) = server.admin(Method::POST, "/api/v1/users", Some(json!({"username": change, "password": password}))).await;
            assert_eq!(status, StatusCode::CREATED, "{user}");
            let with_refresh = user_tokens(&server, change, password, "openid offline_access").await;
            let without_refresh = user_tokens(&server, change, password, "openid").await;
            assert!(without_refresh.get("refresh_token").is_none(), "{without_refresh}");
            let tokens = [&with_refresh, &without_refresh].map(|t| t["access_token"].as_str().unwrap().to_owned());
            for token in &tokens {
                assert!(is_active(b, token).await);
            }
            let path = format!("/api/v1/users/{}", user["id"].as_str().unwrap());
            let (status, body) = match change {
                "disable" => server.admin(Method::PATCH, &path, Some(json!({"status": "disabled"}))).await,
                _ => server.admin(Method::DELETE, &path, None).await,
            };
            assert!(status.is_success(), "{change}: {status} {body}");
            for token in &tokens {
                inactive_soon(b, token, change).await;
            }
        }
    }

    /// The listeners' connections are killed: they come back by themselves, clear the
    /// token caches and read the client change log at once (a change made meanwhile was
    /// not announced), and later changes are announced again. Nothing to cut on SQLite.
    async fn the_feed_recovers_from_a_killed_connection(server: TestApp with |app| app.cache_freshness(AN_HOUR)) {
        let Some(b) = observer(&server).await else {
            return;
        };
        let listeners = listeners_soon(&server, 2, &[]).await;
        let metrics = b.http.get(b.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains("thetasecure_change_feed_listening"), "{metrics}");

        let (client, secret) = server.machine_client("Fleet", "directory.read").await;
        let token = server.token(&client, &secret).await;
        assert!(is_active(&b, &token).await);
        // Behind both instances' backs, as a lost notification would leave it: the
        // change and its row in the change log, which B reads when the feed is back
        // (its periodic read is half an hour away).
        server.database().execute_unannounced(&format!(
            "UPDATE clients SET status = 'disabled' WHERE client_id = '{client}';
             INSERT INTO client_changes (client_id, changed_at)
             VALUES ('{client}', CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT))"
        )).await;
        assert!(is_active(&b, &token).await, "B trusts its cache: nobody told it");

        assert_eq!(server.database().cut_change_feed().await, 2);
        listeners_soon(&server, 2, &listeners).await; // back by themselves
        inactive_soon(&b, &token, "a change missed while the feed was down").await;

        // Announced again: B caches a new token, A revokes it.
        let (client, secret) = server.machine_client("Later", "directory.read").await;
        let later = server.token(&client, &secret).await;
        assert!(is_active(&b, &later).await);
        revoke(&server, (&client, Some(&secret)), &later).await;
        inactive_soon(&b, &later, "revoked after the reconnection").await;
    }
}
