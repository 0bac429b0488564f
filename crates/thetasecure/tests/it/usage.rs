//! Client usage (#14 item 5): tokens issued per client per UTC day and the last
//! authentication, counted in memory on the token path, written by the periodic flush
//! in one batch, read through `GET /api/v1/clients/{id}/usage`.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use thetasecure_core::usage::UtcDay;

use crate::authorization_code::{Browser, DESKTOP, code_for_admin, redeem, token};
use crate::support::*;

async fn usage(server: &Api, client_id: &str) -> Value {
    let path = format!("/api/v1/clients/{client_id}/usage");
    let (status, usage) = server.admin(Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{usage}");
    assert_eq!(usage["days"].as_array().unwrap().len(), 30, "{usage}");
    usage
}

/// Tokens issued on the window's last `n` days, oldest first; today last.
fn last_days(usage: &Value, n: usize) -> Vec<u64> {
    let days = usage["days"].as_array().unwrap();
    days[days.len() - n..]
        .iter()
        .map(|day| day["tokens_issued"].as_u64().unwrap())
        .collect()
}

both_engines! {
    async fn tokens_are_counted_per_day_and_written_in_batches(server: TestApp) {
        let (id, secret) = server.machine_client("Nightly export", "directory.read").await;
        let before = usage(&server, &id).await;
        assert_eq!(before["last_authenticated_at"], Value::Null);
        assert_eq!(before["tokens_issued_total"], 0);
        let today = UtcDay::of(server.now());
        assert_eq!(before["days"][29]["day"], today.to_iso_date().as_str());
        assert_eq!(before["days"][0]["day"], today.minus(29).to_iso_date().as_str());

        const N: u64 = 7;
        for _ in 0..N {
            server.token(&id, &secret).await;
        }
        // This instance shows what it noted before any flush.
        let noted = usage(&server, &id).await;
        assert_eq!(last_days(&noted, 2), [0, N]);
        assert_eq!(noted["last_authenticated_at"], server.now().to_rfc3339().as_str());

        // Written by the flush, and so seen by another instance, which noted nothing.
        server.flush_notes().await;
        let other = server.second_instance().await;
        let written = usage(&other, &id).await;
        assert_eq!(last_days(&written, 2), [0, N]);
        assert_eq!(written["tokens_issued_total"], N);
        assert_eq!(written["last_authenticated_at"], server.now().to_rfc3339().as_str());

        // Introspection authenticates the client too, without a token issued.
        server.advance_seconds(60);
        let admin_token = server.admin_token().await;
        server.introspect((&id, &secret), &admin_token).await;
        let introspected = usage(&server, &id).await;
        assert_eq!(last_days(&introspected, 1), [N]);
        assert_eq!(introspected["last_authenticated_at"], server.now().to_rfc3339().as_str());
        // The next day: today's count starts again, yesterday's moves left.
        server.advance_seconds(86_400);
        server.token(&id, &secret).await;
        server.flush_notes().await;
        let next_day = usage(&other, &id).await;
        assert_eq!(last_days(&next_day, 3), [0, N, 1]);
        assert_eq!(next_day["tokens_issued_total"], N + 1);
        assert_eq!(next_day["last_authenticated_at"], server.now().to_rfc3339().as_str());

        // An unknown client is a 404 with the API's error body.
        let (status, body) = server
            .admin(Method::GET, "/api/v1/clients/ts_unknownclient000000000000/usage", None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"], "not_found");
        assert_eq!(body["error_description"], "client not found");

        // Deleting the client deletes its usage, written or still noted.
        server.token(&id, &secret).await;
        let (status, _) = server.admin(Method::DELETE, &format!("/api/v1/clients/{id}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        server.flush_notes().await;
        let (status, _) = other.admin(Method::GET, &format!("/api/v1/clients/{id}/usage"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    async fn an_authentication_without_a_token_is_a_day_with_none(server: TestApp) {
        let (id, secret) = server.machine_client("Resource server", "directory.read").await;
        let admin_token = server.admin_token().await;
        server.introspect((&id, &secret), &admin_token).await;
        server.flush_notes().await;
        let other = server.second_instance().await;
        let shown = usage(&other, &id).await;
        assert_eq!(shown["tokens_issued_total"], 0);
        assert_eq!(shown["last_authenticated_at"], server.now().to_rfc3339().as_str());
    }

    async fn a_public_clients_tokens_count_as_its_authentications(server: TestApp) {
        let mut browser = Browser::new(&server);
        let code = code_for_admin(&server, &mut browser).await;
        let (status, tokens) = redeem(&server, &code).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        server.advance_seconds(5);
        let refresh = tokens["refresh_token"].as_str().unwrap();
        let (status, refreshed) = token(&server, &[
            ("grant_type", "refresh_token"), ("refresh_token", refresh), ("client_id", DESKTOP),
        ]).await;
        assert_eq!(status, StatusCode::OK, "{refreshed}");
        let shown = usage(&server, DESKTOP).await;
        assert_eq!(last_days(&shown, 1), [2]);
        assert_eq!(shown["last_authenticated_at"], server.now().to_rfc3339().as_str());
    }
}
