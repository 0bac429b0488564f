//! `--trusted-proxies`: behind a trusted proxy the sign-in and client-authentication
//! limits count the client its `X-Forwarded-For` names; from anyone else the header is
//! ignored, so a caller cannot pick a fresh address for every guess.

use reqwest::StatusCode;

use crate::authorization_code::{Browser, DESKTOP, authorize_path};
use crate::support::*;

/// The test's requests come from 127.0.0.1: trusting it makes this the proxy.
fn behind_a_proxy(app: TestAppBuilder) -> TestAppBuilder {
    app.trusted_proxies(&["127.0.0.1/32", "10.0.0.0/8"])
}

/// A wrong secret for `client_id`, as from `address`.
async fn guess(server: &TestApp, client_id: &str, address: &str) -> StatusCode {
    server
        .http
        .post(server.url("/oauth2/token"))
        .header("x-forwarded-for", address)
        .basic_auth(client_id, Some("tss_guess"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .status()
}

/// Wrong secrets for `client_id` from `address` until the throttle answers: its status
/// after one more guess than the limit.
async fn guess_secrets(server: &TestApp, client_id: &str, address: &str) -> StatusCode {
    for _ in 0..thetasecure_app::throttle::MAX_FAILURES {
        guess(server, client_id, address).await;
    }
    guess(server, client_id, address).await
}

both_engines! {
    async fn client_authentication_counts_the_forwarded_client(server: TestApp with behind_a_proxy) {
        let (id, _) = server.machine_client("Proxied", "directory.read").await;
        // The proxy appends what it saw; what the client wrote before that is not believed.
        assert_eq!(
            guess_secrets(&server, &id, "203.0.113.1").await,
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(
            guess(&server, &id, "203.0.113.1, 10.0.0.7").await,
            StatusCode::TOO_MANY_REQUESTS,
            "a trusted inner hop leads back to the same client"
        );
        assert_eq!(
            guess(&server, &id, "203.0.113.1, 203.0.113.2").await,
            StatusCode::UNAUTHORIZED,
            "another client behind the proxy is not locked out, whatever it wrote first"
        );
    }

    /// Without `--trusted-proxies` the header changes nothing: the peer is locked out.
    async fn an_untrusted_peer_cannot_choose_its_address(server: TestApp) {
        let (id, _) = server.machine_client("Direct", "directory.read").await;
        assert_eq!(guess_secrets(&server, &id, "203.0.113.1").await, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            guess(&server, &id, "203.0.113.2").await,
            StatusCode::TOO_MANY_REQUESTS,
            "a new forwarded address is the same peer"
        );
    }

    /// Failed sign-ins from one forwarded address, spread over two instances and many
    /// usernames, reach the per-address limit; the same proxy's other clients sign in.
    async fn sign_in_failures_count_per_forwarded_address(server: TestApp with behind_a_proxy) {
        let second = server.second_instance().await;
        let limit = thetasecure_app::sign_in::MAX_FAILURES_PER_ADDRESS;
        let (mut first, mut other) = (
            Browser::forwarded_for(&server, "203.0.113.1"),
            Browser::forwarded_for(&second, "203.0.113.1"),
        );
        for attempt in 0..limit {
            let browser = if attempt % 2 == 0 {
                &mut first
            } else {
                &mut other
            };
            let refused = browser
                .sign_in("/login", &format!("user{attempt}"), "a wrong password")
                .await;
            assert_eq!(
                refused.status,
                StatusCode::UNAUTHORIZED,
                "attempt {attempt}"
            );
        }
        let start = first.get(&authorize_path(DESKTOP, &[])).await.location();
        let locked = first.sign_in(&start, "admin", ADMIN_PASSWORD).await;
        assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);

        let mut elsewhere = Browser::forwarded_for(&second, "203.0.113.2");
        let start = elsewhere
            .get(&authorize_path(DESKTOP, &[]))
            .await
            .location();
        let signed_in = elsewhere.sign_in(&start, "admin", ADMIN_PASSWORD).await;
        assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    }
}
