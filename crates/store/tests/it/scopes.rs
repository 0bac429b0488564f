use thetasecure_core::scope::ScopeSet;
use thetasecure_store::StoreError;

use crate::support::*;

conformance!(scopes_create_get_list_update, scope_delete_rules);

async fn scopes_create_get_list_update(env: Env) {
    let scopes = env.store.scopes();
    for name in ["zeta:write", "api.read", "Alpha", "openid"] {
        scopes
            .create(
                &scope(name, name == "openid"),
                &audit("scope.created", name),
            )
            .await
            .unwrap();
    }
    let names: Vec<String> = scopes
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(
        names,
        ["Alpha", "api.read", "openid", "zeta:write"],
        "ordered by name, bytewise"
    );
    assert_eq!(
        scopes.get("openid").await.unwrap(),
        Some(scope("openid", true))
    );
    assert_eq!(
        scopes.get("OPENID").await.unwrap(),
        None,
        "scope names are case-sensitive"
    );

    let err = scopes
        .create(
            &scope("api.read", false),
            &audit("scope.created", "api.read"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    let updated = scopes
        .update_description(
            "api.read",
            "Read the API — ünïcode",
            at(99),
            &audit("scope.updated", "api.read"),
        )
        .await
        .unwrap();
    assert_eq!(updated.description, "Read the API — ünïcode");
    assert_eq!(updated.updated_at, at(99));
    assert_eq!(updated.created_at, NOW);
    assert_eq!(scopes.get("api.read").await.unwrap(), Some(updated));
    assert_eq!(
        scopes
            .update_description("absent", "x", at(99), &audit("scope.updated", "absent"))
            .await,
        Err(StoreError::NotFound)
    );
    let actions = audit_actions(&env.store).await;
    assert_eq!(actions.len(), 5, "four creates and one update: {actions:?}");
    assert_eq!(actions[0], "scope.updated");
}

async fn scope_delete_rules(env: Env) {
    let scopes = env.store.scopes();
    for (name, builtin) in [
        ("openid", true),
        ("custom", false),
        ("custom:read", false),
        ("unused", false),
    ] {
        scopes
            .create(&scope(name, builtin), &audit("scope.created", name))
            .await
            .unwrap();
    }
    let mut c = client("ts_scoped", "Scoped", at(0));
    c.metadata.scope = ScopeSet::from_trusted("openid custom:read");
    env.store
        .clients()
        .create(&c, None, &audit("client.created", "ts_scoped"))
        .await
        .unwrap();
    let audits_before = audit_actions(&env.store).await.len();

    let delete = |name: &'static str| {
        let store = env.store.clone();
        async move {
            store
                .scopes()
                .delete(name, &audit("scope.deleted", name))
                .await
        }
    };
    assert_eq!(delete("absent").await, Err(StoreError::NotFound));
    assert!(
        matches!(delete("openid").await, Err(StoreError::Conflict(_))),
        "built in"
    );
    assert!(
        matches!(delete("custom:read").await, Err(StoreError::Conflict(_))),
        "in use"
    );
    assert_eq!(
        audit_actions(&env.store).await.len(),
        audits_before,
        "failures write no audit entry"
    );

    // `custom` is a prefix of a used scope, not a used scope.
    delete("custom").await.unwrap();
    delete("unused").await.unwrap();
    assert_eq!(scopes.get("custom").await.unwrap(), None);
    assert!(scopes.get("custom:read").await.unwrap().is_some());

    // In use as the first, middle or last name of a client's scope.
    for (n, scope_text) in ["custom:read", "a custom:read b", "a custom:read"]
        .into_iter()
        .enumerate()
    {
        c.metadata.scope = ScopeSet::from_trusted(scope_text);
        c.updated_at = at(n as i64);
        env.store
            .clients()
            .update(&c, &audit("client.updated", "ts_scoped"))
            .await
            .unwrap();
        assert!(
            matches!(delete("custom:read").await, Err(StoreError::Conflict(_))),
            "{scope_text}"
        );
    }
    env.store
        .clients()
        .delete(&c.client_id, &audit("client.deleted", "ts_scoped"))
        .await
        .unwrap();
    delete("custom:read").await.unwrap();
    assert_eq!(audit_actions(&env.store).await[0], "scope.deleted");
}
