//! An ambiguous JSON body — an object naming a member twice, which parsers read
//! differently — is refused on every JSON endpoint with 400 naming the member, and
//! changes nothing.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::*;

both_engines! {
    async fn a_repeated_member_is_refused_everywhere(server: TestApp) {
        let (id, _) = server.machine_client("Unambiguous", "directory.read").await;
        let (status, _) = server.admin(Method::POST, "/api/v1/scopes", Some(serde_json::json!({"name": "reports.read", "description": "Read reports"}))).await;
        assert_eq!(status, StatusCode::CREATED);
        let client_path = format!("/api/v1/clients/{id}");
        let (_, client_before) = server.admin(Method::GET, &client_path, None).await;
        let (_, scope_before) = server.admin(Method::GET, "/api/v1/scopes/reports.read", None).await;
        let (_, secrets_before) = server.admin(Method::GET, &format!("{client_path}/secrets"), None).await;
        let (_, clients_before) = server.admin(Method::GET, "/api/v1/clients?limit=200", None).await;

        let cases = [
            (Method::POST, "/api/v1/clients".to_owned(), r#"{"client_name":"a","client_name":"b","grant_types":["client_credentials"],"scope":"directory.read"}"#, "client_name"),
            (Method::PATCH, client_path.clone(), r#"{"description":"one","description":"two"}"#, "description"),
            (Method::PATCH, client_path.clone(), r#"{"client_name":"x","nested":{"k":1,"k":2}}"#, "k"),
            (Method::POST, format!("{client_path}/secrets"), r#"{"grace_period_seconds":0,"grace_period_seconds":3600}"#, "grace_period_seconds"),
            (Method::POST, "/api/v1/scopes".to_owned(), r#"{"name":"a.b","description":"x","name":"c.d"}"#, "name"),
            (Method::PATCH, "/api/v1/scopes/reports.read".to_owned(), r#"{"description":"x","description":"y"}"#, "description"),
        ];
        let token = server.admin_token().await;
        for (method, path, body, member) in cases {
            let response = server.http.request(method.clone(), server.url(&path)).bearer_auth(&token).header("content-type", "application/json").body(body).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{method} {path} {body}");
            let error: Value = response.json().await.unwrap();
            assert_eq!(error["error"], "invalid_request", "{error}");
            let description = error["error_description"].as_str().unwrap();
            assert!(description.contains(&format!("`{member}`")), "{method} {path}: `{description}` does not name {member}");
        }

        let (_, client_after) = server.admin(Method::GET, &client_path, None).await;
        assert_eq!(client_before, client_after);
        let (_, scope_after) = server.admin(Method::GET, "/api/v1/scopes/reports.read", None).await;
        assert_eq!(scope_before, scope_after);
        let (_, secrets_after) = server.admin(Method::GET, &format!("{client_path}/secrets"), None).await;
        assert_eq!(secrets_before["items"].as_array().unwrap().len(), secrets_after["items"].as_array().unwrap().len());
        let (_, clients_after) = server.admin(Method::GET, "/api/v1/clients?limit=200", None).await;
        assert_eq!(clients_before["items"], clients_after["items"]);
    }
}
