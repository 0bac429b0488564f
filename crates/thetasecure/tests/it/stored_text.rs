//! Which text the admin API stores (#11 items 3 and 4): a control character, a line
//! break in a single-line field, an over-long value or an ambiguous redirect URI is
//! refused with 400 naming the field on both engines, and nothing changes; every other
//! Unicode text is stored and read back exactly. Parameters that only reach queries (a
//! search term, a cursor, ids in paths) are checked the same way: 400, never a 500.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

/// Sends `body` as JSON with `token`; returns the status and the parsed answer.
async fn send(
    server: &Api,
    token: &str,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let mut request = server
        .http
        .request(method, server.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// What the admin API shows of everything a refused request could have touched.
async fn snapshot(server: &Api, token: &str, client_path: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    for path in [
        client_path.to_owned(),
        format!("{client_path}/secrets"),
        "/api/v1/clients?limit=200".to_owned(),
        "/api/v1/scopes".to_owned(),
        "/api/v1/audit-events?limit=200".to_owned(),
    ] {
        let (status, body) = send(server, token, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        seen.push(body);
    }
    seen
}

fn assert_refused(status: StatusCode, error: &Value, code: &str, field: &str, case: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{case}: {error}");
    assert_eq!(error["error"], code, "{case}: {error}");
    let description = error["error_description"].as_str().unwrap();
    assert!(
        description.contains(field),
        "{case}: `{description}` does not name {field}"
    );
    assert!(
        !description.contains(char::is_control),
        "{case}: {description:?} echoes a control character"
    );
}

both_engines! {
    async fn forbidden_characters_and_lengths_are_refused_and_change_nothing(server: TestApp) {
        let token = server.admin_token().await;
        let created = server.create_client(json!({"client_name": "Plain", "description": "Before", "grant_types": ["client_credentials"], "scope": "directory.read"})).await;
        let client_path = format!("/api/v1/clients/{}", created["client_id"].as_str().unwrap());
        let (status, _) = send(&server, &token, Method::POST, "/api/v1/scopes", Some(&json!({"name": "reports.read", "description": "Read reports"}))).await;
        assert_eq!(status, StatusCode::CREATED);
        let before = snapshot(&server, &token, &client_path).await;

        let new_client = |name: &str, description: &str| json!({"client_name": name, "description": description, "grant_types": ["client_credentials"], "scope": "directory.read"});
        // (what, value of a single-line field, value of a multi-line field, what the error says)
        let bad_text = [
            ("NUL", "a\u{0}b".to_owned(), "a\u{0}b".to_owned(), "U+0000"),
            ("C0 control", "a\u{1b}[31mb".to_owned(), "a\u{7}b".to_owned(), "control character"),
            ("DEL", "a\u{7f}".to_owned(), "a\u{7f}".to_owned(), "U+007F"),
            ("C1 control", "a\u{85}b".to_owned(), "a\u{9b}b".to_owned(), "control character"),
            ("noncharacter", "a\u{fffe}".to_owned(), "a\u{fdd0}".to_owned(), "noncharacter"),
            ("plane-16 noncharacter", "a\u{10ffff}".to_owned(), "a\u{1fffe}".to_owned(), "noncharacter"),
            ("vertical tab", "a\u{b}b".to_owned(), "a\u{c}b".to_owned(), "control character"),
        ];
        let mut cases: Vec<(Method, String, Value, &str, &str, String)> = Vec::new();
        for (what, single, multi, says) in &bad_text {
            cases.push((Method::POST, "/api/v1/clients".into(), new_client(single, "ok"), "invalid_client_metadata", "`client_name`", format!("{what} in client_name: {says}")));
            cases.push((Method::POST, "/api/v1/clients".into(), new_client("ok", multi), "invalid_client_metadata", "`description`", format!("{what} in description: {says}")));
            cases.push((Method::PATCH, client_path.clone(), json!({"client_name": single}), "invalid_client_metadata", "`client_name`", format!("{what} in patched client_name: {says}")));
            cases.push((Method::PATCH, client_path.clone(), json!({"description": multi}), "invalid_client_metadata", "`description`", format!("{what} in patched description: {says}")));
            cases.push((Method::POST, "/api/v1/scopes".into(), json!({"name": "fresh.scope", "description": multi}), "invalid_request", "`description`", format!("{what} in a new scope's description: {says}")));
            cases.push((Method::PATCH, "/api/v1/scopes/reports.read".into(), json!({"description": multi}), "invalid_request", "`description`", format!("{what} in a patched scope description: {says}")));
        }
        // Line breaks and tabs are for multi-line fields only.
        for single in ["a\nb", "a\r\nb", "a\rb", "a\u{2028}b", "a\u{2029}b", "a\tb"] {
            cases.push((Method::POST, "/api/v1/clients".into(), new_client(single, "ok"), "invalid_client_metadata", "`client_name`", format!("{single:?} in client_name")));
            cases.push((Method::PATCH, client_path.clone(), json!({"client_name": single}), "invalid_client_metadata", "`client_name`", format!("{single:?} in patched client_name")));
        }
        // Lengths count characters, not bytes: 200 four-byte characters fit, 201 do not.
        cases.push((Method::POST, "/api/v1/clients".into(), new_client(&"🦀".repeat(201), "ok"), "invalid_client_metadata", "`client_name` must be at most 200 characters", "201 characters of name".into()));
        cases.push((Method::PATCH, client_path.clone(), json!({"description": "ü".repeat(2001)}), "invalid_client_metadata", "`description` must be at most 2000 characters", "2001 characters of description".into()));
        cases.push((Method::PATCH, client_path.clone(), json!({"client_name": " \u{a0} "}), "invalid_client_metadata", "`client_name` must not be empty", "blank name".into()));
        cases.push((Method::POST, "/api/v1/scopes".into(), json!({"name": "long.scope", "description": "d".repeat(501)}), "invalid_request", "`description` must be at most 500 characters", "501 characters of scope description".into()));
        cases.push((Method::PATCH, "/api/v1/scopes/reports.read".into(), json!({"description": "d".repeat(501)}), "invalid_request", "`description` must be at most 500 characters", "501 characters of patched scope description".into()));
        // A patch may not slip an unknown member into the audit log by setting it to null.
        cases.push((Method::PATCH, client_path.clone(), json!({"client_name": "Renamed", "no\u{0}such": null}), "invalid_client_metadata", "unknown field", "unknown member set to null".into()));

        for (method, path, body, code, names, case) in &cases {
            let (status, error) = send(&server, &token, method.clone(), path, Some(body)).await;
            assert_refused(status, &error, code, names, case);
            let description = error["error_description"].as_str().unwrap();
            if let Some(says) = case.split(": ").nth(1) {
                assert!(description.contains(says), "{case}: `{description}` does not say {says}");
            }
        }
        assert_eq!(before, snapshot(&server, &token, &client_path).await, "a refused request changed something");
        let (status, _) = send(&server, &token, Method::GET, "/api/v1/scopes/fresh.scope", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    async fn any_other_text_is_stored_and_read_back_exactly(server: TestApp) {
        let token = server.admin_token().await;
        let name = "Zählwerk 計算機 🦀👩‍👩‍👧 مرحبا \u{200d}e\u{301}";
        let name_200 = "🦀".repeat(200);
        let description = "Line one — 絵文字 🚀\n\tindented line two\n\nU+2028 here:\u{2028}and private use \u{e000}.";
        let created = server.create_client(json!({"client_name": format!("  {name}  "), "description": description, "grant_types": ["client_credentials"], "scope": "directory.read"})).await;
        assert_eq!(created["client_name"], name, "names are trimmed, nothing else");
        assert_eq!(created["description"], description);
        let path = format!("/api/v1/clients/{}", created["client_id"].as_str().unwrap());
        let (_, fetched) = send(&server, &token, Method::GET, &path, None).await;
        assert_eq!(fetched["client_name"], name);
        assert_eq!(fetched["description"], description);

        // A browser's textarea sends CRLF; the stored text has one kind of line break.
        let (status, patched) = send(&server, &token, Method::PATCH, &path, Some(&json!({"client_name": name_200, "description": "one\r\ntwo\rthree\n"}))).await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        let (_, fetched) = send(&server, &token, Method::GET, &path, None).await;
        assert_eq!(fetched["client_name"], name_200.as_str());
        assert_eq!(fetched["description"], "one\ntwo\nthree");

        let scope_description = "Lire les factures — 請求書を読む 🧾\nSecond line";
        let (status, scope) = send(&server, &token, Method::POST, "/api/v1/scopes", Some(&json!({"name": "invoices.read", "description": scope_description}))).await;
        assert_eq!(status, StatusCode::CREATED, "{scope}");
        let (_, fetched) = send(&server, &token, Method::GET, "/api/v1/scopes/invoices.read", None).await;
        assert_eq!(fetched["description"], scope_description);

        // Search finds what was stored, non-ASCII included.
        let (status, found) = send(&server, &token, Method::GET, &format!("/api/v1/clients?search={}", "🦀🦀"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(found["items"].as_array().unwrap().len(), 1, "{found}");
    }

    async fn a_nul_in_a_query_or_path_parameter_is_a_400(server: TestApp) {
        let token = server.admin_token().await;
        let (id, _) = server.machine_client("Queried", "directory.read").await;
        let (status, _) = send(&server, &token, Method::POST, "/api/v1/scopes", Some(&json!({"name": "reports.read", "description": "Read reports"}))).await;
        assert_eq!(status, StatusCode::CREATED);
        let client_path = format!("/api/v1/clients/{id}");
        let before = snapshot(&server, &token, &client_path).await;

        let long_search = "a".repeat(201);
        let cases: Vec<(Method, String, Option<Value>, &str)> = vec![
            (Method::GET, "/api/v1/clients?search=a%00b".into(), None, "`search` contains a control character (U+0000) at character 2"),
            (Method::GET, "/api/v1/clients?search=%C2%85".into(), None, "`search` contains a control character (U+0085)"),
            (Method::GET, format!("/api/v1/clients?search={long_search}"), None, "`search` must be at most 200 characters"),
            (Method::GET, "/api/v1/clients?status=a%00".into(), None, "status"),
            (Method::GET, "/api/v1/clients?grant_type=a%00".into(), None, "grant_type"),
            (Method::GET, "/api/v1/clients?cursor=a%00".into(), None, "cursor"),
            (Method::GET, "/api/v1/audit-events?cursor=a%00".into(), None, "cursor"),
            (Method::GET, "/api/v1/audit-events?cursor=not-an-event".into(), None, "cursor"),
            (Method::GET, "/api/v1/scopes/reports%00.read".into(), None, "`name` contains a control character (U+0000)"),
            (Method::PATCH, "/api/v1/scopes/reports%00.read".into(), Some(json!({"description": "x"})), "`name` contains a control character (U+0000)"),
            (Method::DELETE, "/api/v1/scopes/reports%00.read".into(), None, "`name` contains a control character (U+0000)"),
            (Method::DELETE, format!("{client_path}/secrets/a%00b"), None, "`secret_id` contains a control character (U+0000)"),
            (Method::GET, "/api/v1/clients/ts_a%00b".into(), None, "`client_id` contains a control character (U+0000)"),
            (Method::PATCH, "/api/v1/clients/ts_a%00b".into(), Some(json!({"client_name": "x"})), "`client_id`"),
            (Method::DELETE, "/api/v1/clients/ts_a%00b".into(), None, "`client_id`"),
            (Method::GET, "/api/v1/clients/ts_a%00b/secrets".into(), None, "`client_id`"),
            (Method::POST, "/api/v1/clients/ts_a%00b/secrets".into(), None, "`client_id`"),
            (Method::POST, "/api/v1/clients/ts_a%00b/revoke-tokens".into(), None, "`client_id`"),
            (Method::GET, "/api/v1/clients?a%00=1&a%00=2".into(), None, "parameter `a\\u{0000}` is repeated"),
        ];
        for (method, path, body, says) in &cases {
            let (status, error) = send(&server, &token, method.clone(), path, body.as_ref()).await;
            assert_refused(status, &error, "invalid_request", says, &format!("{method} {path}"));
        }
        assert_eq!(before, snapshot(&server, &token, &client_path).await, "a refused request changed something");

        // Well-formed ids that name nothing are still 404s, found without the store's help.
        for path in ["/api/v1/scopes/no.such.scope", "/api/v1/scopes/not%20a%20scope"] {
            let (status, error) = send(&server, &token, Method::GET, path, None).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {error}");
        }
        let (status, error) = send(&server, &token, Method::DELETE, &format!("{client_path}/secrets/no-such-secret"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
        // A cursor this server issued still pages.
        let (_, page) = send(&server, &token, Method::GET, "/api/v1/audit-events?limit=1", None).await;
        let next = page["next_cursor"].as_str().unwrap();
        let (status, older) = send(&server, &token, Method::GET, &format!("/api/v1/audit-events?limit=1&cursor={next}"), None).await;
        assert_eq!(status, StatusCode::OK, "{older}");
        assert_eq!(older["items"].as_array().unwrap().len(), 1);
    }

    async fn a_nul_in_any_string_the_api_takes_is_a_400(server: TestApp) {
        let token = server.admin_token().await;
        let (id, secret) = server.machine_client("Swept", "directory.read").await;
        let client_path = format!("/api/v1/clients/{id}");
        let before = snapshot(&server, &token, &client_path).await;
        let nul = "x\u{0}";
        let client = json!({"client_type": "custom", "client_name": "Swept", "description": "d", "redirect_uris": ["https://a.example/cb"], "grant_types": ["authorization_code"], "response_types": ["code"], "scope": "openid", "token_endpoint_auth_method": "client_secret_basic", "status": "active"});
        let mut bodies: Vec<(Method, String, Value)> = Vec::new();
        for member in client.as_object().unwrap().keys() {
            let mut body = client.clone();
            body[member] = if body[member].is_array() { json!([nul]) } else { json!(nul) };
            bodies.push((Method::POST, "/api/v1/clients".into(), body.clone()));
            if member != "client_type" {
                bodies.push((Method::PATCH, client_path.clone(), json!({member: body[member]})));
            }
        }
        bodies.push((Method::POST, "/api/v1/clients".into(), json!({"client_name": "x", nul: 1})));
        bodies.push((Method::POST, format!("{client_path}/secrets"), json!({"grace_period_seconds": nul})));
        bodies.push((Method::POST, "/api/v1/scopes".into(), json!({"name": nul, "description": "d"})));
        bodies.push((Method::POST, "/api/v1/scopes".into(), json!({"name": "ok.name", nul: "d"})));
        bodies.push((Method::PATCH, "/api/v1/scopes/openid".into(), json!({"name": nul, "description": "d"})));
        for (method, path, body) in &bodies {
            let (status, error) = send(&server, &token, method.clone(), path, Some(body)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {path} {body}: {error}");
            let description = error["error_description"].as_str().unwrap();
            assert!(!description.contains(char::is_control), "{method} {path} {body}: {description:?}");
        }
        assert_eq!(before, snapshot(&server, &token, &client_path).await, "a refused request changed something");

        // The OAuth endpoints take strings too; none of them may reach the store as they are.
        for form in [
            vec![("grant_type", "client_credentials"), ("scope", nul)],
            vec![("grant_type", nul)],
            vec![("grant_type", "client_credentials"), ("client_id", nul), ("client_secret", "s")],
        ] {
            let mut request = server.http.post(server.url("/oauth2/token")).form(&form);
            if !form.iter().any(|(name, _)| *name == "client_id") {
                request = request.basic_auth(&id, Some(&secret));
            }
            let status = request.send().await.unwrap().status();
            assert!(status == StatusCode::BAD_REQUEST || status == StatusCode::UNAUTHORIZED, "{form:?}: {status}");
        }
        for endpoint in ["/oauth2/introspect", "/oauth2/revoke"] {
            for form in [vec![("token", nul)], vec![("token", "t"), ("token_type_hint", nul)]] {
                let response = server.http.post(server.url(endpoint)).basic_auth(&id, Some(&secret)).form(&form).send().await.unwrap();
                assert_eq!(response.status(), StatusCode::OK, "{endpoint} {form:?}");
            }
        }
    }

    async fn ambiguous_redirect_uris_are_refused_and_change_nothing(server: TestApp) {
        let token = server.admin_token().await;
        let native = |uris: Value| json!({"client_name": "Native", "grant_types": ["authorization_code", "refresh_token"], "token_endpoint_auth_method": "none", "scope": "openid", "redirect_uris": uris});
        let created = server.create_client(native(json!(["com.example.app:/cb"]))).await;
        let client_path = format!("/api/v1/clients/{}", created["client_id"].as_str().unwrap());
        let before = snapshot(&server, &token, &client_path).await;

        for (uri, says) in [
            ("https://a.example\\@evil.example/cb", "contains a backslash at character 18"),
            ("https:\\\\evil.example/cb", "backslash"),
            ("https://a.example/c\\b", "backslash"),
            ("https:/evil.example/cb", "(`https://evil.example/cb`)"),
            ("https:evil.example/cb", "(`https://evil.example/cb`)"),
            ("https://A.EXAMPLE/cb", "(`https://a.example/cb`)"),
            ("https://a.example:443/cb", "(`https://a.example/cb`)"),
            ("https://a.example/x/%2e%2e/cb", "(`https://a.example/cb`)"),
            ("https://a.example/c\tb", "control character (U+0009)"),
            ("http://127.1/cb", "(`http://127.0.0.1/cb`)"),
            ("http://0x7f.0.0.1/cb", "(`http://127.0.0.1/cb`)"),
            ("https://a.example/cb\u{0}", "control character (U+0000)"),
            ("https://bücher.example/cb", "write `https://xn--bcher-kva.example/cb`"),
            ("https://a.example/%zz", "`%` not followed by two hexadecimal digits"),
            ("https://user@a.example/cb", "user information"),
            ("https://a.example/[cb]", "`[`"),
        ] {
            for (method, path, body) in [
                (Method::POST, "/api/v1/clients", native(json!([uri]))),
                (Method::PATCH, client_path.as_str(), json!({"redirect_uris": ["com.example.app:/cb", uri]})),
            ] {
                let (status, error) = send(&server, &token, method.clone(), path, Some(&body)).await;
                assert_refused(status, &error, "invalid_redirect_uri", "redirect_uris", &format!("{method} {uri:?}"));
                let description = error["error_description"].as_str().unwrap();
                assert!(description.contains(says), "{method} {uri:?}: `{description}` does not say {says}");
            }
        }
        assert_eq!(before, snapshot(&server, &token, &client_path).await, "a refused request changed something");

        // What a browser and an RFC 3986 parser read alike is stored as written.
        let uris = json!(["com.example.app:/cb", "http://127.0.0.1:8080/cb", "http://[::1]/cb", "https://xn--bcher-kva.example/cb?tenant=42&x=%2F"]);
        let (status, patched) = send(&server, &token, Method::PATCH, &client_path, Some(&json!({"redirect_uris": uris}))).await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        let (_, fetched) = send(&server, &token, Method::GET, &client_path, None).await;
        assert_eq!(fetched["redirect_uris"], uris);
    }
}
