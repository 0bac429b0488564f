//! Refresh-token lifetimes and the reuse grace window (SPEC 5, SECURITY F4/F8), through
//! the token and introspection endpoints with the app's clock moved by the case.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::authorization_code::{Browser, DESKTOP, active, code_for_admin, redeem, token};
use crate::support::*;

const DAY: i64 = 24 * 3600;
const MOBILE: &str = "thetasecure-mobile-app";

/// A refresh of `refresh_token` by the public client `client_id`.
pub(crate) async fn refresh_as(
    server: &Api,
    client_id: &str,
    refresh_token: &str,
) -> (StatusCode, Value) {
    token(
        server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", client_id),
        ],
    )
    .await
}

async fn refresh(server: &TestApp, refresh_token: &str) -> (StatusCode, Value) {
    refresh_as(server, DESKTOP, refresh_token).await
}

/// The desktop agent's first pair for the admin user: (access token, refresh token).
async fn first_pair(server: &TestApp) -> (String, String) {
    let mut browser = Browser::new(server);
    let code = code_for_admin(server, &mut browser).await;
    let (status, tokens) = redeem(server, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    pair(&tokens)
}

fn pair(tokens: &Value) -> (String, String) {
    (
        tokens["access_token"].as_str().unwrap().to_owned(),
        tokens["refresh_token"].as_str().unwrap().to_owned(),
    )
}

/// A refresh that must succeed; the new pair.
async fn rotated(server: &TestApp, refresh_token: &str) -> (String, String) {
    let (status, tokens) = refresh(server, refresh_token).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    pair(&tokens)
}

async fn refused(server: &TestApp, refresh_token: &str) {
    let (status, body) = refresh(server, refresh_token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{body}"
    );
}

async fn audit_actions(server: &TestApp) -> Vec<String> {
    let (status, events) = server
        .admin(Method::GET, "/api/v1/audit-events?limit=200", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["action"].as_str().unwrap().to_owned())
        .collect()
}

async fn count(server: &TestApp, action: &str) -> usize {
    audit_actions(server)
        .await
        .iter()
        .filter(|a| *a == action)
        .count()
}

/// Access tokens are cached for up to a second: wait that out before asking whether a
/// revocation reached one.
async fn after_the_cache_horizon() {
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
}

both_engines! {
    /// 30 days unused and a refresh token is dead; each use starts the 30 days again.
    async fn a_refresh_token_unused_for_the_idle_lifetime_is_dead(server: TestApp) {
        let start = server.now().unix_seconds();
        let (_, r1) = first_pair(&server).await;
        assert_eq!(active(&server, &r1).await["exp"], start + 30 * DAY);
        server.advance_seconds(29 * DAY);
        let (_, r2) = rotated(&server, &r1).await;
        assert_eq!(active(&server, &r2).await["exp"], start + 59 * DAY);
        server.advance_seconds(30 * DAY - 1);
        assert_eq!(active(&server, &r2).await["active"], true);
        server.advance_seconds(1);
        assert_eq!(active(&server, &r2).await["active"], false);
        refused(&server, &r2).await;
        // Expiry is not reuse: nothing was revoked or reported.
        assert_eq!(count(&server, "refresh_token.reused").await, 0);
    }

    /// However often it is rotated, a family ends 90 days after the sign-in.
    async fn a_family_ends_at_the_absolute_lifetime(server: TestApp) {
        let start = server.now().unix_seconds();
        let (_, mut current) = first_pair(&server).await;
        for _ in 0..3 {
            server.advance_seconds(29 * DAY);
            current = rotated(&server, &current).await.1;
        }
        // Day 87: the new token's idle expiry would be day 117; the family's end wins.
        assert_eq!(active(&server, &current).await["exp"], start + 90 * DAY);
        server.advance_seconds(3 * DAY - 1);
        let (_, last) = rotated(&server, &current).await;
        assert_eq!(active(&server, &last).await["exp"], start + 90 * DAY);
        server.advance_seconds(1);
        refused(&server, &last).await;
        assert_eq!(count(&server, "refresh_token.reused").await, 0);
    }

    /// With the default window of 0, presenting a rotated token at once is reuse.
    async fn without_a_grace_window_reuse_revokes_the_family(server: TestApp) {
        let (_, r1) = first_pair(&server).await;
        let (a2, r2) = rotated(&server, &r1).await;
        refused(&server, &r1).await;
        refused(&server, &r2).await;
        after_the_cache_horizon().await;
        assert_eq!(active(&server, &a2).await["active"], false);
        assert_eq!(count(&server, "refresh_token.reused").await, 1);
        assert_eq!(count(&server, "refresh_token.retried").await, 0);
    }

    /// A lost response: the client presents the rotated token again within the window,
    /// gets a fresh pair, and the pair issued moments before is retired. After the
    /// window the same is reuse.
    async fn a_retry_within_the_grace_window_replaces_the_pair_before(server: TestApp with |app| app.refresh_reuse_grace_seconds(10)) {
        let (_, r1) = first_pair(&server).await;
        let (a2, r2) = rotated(&server, &r1).await;
        server.advance_seconds(10);
        let (a3, r3) = rotated(&server, &r1).await;
        assert_ne!(r3, r2);
        // The pair before is retired: its refresh token dead (not reuse), its access
        // token revoked; the fresh pair lives.
        refused(&server, &r2).await;
        after_the_cache_horizon().await;
        assert_eq!(active(&server, &a2).await["active"], false);
        assert_eq!(active(&server, &a3).await["active"], true);
        assert_eq!(count(&server, "refresh_token.retried").await, 1);
        assert_eq!(count(&server, "refresh_token.reused").await, 0);

        // The window counts from the rotation, not from the retry.
        server.advance_seconds(1);
        refused(&server, &r1).await;
        assert_eq!(count(&server, "refresh_token.reused").await, 1);
        refused(&server, &r3).await;
        after_the_cache_horizon().await;
        assert_eq!(active(&server, &a3).await["active"], false);
    }

    /// A retry is forgiven only while the pair it replaces is unused, and only to the
    /// client the token was issued to.
    async fn a_used_successor_or_another_client_makes_it_reuse(server: TestApp with |app| app.refresh_reuse_grace_seconds(10)) {
        let (_, r1) = first_pair(&server).await;
        let (_, r2) = rotated(&server, &r1).await;
        let (a3, _) = rotated(&server, &r2).await;
        refused(&server, &r1).await;
        after_the_cache_horizon().await;
        assert_eq!(active(&server, &a3).await["active"], false);
        assert_eq!(count(&server, "refresh_token.reused").await, 1);

        let (_, r1) = first_pair(&server).await;
        let (a2, r2) = rotated(&server, &r1).await;
        let (status, body) = refresh_as(&server, MOBILE, &r1).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{body}");
        refused(&server, &r2).await;
        after_the_cache_horizon().await;
        assert_eq!(active(&server, &a2).await["active"], false);
        assert_eq!(count(&server, "refresh_token.reused").await, 2);
        assert_eq!(count(&server, "refresh_token.retried").await, 0);
    }

    /// Ten retries of one rotated token at once, split across two instances of one
    /// deployment: none is a 5xx, and of every pair handed out exactly one lives.
    async fn concurrent_retries_leave_one_live_pair(server: TestApp with |app| app.refresh_reuse_grace_seconds(10)) {
        let second = server.second_instance().await;
        let (_, r1) = first_pair(&server).await;
        let (_, r2) = rotated(&server, &r1).await;
        let form = [("grant_type", "refresh_token"), ("refresh_token", r1.as_str()), ("client_id", DESKTOP)];
        let requests = (0..10).map(|i| {
            let instance: &Api = if i % 2 == 0 { &server } else { &second };
            instance.http.post(instance.url("/oauth2/token")).form(&form).send()
        });
        let mut handed_out = vec![r2];
        for answer in futures::future::join_all(requests).await {
            let answer = answer.unwrap();
            let status = answer.status();
            let body: Value = answer.json().await.unwrap();
            match status {
                StatusCode::OK => handed_out.push(body["refresh_token"].as_str().unwrap().to_owned()),
                StatusCode::BAD_REQUEST => assert_eq!(body["error"], "invalid_grant", "{body}"),
                other => panic!("{other}: {body}"),
            }
        }
        assert!(handed_out.len() >= 2, "at least one retry succeeds");
        let mut live = Vec::new();
        for token in &handed_out {
            if active(&server, token).await["active"] == true {
                live.push(token.clone());
            }
        }
        assert_eq!(live.len(), 1, "{} handed out, live: {live:?}", handed_out.len());
        rotated(&server, &live[0]).await;
        assert_eq!(count(&server, "refresh_token.reused").await, 0);
    }
}
