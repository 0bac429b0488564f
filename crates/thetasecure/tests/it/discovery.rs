use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::Value;
use thetasecure_app::SigningAlg;

use crate::support::*;

both_engines! {
    async fn metadata_lists_only_what_is_implemented(server: TestApp) {
        for path in ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"] {
            let response = server.http.get(server.url(path)).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let metadata: Value = response.json().await.unwrap();
            assert_eq!(metadata["issuer"], "http://127.0.0.1:8080");
            assert_eq!(metadata["token_endpoint"], "http://127.0.0.1:8080/oauth2/token");
            assert_eq!(metadata["jwks_uri"], "http://127.0.0.1:8080/oauth2/jwks");
            assert_eq!(metadata["introspection_endpoint"], "http://127.0.0.1:8080/oauth2/introspect");
            assert_eq!(metadata["revocation_endpoint"], "http://127.0.0.1:8080/oauth2/revoke");
            assert_eq!(metadata["grant_types_supported"], serde_json::json!(["authorization_code", "client_credentials", "refresh_token"]));
            assert_eq!(metadata["authorization_endpoint"], "http://127.0.0.1:8080/oauth2/authorize");
            assert_eq!(metadata["response_types_supported"], serde_json::json!(["code"]));
            assert_eq!(metadata["code_challenge_methods_supported"], serde_json::json!(["S256"]));
            assert_eq!(metadata["authorization_response_iss_parameter_supported"], true);
            // Public clients authenticate with `none`, at the token endpoint only.
            assert_eq!(metadata["token_endpoint_auth_methods_supported"], serde_json::json!(["client_secret_basic", "client_secret_post", "none"]));
            assert_eq!(metadata["introspection_endpoint_auth_methods_supported"], serde_json::json!(["client_secret_basic", "client_secret_post"]));
            assert!(!metadata.to_string().contains("implicit"));
            let scopes = metadata["scopes_supported"].as_array().unwrap();
            assert!(scopes.iter().any(|s| s == "admin"));
        }
        // Live: a new scope appears at once.
        let (status, _) = server.admin(reqwest::Method::POST, "/api/v1/scopes", Some(serde_json::json!({"name": "reports.read"}))).await;
        assert_eq!(status, StatusCode::CREATED);
        let metadata: Value = server.http.get(server.url("/.well-known/oauth-authorization-server")).send().await.unwrap().json().await.unwrap();
        assert!(metadata["scopes_supported"].as_array().unwrap().iter().any(|s| s == "reports.read"));

        let jwks = server.jwks().await;
        let keys = jwks["keys"].as_array().unwrap();
        // Access tokens' key (ES256), then ID tokens' (RS256).
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0]["kty"], "EC");
        assert_eq!(keys[0]["crv"], "P-256");
        assert_eq!(keys[0]["alg"], "ES256");
        assert_eq!(keys[1]["kty"], "RSA");
        assert_eq!(keys[1]["alg"], "RS256");
        for key in keys {
            assert_eq!(key["use"], "sig");
            for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
                assert!(key.get(private).is_none(), "{private}");
            }
        }
    }

    async fn signing_key_rotation_keeps_old_tokens_verifiable(server: TestServer) {
        let old = server.admin_token().await;
        let place = server.place.clone();
        drop(server);
        let (ok, stdout, stderr) = cli(&place, &["keys", "rotate"]);
        assert!(ok, "{stdout}{stderr}");
        let server = TestServer::start_on(place, true).await;
        let jwks = server.jwks().await;
        // Both algorithms' keys were rotated; the old ones stay published.
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 4);
        // The old token still verifies; new ones use the new key.
        assert_eq!(server.introspect(("ts_admin_client", ADMIN_SECRET), &old).await["active"], true);
        let new = server.admin_token().await;
        let kid = |token: &str| jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
        assert_ne!(kid(&old), kid(&new));
        assert!(stdout.contains(&kid(&new)));
    }
}

#[tokio::test]
async fn openapi_document_covers_the_admin_api() {
    let Some(server) = TestApp::start(Engine::Sqlite).await else {
        return;
    };
    let document = server.openapi_document().await;
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = document["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/api/v1/clients", &["get", "post"][..]),
        ("/api/v1/clients/{client_id}", &["get", "patch", "delete"]),
        ("/api/v1/clients/{client_id}/secrets", &["get", "post"]),
        (
            "/api/v1/clients/{client_id}/secrets/{secret_id}",
            &["delete"],
        ),
        ("/api/v1/clients/{client_id}/revoke-tokens", &["post"]),
        ("/api/v1/scopes", &["get", "post"]),
        ("/api/v1/scopes/{name}", &["get", "patch", "delete"]),
        ("/api/v1/audit-events", &["get"]),
    ] {
        for method in methods {
            assert!(
                paths[path].get(*method).is_some(),
                "{method} {path} missing"
            );
        }
    }
    assert!(
        document["components"]["schemas"]
            .get("ClientView")
            .is_some()
    );
}

both_engines! {
    async fn a_key_rotated_elsewhere_is_picked_up_without_restart(server: TestServer) {
        let place = server.place.clone();
        let (ok, stdout, stderr) = cli(&place, &["keys", "rotate"]);
        assert!(ok, "{stdout}{stderr}");
        // A second instance on the same store starts with the new key and signs with it.
        let second = TestServer::start_on(place, true).await;
        let token = second.admin_token().await;
        // The first instance has not loaded that key yet; meeting its kid makes it reload.
        assert_eq!(server.introspect(("ts_admin_client", ADMIN_SECRET), &token).await["active"], true);
        let jwks = server.jwks().await;
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 4);
    }
}

/// The in-process app is assembled by hand (`support::in_process`); this holds it to what
/// the binary serves when configured alike: the same discovery documents and OpenAPI
/// document, the same kind of signing key, the same token lifetime.
async fn serves_what_the_binary_serves(signing_alg: Option<(&str, SigningAlg)>) {
    let Some(place) = Place::new(Engine::Sqlite).await else {
        return;
    };
    let mut in_process = TestApp::builder(Engine::Sqlite);
    let mut variables = Vec::new();
    if let Some((variable, alg)) = signing_alg {
        variables.push(("THETASECURE_SIGNING_ALG", variable));
        in_process = in_process.signing_alg(alg);
    }
    let binary = TestServer::start_with(Arc::new(place), true, &variables).await;
    let in_process = in_process.start().await.unwrap();
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/api/v1/openapi.json",
    ] {
        assert_eq!(
            binary.get_json(path).await,
            in_process.get_json(path).await,
            "{path}"
        );
    }
    let key_shape = |mut jwks: Value| {
        for key in jwks["keys"].as_array_mut().unwrap() {
            for material in ["kid", "x", "y", "n", "e"] {
                key.as_object_mut().unwrap().remove(material);
            }
        }
        jwks
    };
    let binary_keys = key_shape(binary.jwks().await);
    assert_eq!(binary_keys, key_shape(in_process.jwks().await));
    let expected_alg = signing_alg.map_or("ES256", |(variable, _)| variable);
    assert_eq!(binary_keys["keys"][0]["alg"], expected_alg, "{binary_keys}");
    assert_eq!(
        token_lifetime(&binary).await,
        token_lifetime(&in_process).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_process_app_serves_what_the_binary_serves() {
    serves_what_the_binary_serves(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_process_app_serves_what_the_binary_serves_with_rs256() {
    serves_what_the_binary_serves(Some(("RS256", SigningAlg::Rs256))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_process_app_serves_what_the_binary_serves_with_eddsa() {
    serves_what_the_binary_serves(Some(("EdDSA", SigningAlg::EdDsa))).await;
}

async fn token_lifetime(server: &Api) -> Value {
    let response = server
        .token_response("ts_admin_client", ADMIN_SECRET, None)
        .await;
    response.json::<Value>().await.unwrap()["expires_in"].clone()
}
