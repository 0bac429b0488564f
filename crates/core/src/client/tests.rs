use serde_json::{Value, json};

use super::*;
use crate::scope::{BUILTIN_SCOPES, is_builtin};

fn known(name: &str) -> bool {
    is_builtin(name) || name == "api.read"
}

/// A create request written as the API's JSON body, for readable cases. Bodies of the
/// wrong shape are the web layer's to refuse and are tested there.
fn new_client(mut body: Value) -> NewClient {
    let client_type = body
        .as_object_mut()
        .and_then(|members| members.remove("client_type"))
        .map(|raw| raw.as_str().unwrap().to_owned());
    NewClient {
        client_type,
        fields: serde_json::from_value(body).unwrap(),
    }
}

fn create(body: Value) -> Result<Created, OAuthError> {
    validate_new_client(new_client(body), &known).map(|(client_type, metadata)| Created {
        client_type,
        metadata,
    })
}

#[derive(Debug)]
struct Created {
    client_type: ClientType,
    metadata: ClientMetadata,
}

fn apply_merge_patch(
    current: &Client,
    patch: &Value,
    scope_exists: &dyn Fn(&str) -> bool,
) -> Result<ClientMetadata, OAuthError> {
    let patch: ClientPatch = serde_json::from_value(patch.clone()).unwrap();
    apply_client_patch(current, patch, scope_exists)
}

fn err(body: Value) -> OAuthError {
    create(body).expect_err("metadata should be refused")
}

fn custom() -> Value {
    json!({"client_name": "Billing", "grant_types": ["client_credentials"], "scope": "api.read"})
}

fn with(mut base: Value, key: &str, value: Value) -> Value {
    base[key] = value;
    base
}

fn stored(metadata: ClientMetadata, is_default: bool) -> Client {
    Client {
        client_id: ClientId::generate(),
        client_type: ClientType::Custom,
        metadata,
        is_default,
        created_at: Timestamp(0),
        updated_at: Timestamp(0),
        tokens_revoked_before: None,
    }
}

#[test]
fn minimal_custom_client_gets_defaults() {
    let client = create(custom()).unwrap();
    assert_eq!(client.client_type, ClientType::Custom);
    let m = client.metadata;
    assert_eq!(m.token_endpoint_auth_method, AuthMethod::ClientSecretBasic);
    assert!(m.response_types.is_empty());
    assert_eq!(m.status, ClientStatus::Active);
    assert!(!m.require_user_consent);
    assert_eq!(m.access_token_ttl_seconds, None);
}

#[test]
fn name_is_required_trimmed_and_bounded() {
    assert!(
        err(json!({"grant_types": ["client_credentials"], "scope": "api.read"}))
            .description
            .contains("client_name")
    );
    assert!(
        err(with(custom(), "client_name", json!("   ")))
            .description
            .contains("client_name")
    );
    assert!(
        err(with(custom(), "client_name", json!("x".repeat(201))))
            .description
            .contains("client_name")
    );
    let unicode = create(with(
        custom(),
        "client_name",
        json!("  Zählwerk 計算 ".to_owned() + &"é".repeat(180)),
    ))
    .unwrap();
    assert!(unicode.metadata.client_name.starts_with("Zählwerk"));
}

#[test]
fn description_is_bounded() {
    assert!(create(with(custom(), "description", json!("d".repeat(2000)))).is_ok());
    let e = err(with(custom(), "description", json!("d".repeat(2001))));
    assert_eq!(e.code, ErrorCode::InvalidClientMetadata);
    assert!(e.description.contains("description"));
}

#[test]
fn name_and_description_follow_the_text_rules() {
    for (field, value, says) in [
        (
            "client_name",
            "a\u{0}b",
            "`client_name` contains a control character (U+0000) at character 2",
        ),
        (
            "client_name",
            "a\nb",
            "`client_name` contains a line break (U+000A) at character 2",
        ),
        (
            "client_name",
            "a\u{2028}b",
            "`client_name` contains a line break (U+2028)",
        ),
        (
            "client_name",
            "a\u{9b}b",
            "`client_name` contains a control character (U+009B)",
        ),
        (
            "client_name",
            "\u{fffe}",
            "`client_name` contains a Unicode noncharacter (U+FFFE)",
        ),
        ("client_name", "  ", "`client_name` must not be empty"),
        (
            "description",
            "a\u{1b}[2J",
            "`description` contains a control character (U+001B)",
        ),
        (
            "description",
            "a\u{7f}",
            "`description` contains a control character (U+007F)",
        ),
    ] {
        let e = err(with(custom(), field, json!(value)));
        assert_eq!(e.code, ErrorCode::InvalidClientMetadata, "{value:?}");
        assert!(
            e.description.starts_with(says),
            "{value:?}: {}",
            e.description
        );
    }
    let kept = create(with(
        with(custom(), "client_name", json!(" 🦀 計算 ")),
        "description",
        json!("one\r\n\ttwo\u{2028}three"),
    ))
    .unwrap()
    .metadata;
    assert_eq!(kept.client_name, "🦀 計算");
    assert_eq!(kept.description.as_deref(), Some("one\n\ttwo\u{2028}three"));
    let blank = create(with(custom(), "description", json!(" \r\n "))).unwrap();
    assert_eq!(blank.metadata.description, None);
}

#[test]
fn grant_type_rules() {
    assert!(
        err(json!({"client_name": "x", "scope": "api.read"}))
            .description
            .contains("grant_types")
    );
    assert!(
        err(with(custom(), "grant_types", json!([])))
            .description
            .contains("grant_types")
    );
    assert!(
        err(with(custom(), "grant_types", json!(["implicit"])))
            .description
            .contains("implicit")
    );
    assert!(
        err(with(
            custom(),
            "grant_types",
            json!(["refresh_token", "client_credentials"])
        ))
        .description
        .contains("refresh_token")
    );
    let public_cc = with(
        with(custom(), "token_endpoint_auth_method", json!("none")),
        "grant_types",
        json!(["client_credentials"]),
    );
    assert!(
        err(public_cc)
            .description
            .contains("client_credentials requires a confidential client")
    );
    let public_password = json!({"client_name": "x", "scope": "api.read", "token_endpoint_auth_method": "none", "grant_types": ["password"]});
    assert!(err(public_password).description.contains("password"));
    let dup = create(with(
        custom(),
        "grant_types",
        json!(["client_credentials", "client_credentials"]),
    ))
    .unwrap();
    assert_eq!(dup.metadata.grant_types, vec![GrantType::ClientCredentials]);
}

#[test]
fn authorization_code_needs_redirect_uri_and_code_response_type() {
    let web = json!({"client_name": "Web", "grant_types": ["authorization_code", "refresh_token"], "scope": "openid"});
    let e = err(web.clone());
    assert_eq!(e.code, ErrorCode::InvalidRedirectUri);
    assert!(e.description.contains("redirect_uris"));
    let ok = create(with(
        web.clone(),
        "redirect_uris",
        json!(["https://app.example.com/callback"]),
    ))
    .unwrap();
    assert_eq!(ok.metadata.response_types, vec![ResponseType::Code]);

    let inconsistent = with(
        with(web, "redirect_uris", json!(["https://app.example.com/cb"])),
        "response_types",
        json!([]),
    );
    assert!(err(inconsistent).description.contains("response_types"));
    assert!(
        err(with(custom(), "response_types", json!(["code"])))
            .description
            .contains("response_types")
    );
    assert!(
        err(with(custom(), "response_types", json!(["token"])))
            .description
            .contains("response_types")
    );
}

#[test]
fn redirect_uri_rules_by_client_kind() {
    let confidential =
        json!({"client_name": "Web", "grant_types": ["authorization_code"], "scope": "openid"});
    let public = with(
        confidential.clone(),
        "token_endpoint_auth_method",
        json!("none"),
    );
    for (body, uri, ok) in [
        (&confidential, "https://app.example.com/cb", true),
        (&confidential, "http://127.0.0.1/cb", false),
        (&public, "http://127.0.0.1/cb", true),
        (&public, "http://example.com/cb", false),
        (&confidential, "com.example.app:/cb", false),
        (&public, "com.example.app:/cb", true),
        (&public, "javascript:alert(1)", false),
        (&public, "https://app.example.com/cb#x", false),
        (&public, "https://*.example.com/cb", false),
    ] {
        let result = create(with(body.clone(), "redirect_uris", json!([uri])));
        assert_eq!(result.is_ok(), ok, "{uri}");
        if let Err(e) = result {
            assert_eq!(e.code, ErrorCode::InvalidRedirectUri);
            assert!(e.description.contains("redirect_uris"), "{}", e.description);
        }
    }
    let many: Vec<String> = (0..21)
        .map(|i| format!("https://app.example.com/{i}"))
        .collect();
    assert!(
        err(with(confidential.clone(), "redirect_uris", json!(many)))
            .description
            .contains("at most 20")
    );
    let twice = json!(["https://a.example.com/cb", "https://a.example.com/cb"]);
    assert!(
        err(with(confidential, "redirect_uris", twice))
            .description
            .contains("twice")
    );
}

#[test]
fn scope_rules() {
    assert!(
        err(with(custom(), "scope", json!("")))
            .description
            .contains("scope")
    );
    assert!(
        err(with(custom(), "scope", json!("api.read nope")))
            .description
            .contains("`nope`")
    );
    assert!(
        err(json!({"client_name": "x", "grant_types": ["client_credentials"]}))
            .description
            .contains("scope is required")
    );
}

#[test]
fn auth_method_ttl_status_and_consent() {
    assert!(
        err(with(
            custom(),
            "token_endpoint_auth_method",
            json!("client_secret_jwt")
        ))
        .description
        .contains("token_endpoint_auth_method")
    );
    assert!(create(with(custom(), "access_token_ttl_seconds", json!(60))).is_ok());
    assert!(create(with(custom(), "access_token_ttl_seconds", json!(86400))).is_ok());
    for bad in [json!(59), json!(86401), json!(u64::from(u32::MAX) + 60)] {
        assert!(
            err(with(custom(), "access_token_ttl_seconds", bad))
                .description
                .contains("access_token_ttl_seconds")
        );
    }
    assert!(
        err(with(custom(), "status", json!("paused")))
            .description
            .contains("status")
    );
    assert!(
        create(with(custom(), "require_user_consent", json!(true)))
            .unwrap()
            .metadata
            .require_user_consent
    );
    assert_eq!(
        create(with(custom(), "status", json!("disabled")))
            .unwrap()
            .metadata
            .status,
        ClientStatus::Disabled
    );
}

#[test]
fn sync_connector_preset_is_forced() {
    let sync = create(json!({"client_type": "sync_connector", "client_name": "LDAP"})).unwrap();
    assert_eq!(sync.client_type, ClientType::SyncConnector);
    assert_eq!(
        sync.metadata.grant_types,
        vec![GrantType::ClientCredentials]
    );
    assert_eq!(
        sync.metadata.scope.to_string(),
        "directory.read directory.write"
    );
    assert_eq!(
        sync.metadata.token_endpoint_auth_method,
        AuthMethod::ClientSecretBasic
    );
    assert!(sync.metadata.redirect_uris.is_empty());
    let restated = json!({"client_type": "sync_connector", "client_name": "LDAP", "scope": "directory.write directory.read"});
    assert!(create(restated).is_ok());
    let varied = json!({"client_type": "sync_connector", "client_name": "LDAP", "scope": "admin"});
    assert_eq!(
        err(varied).description,
        r#"scope is fixed for sync_connector clients (preset: "directory.read directory.write")"#
    );
    let varied = json!({"client_type": "sync_connector", "client_name": "LDAP", "grant_types": ["client_credentials", "client_credentials"]});
    assert_eq!(
        err(varied).description,
        r#"grant_types is fixed for sync_connector clients (preset: ["client_credentials"])"#
    );
    let varied =
        json!({"client_type": "sync_connector", "client_name": "LDAP", "response_types": ["code"]});
    assert_eq!(
        err(varied).description,
        "response_types is fixed for sync_connector clients (preset: [])"
    );
    assert!(
        err(json!({"client_type": "robot", "client_name": "x"}))
            .description
            .contains("client_type")
    );
}

#[test]
fn merge_patch_validates_like_create() {
    let current = stored(create(custom()).unwrap().metadata, false);
    let renamed = apply_merge_patch(
        &current,
        &json!({"client_name": "New", "description": "d"}),
        &known,
    )
    .unwrap();
    assert_eq!(renamed.client_name, "New");
    assert_eq!(renamed.scope, current.metadata.scope);
    let with_desc = stored(renamed, false);
    let cleared = apply_merge_patch(&with_desc, &json!({"description": null}), &known).unwrap();
    assert_eq!(cleared.description, None);
    assert!(
        apply_merge_patch(&current, &json!({"client_name": null}), &known)
            .unwrap_err()
            .description
            .contains("client_name is required")
    );
    assert!(
        apply_merge_patch(&current, &json!({"scope": "nope"}), &known)
            .unwrap_err()
            .description
            .contains("nope")
    );
    assert!(
        apply_merge_patch(&current, &json!({"client_type": "sync_connector"}), &known)
            .unwrap_err()
            .description
            .contains("immutable")
    );
    assert!(
        apply_merge_patch(&current, &json!({"client_type": null}), &known)
            .unwrap_err()
            .description
            .contains("immutable")
    );
    assert!(apply_merge_patch(&current, &json!({"client_type": "custom"}), &known).is_ok());
    let to_code = json!({"grant_types": ["authorization_code"], "redirect_uris": ["https://a.example.com/cb"]});
    let switched = apply_merge_patch(&current, &to_code, &known).unwrap();
    assert_eq!(switched.response_types, vec![ResponseType::Code]);
}

#[test]
fn a_patch_names_its_members_sorted_with_nulls() {
    let patch: ClientPatch = serde_json::from_value(
        json!({"scope": "api.read", "description": null, "client_type": "custom"}),
    )
    .unwrap();
    assert_eq!(
        patch.named_fields(),
        ["client_type", "description", "scope"]
    );
    assert!(ClientPatch::default().named_fields().is_empty());
}

#[test]
fn default_clients_match_the_product_page_and_are_valid() {
    let defaults = default_clients();
    let ids: Vec<_> = defaults.iter().map(|d| d.client_id).collect();
    assert_eq!(
        ids,
        [
            "ts_admin_client",
            "ts_sync_client",
            "thetasecure-mobile-app",
            "thetasecure-desktop-agent"
        ]
    );
    for default in &defaults {
        let restated = NewClient {
            client_type: None,
            fields: ClientFields::from(&default.metadata),
        };
        let (_, reparsed) = validate_new_client(restated, &|name| {
            BUILTIN_SCOPES.iter().any(|s| s.name == name)
        })
        .unwrap();
        assert_eq!(reparsed, default.metadata, "{}", default.client_id);
    }
}

#[test]
fn protected_fields_of_default_clients() {
    let admin = stored(default_clients().remove(0).metadata, true);
    let mut renamed = admin.metadata.clone();
    renamed.client_name = "Renamed".into();
    assert_eq!(protected_field_changed(&admin, &renamed), None);
    let mut rescoped = admin.metadata.clone();
    rescoped.scope = ScopeSet::parse("admin introspect").unwrap();
    assert_eq!(protected_field_changed(&admin, &rescoped), Some("scope"));
    let custom_client = stored(admin.metadata.clone(), false);
    assert_eq!(protected_field_changed(&custom_client, &rescoped), None);
}

#[test]
fn post_logout_redirect_uris_follow_the_redirect_uri_rules() {
    let confidential = json!({"client_name": "Web", "grant_types": ["authorization_code"], "scope": "openid", "redirect_uris": ["https://app.example.com/cb"]});
    let public = with(
        with(
            confidential.clone(),
            "token_endpoint_auth_method",
            json!("none"),
        ),
        "redirect_uris",
        json!(["http://127.0.0.1/cb"]),
    );
    for (body, uri, ok) in [
        (&confidential, "https://app.example.com/signed-out", true),
        (&confidential, "https://app.example.com/bye?tenant=a", true),
        (&confidential, "http://127.0.0.1/bye", false),
        (&public, "http://127.0.0.1/bye", true),
        (&public, "http://app.example.com/bye", false),
        (&confidential, "com.example.app:/bye", false),
        (&public, "com.example.app:/bye", true),
        (&public, "javascript:alert(1)", false),
        (&public, "https://app.example.com/bye#x", false),
        (&public, "https://user@app.example.com/bye", false),
        (&public, "/relative", false),
    ] {
        let result = create(with(
            body.clone(),
            "post_logout_redirect_uris",
            json!([uri]),
        ));
        assert_eq!(result.is_ok(), ok, "{uri}");
        match result {
            Ok(client) => assert_eq!(
                client.metadata.post_logout_redirect_uris,
                vec![RedirectUri::from_trusted(uri.to_owned())]
            ),
            Err(e) => {
                assert_eq!(e.code, ErrorCode::InvalidClientMetadata, "{uri}");
                assert!(
                    e.description.starts_with("post_logout_redirect_uris: "),
                    "{}",
                    e.description
                );
            }
        }
    }
    let many: Vec<String> = (0..21)
        .map(|i| format!("https://app.example.com/{i}"))
        .collect();
    assert_eq!(
        err(with(
            confidential.clone(),
            "post_logout_redirect_uris",
            json!(many)
        ))
        .description,
        "post_logout_redirect_uris: at most 20 are allowed"
    );
    let twice = json!(["https://a.example.com/bye", "https://a.example.com/bye"]);
    assert!(
        err(with(
            confidential.clone(),
            "post_logout_redirect_uris",
            twice
        ))
        .description
        .contains("twice")
    );
    // Optional, and empty when not given.
    assert!(
        create(confidential)
            .unwrap()
            .metadata
            .post_logout_redirect_uris
            .is_empty()
    );
    let sync = json!({"client_type": "sync_connector", "client_name": "LDAP", "post_logout_redirect_uris": ["https://a.example.com/bye"]});
    assert_eq!(
        err(sync).description,
        "post_logout_redirect_uris is fixed for sync_connector clients (preset: [])"
    );
}

#[test]
fn post_logout_redirect_uris_merge_like_the_other_lists() {
    let current = stored(
        create(with(
            custom(),
            "post_logout_redirect_uris",
            json!(["https://a.example.com/bye"]),
        ))
        .unwrap()
        .metadata,
        false,
    );
    let uris = |m: &ClientMetadata| -> Vec<String> {
        m.post_logout_redirect_uris
            .iter()
            .map(|u| u.as_str().to_owned())
            .collect()
    };
    let kept = apply_merge_patch(&current, &json!({"client_name": "Other"}), &known).unwrap();
    assert_eq!(uris(&kept), ["https://a.example.com/bye"]);
    let replaced = apply_merge_patch(
        &current,
        &json!({"post_logout_redirect_uris": ["https://b.example.com/bye", "https://c.example.com/bye"]}),
        &known,
    )
    .unwrap();
    assert_eq!(
        uris(&replaced),
        ["https://b.example.com/bye", "https://c.example.com/bye"]
    );
    let reset = apply_merge_patch(
        &current,
        &json!({"post_logout_redirect_uris": null}),
        &known,
    )
    .unwrap();
    assert!(reset.post_logout_redirect_uris.is_empty());
    let refused = apply_merge_patch(
        &current,
        &json!({"post_logout_redirect_uris": ["http://a.example.com/bye"]}),
        &known,
    )
    .unwrap_err();
    assert!(
        refused
            .description
            .starts_with("post_logout_redirect_uris: `http://a.example.com/bye`")
    );
    // A default client's logout targets are protected like its redirect URIs.
    let desktop = stored(default_clients().remove(3).metadata, true);
    let mut changed = desktop.metadata.clone();
    changed.post_logout_redirect_uris =
        vec![RedirectUri::from_trusted("http://127.0.0.1/bye".into())];
    assert_eq!(
        protected_field_changed(&desktop, &changed),
        Some("post_logout_redirect_uris")
    );
}
