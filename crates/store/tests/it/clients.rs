use std::collections::HashSet;

use thetasecure_core::grant::{ClientStatus, GrantType};
use thetasecure_core::scope::ScopeSet;
use thetasecure_store::{ClientCursor, ClientFilter, StoreError};

use crate::support::*;

conformance!(
    create_and_get_round_trip_every_field,
    create_refuses_a_duplicate_id,
    create_with_secret_stores_it,
    concurrent_creates_stand_or_fall_alone,
    list_searches_name_and_id_case_insensitively,
    list_search_treats_wildcards_literally,
    list_search_forgets_deleted_clients_and_takes_quotes,
    list_search_of_a_common_term_pages_newest_first,
    list_filters_by_status_and_grant_type,
    list_pages_newest_first_exactly_once,
    update_replaces_metadata,
    update_and_delete_of_missing_client_are_not_found,
    delete_cascades_to_secrets,
    revoke_tokens_sets_the_cutoff,
    update_moves_the_token_cutoff_only_forward,
);

async fn create_and_get_round_trip_every_field(env: Env) {
    let clients = env.store.clients();
    let full = full_client("thetasecure-mobile-app", "Mobile App", at(0));
    let plain = client("ts_plain", "Plain", at(1));
    clients
        .create(&full, None, &audit("client.created", "full"))
        .await
        .unwrap();
    clients
        .create(&plain, None, &audit("client.created", "plain"))
        .await
        .unwrap();

    assert_eq!(
        clients.get(&full.client_id).await.unwrap(),
        Some(full.clone())
    );
    assert_eq!(clients.get(&plain.client_id).await.unwrap(), Some(plain));
    assert_eq!(clients.get(&id("ts_absent")).await.unwrap(), None);
    assert_eq!(clients.count().await.unwrap(), 2);
    assert_eq!(
        audit_actions(&env.store).await,
        ["client.created", "client.created"]
    );
    // Redirect URIs (both kinds) keep their order.
    let stored = clients.get(&full.client_id).await.unwrap().unwrap();
    assert_eq!(stored.metadata.redirect_uris, full.metadata.redirect_uris);
    assert_eq!(
        stored.metadata.post_logout_redirect_uris,
        full.metadata.post_logout_redirect_uris
    );
}

async fn create_refuses_a_duplicate_id(env: Env) {
    let clients = env.store.clients();
    let first = client("ts_dup", "First", at(0));
    clients
        .create(&first, None, &audit("client.created", "ts_dup"))
        .await
        .unwrap();
    let second = client("ts_dup", "Second", at(5));
    let err = clients
        .create(
            &second,
            Some(&secret("ts_dup", "s-dup", at(5))),
            &audit("client.created", "ts_dup"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(
        clients.get(&first.client_id).await.unwrap(),
        Some(first.clone())
    );
    assert!(
        env.store
            .secrets()
            .list(&first.client_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        audit_actions(&env.store).await.len(),
        1,
        "no audit entry for a failed create"
    );
}

async fn create_with_secret_stores_it(env: Env) {
    let c = client("ts_conf", "Confidential", at(0));
    let s = secret("ts_conf", "0190-secret-1", at(0));
    env.store
        .clients()
        .create(&c, Some(&s), &audit("client.created", "ts_conf"))
        .await
        .unwrap();
    assert_eq!(
        env.store.secrets().list(&c.client_id).await.unwrap(),
        vec![s]
    );
}

/// SQLite commits concurrent creates in groups, one transaction for many creates: a
/// create that fails after writing its client row must leave nothing behind, and the
/// creates queued with it must still be committed.
async fn concurrent_creates_stand_or_fall_alone(env: Env) {
    let clients = env.store.clients();
    let taken = secret("ts_first", "s-taken", at(0));
    clients
        .create(
            &client("ts_first", "First", at(0)),
            Some(&taken),
            &audit("client.created", "ts_first"),
        )
        .await
        .unwrap();
    const FAILING: usize = 7;
    let batch: Vec<_> = (0..20)
        .map(|n| {
            let client_id = format!("ts_concurrent_{n:02}");
            // This one's client row goes in, then its secret id collides.
            let secret_id = if n == FAILING {
                "s-taken".to_owned()
            } else {
                format!("s-concurrent-{n}")
            };
            let secret = secret(&client_id, &secret_id, at(1));
            let entry = audit("client.created", &client_id);
            (client(&client_id, "Concurrent", at(1)), secret, entry)
        })
        .collect();
    let outcomes = futures::future::join_all(
        batch
            .iter()
            .map(|(client, secret, entry)| clients.create(client, Some(secret), entry)),
    )
    .await;

    for (n, ((client, secret, _), outcome)) in batch.iter().zip(&outcomes).enumerate() {
        let stored = clients.get(&client.client_id).await.unwrap();
        let secrets = env.store.secrets().list(&client.client_id).await.unwrap();
        if n == FAILING {
            assert!(
                matches!(outcome, Err(StoreError::Conflict(_))),
                "{outcome:?}"
            );
            assert_eq!(stored, None);
            assert!(secrets.is_empty());
        } else {
            assert_eq!(outcome, &Ok(()));
            assert_eq!(stored.as_ref(), Some(client));
            assert_eq!(secrets, vec![secret.clone()]);
        }
    }
    assert_eq!(clients.count().await.unwrap(), 20);
    assert_eq!(audit_actions(&env.store).await.len(), 20);
    assert_eq!(
        ids(&env.store, filter(Some("concurrent"), 50)).await.len(),
        19,
        "the failed create left nothing in the search index"
    );
}

async fn list_searches_name_and_id_case_insensitively(env: Env) {
    create_clients(
        &env.store,
        &[
            ("ts_billing_01", "Billing Service"),
            ("ts_reports_02", "Nightly Reports"),
            ("ts_umlaut_03", "ÄRGER Straße Ölfeld"),
            ("ts_greek_04", "ΣΊΣΥΦΟΣ Worker"),
        ],
    )
    .await;
    assert_eq!(
        ids(&env.store, filter(Some("BILL"), 10)).await,
        ["ts_billing_01"]
    );
    assert_eq!(
        ids(&env.store, filter(Some("service"), 10)).await,
        ["ts_billing_01"]
    );
    // By part of the id, in any case.
    assert_eq!(
        ids(&env.store, filter(Some("REPORTS_0"), 10)).await,
        ["ts_reports_02"]
    );
    // Non-ASCII case folding is Unicode lowercase, computed in Rust.
    assert_eq!(
        ids(&env.store, filter(Some("ärger"), 10)).await,
        ["ts_umlaut_03"]
    );
    assert_eq!(
        ids(&env.store, filter(Some("ÖLFELD"), 10)).await,
        ["ts_umlaut_03"]
    );
    assert_eq!(
        ids(&env.store, filter(Some("straße"), 10)).await,
        ["ts_umlaut_03"]
    );
    assert_eq!(
        ids(&env.store, filter(Some("σίσυφος"), 10)).await,
        ["ts_greek_04"]
    );
    assert_eq!(
        ids(&env.store, filter(Some("ΣΊΣΥΦΟΣ"), 10)).await,
        ["ts_greek_04"]
    );
    // Name and id are one text, so a search may span the space between them.
    assert_eq!(
        ids(&env.store, filter(Some("service ts_bill"), 10)).await,
        ["ts_billing_01"]
    );
    assert!(
        ids(&env.store, filter(Some("nothing like it"), 10))
            .await
            .is_empty()
    );
    // No search, or an empty one, matches everything, newest first.
    let all = [
        "ts_greek_04",
        "ts_umlaut_03",
        "ts_reports_02",
        "ts_billing_01",
    ];
    assert_eq!(ids(&env.store, filter(None, 10)).await, all);
    assert_eq!(ids(&env.store, filter(Some(""), 10)).await, all);
}

async fn list_search_treats_wildcards_literally(env: Env) {
    create_clients(
        &env.store,
        &[
            ("ts_pct", "100% Uptime"),
            ("ts_plain", "1000 Uptime"),
            ("ts_under", "a_b worker"),
            ("ts_bslash", "back\\slash"),
        ],
    )
    .await;
    assert_eq!(ids(&env.store, filter(Some("0%"), 10)).await, ["ts_pct"]);
    assert_eq!(ids(&env.store, filter(Some("%"), 10)).await, ["ts_pct"]);
    assert_eq!(ids(&env.store, filter(Some("a_b"), 10)).await, ["ts_under"]);
    assert_eq!(ids(&env.store, filter(Some("_b "), 10)).await, ["ts_under"]);
    assert!(ids(&env.store, filter(Some("1%0"), 10)).await.is_empty());
    assert!(ids(&env.store, filter(Some("'"), 10)).await.is_empty());
    assert_eq!(
        ids(&env.store, filter(Some("k\\s"), 10)).await,
        ["ts_bslash"]
    );
    assert!(ids(&env.store, filter(Some("\\%"), 10)).await.is_empty());
}

async fn list_search_forgets_deleted_clients_and_takes_quotes(env: Env) {
    create_clients(
        &env.store,
        &[
            ("ts_quote", "Say \"hi\" app"),
            ("ts_doomed", "Doomed worker"),
            ("ts_kept", "Kept worker"),
        ],
    )
    .await;
    assert_eq!(
        ids(&env.store, filter(Some("\"hi\" a"), 10)).await,
        ["ts_quote"]
    );
    assert_eq!(ids(&env.store, filter(Some("\""), 10)).await, ["ts_quote"]);
    assert_eq!(
        ids(&env.store, filter(Some("hi\"\""), 10)).await,
        Vec::<String>::new()
    );
    assert_eq!(
        ids(&env.store, filter(Some("worker"), 10)).await,
        ["ts_kept", "ts_doomed"]
    );
    env.store
        .clients()
        .delete(&id("ts_doomed"), &audit("client.deleted", "ts_doomed"))
        .await
        .unwrap();
    assert_eq!(
        ids(&env.store, filter(Some("worker"), 10)).await,
        ["ts_kept"]
    );
    assert!(ids(&env.store, filter(Some("doomed"), 10)).await.is_empty());
    // The id is free again, and a new client under it is found by its new name only.
    create_client(&env.store, "ts_doomed", "Reborn", at(9)).await;
    assert_eq!(
        ids(&env.store, filter(Some("reborn"), 10)).await,
        ["ts_doomed"]
    );
    assert_eq!(
        ids(&env.store, filter(Some("worker"), 10)).await,
        ["ts_kept"]
    );
}

/// More matches than an index lookup is worth (SQLite switches to walking the
/// newest-first index at 2,000): pages still come newest first, and a rare term among
/// them is still found.
async fn list_search_of_a_common_term_pages_newest_first(env: Env) {
    let count = 2_005;
    for n in 0..count {
        create_client(
            &env.store,
            &format!("ts_bulk_{n:04}"),
            &format!("Bulk {n:04}"),
            at(n),
        )
        .await;
    }
    let first = env
        .store
        .clients()
        .list(&filter(Some("BULK"), 3))
        .await
        .unwrap();
    let names: Vec<_> = first.items.iter().map(|c| c.client_id.as_str()).collect();
    assert_eq!(names, ["ts_bulk_2004", "ts_bulk_2003", "ts_bulk_2002"]);
    let next = ClientFilter {
        after: first.next,
        ..filter(Some("BULK"), 3)
    };
    assert_eq!(
        ids(&env.store, next).await,
        ["ts_bulk_2001", "ts_bulk_2000", "ts_bulk_1999"]
    );
    assert_eq!(
        ids(&env.store, filter(Some("bulk 0007"), 10)).await,
        ["ts_bulk_0007"]
    );
    assert_eq!(
        ids(&env.store, filter(Some("ulk 200"), 10)).await,
        [
            "ts_bulk_2004",
            "ts_bulk_2003",
            "ts_bulk_2002",
            "ts_bulk_2001",
            "ts_bulk_2000"
        ]
    );
}

async fn list_filters_by_status_and_grant_type(env: Env) {
    let clients = env.store.clients();
    let machine = client("ts_machine", "Machine", at(0));
    let mut disabled = client("ts_disabled", "Disabled machine", at(1));
    disabled.metadata.status = ClientStatus::Disabled;
    let native = full_client("ts_native", "Native", at(2));
    for c in [&machine, &disabled, &native] {
        clients
            .create(c, None, &audit("client.created", c.client_id.as_str()))
            .await
            .unwrap();
    }
    let with = |status, grant_type, search: Option<&str>| ClientFilter {
        search: search.map(str::to_owned),
        status,
        grant_type,
        limit: 10,
        after: None,
    };
    assert_eq!(
        ids(&env.store, with(Some(ClientStatus::Disabled), None, None)).await,
        ["ts_disabled"]
    );
    assert_eq!(
        ids(&env.store, with(Some(ClientStatus::Active), None, None)).await,
        ["ts_native", "ts_machine"]
    );
    assert_eq!(
        ids(
            &env.store,
            with(None, Some(GrantType::ClientCredentials), None)
        )
        .await,
        ["ts_disabled", "ts_machine"]
    );
    assert_eq!(
        ids(&env.store, with(None, Some(GrantType::RefreshToken), None)).await,
        ["ts_native"]
    );
    assert!(
        ids(&env.store, with(None, Some(GrantType::Password), None))
            .await
            .is_empty()
    );
    assert_eq!(
        ids(
            &env.store,
            with(
                Some(ClientStatus::Active),
                Some(GrantType::ClientCredentials),
                Some("MACH")
            )
        )
        .await,
        ["ts_machine"]
    );
    assert!(
        ids(
            &env.store,
            with(
                Some(ClientStatus::Disabled),
                Some(GrantType::AuthorizationCode),
                None
            )
        )
        .await
        .is_empty()
    );
}

async fn list_pages_newest_first_exactly_once(env: Env) {
    let clients = env.store.clients();
    let mut expected = Vec::new();
    for n in 0..120 {
        // Three clients share each timestamp, so ties are broken by client id.
        let c = client(
            &format!("ts_page_{:03}", (n * 37) % 120),
            "Paged",
            at(n / 3),
        );
        expected.push((c.created_at, c.client_id.to_string()));
        clients
            .create(&c, None, &audit("client.created", c.client_id.as_str()))
            .await
            .unwrap();
    }
    expected.sort();
    expected.reverse();
    let expected: Vec<String> = expected.into_iter().map(|(_, cid)| cid).collect();

    for limit in [7, 10, 120, 500] {
        let mut seen = Vec::new();
        let mut after: Option<ClientCursor> = None;
        loop {
            let page = clients
                .list(&ClientFilter {
                    search: None,
                    status: None,
                    grant_type: None,
                    limit,
                    after: after.clone(),
                })
                .await
                .unwrap();
            assert!(page.items.len() <= limit as usize);
            seen.extend(page.items.iter().map(|c| c.client_id.to_string()));
            match page.next {
                Some(next) => {
                    let last = page.items.last().unwrap();
                    assert_eq!(
                        next,
                        ClientCursor {
                            created_at: last.created_at,
                            client_id: last.client_id.clone()
                        }
                    );
                    after = Some(next);
                }
                None => break,
            }
        }
        assert_eq!(seen, expected, "limit {limit}");
        assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 120);
    }
    // A search narrows the pages too.
    let page = clients
        .list(&ClientFilter {
            search: Some("PAGE_11".into()),
            status: None,
            grant_type: None,
            limit: 5,
            after: None,
        })
        .await
        .unwrap();
    let got: Vec<String> = page.items.iter().map(|c| c.client_id.to_string()).collect();
    let want: Vec<String> = expected
        .iter()
        .filter(|cid| cid.contains("page_11"))
        .take(5)
        .cloned()
        .collect();
    assert_eq!(got, want);
    assert!(page.next.is_some());
}

async fn update_replaces_metadata(env: Env) {
    let clients = env.store.clients();
    let original = client("ts_upd", "Before Name", at(0));
    clients
        .create(&original, None, &audit("client.created", "ts_upd"))
        .await
        .unwrap();

    let mut changed = full_client("ts_upd", "Äfter Name", at(0));
    changed.is_default = false;
    changed.tokens_revoked_before = None;
    changed.metadata.status = ClientStatus::Disabled;
    changed.metadata.scope = ScopeSet::from_trusted("openid email");
    changed.metadata.description = None;
    changed.metadata.access_token_ttl_seconds = None;
    changed.updated_at = at(30);
    clients
        .update(&changed, &audit("client.updated", "ts_upd"))
        .await
        .unwrap();

    let stored = clients.get(&original.client_id).await.unwrap().unwrap();
    assert_eq!(stored, changed);
    assert_eq!(stored.created_at, original.created_at);
    // The search column follows the new name.
    assert_eq!(ids(&env.store, filter(Some("äfter"), 10)).await, ["ts_upd"]);
    assert!(ids(&env.store, filter(Some("before"), 10)).await.is_empty());
    assert_eq!(
        audit_actions(&env.store).await,
        ["client.updated", "client.created"]
    );
}

async fn update_and_delete_of_missing_client_are_not_found(env: Env) {
    let clients = env.store.clients();
    let ghost = client("ts_ghost", "Ghost", at(0));
    assert_eq!(
        clients
            .update(&ghost, &audit("client.updated", "ts_ghost"))
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        clients
            .delete(&ghost.client_id, &audit("client.deleted", "ts_ghost"))
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        clients
            .revoke_tokens(
                &ghost.client_id,
                at(0),
                &audit("client.tokens_revoked", "ts_ghost")
            )
            .await,
        Err(StoreError::NotFound)
    );
    assert!(
        audit_actions(&env.store).await.is_empty(),
        "failed mutations write no audit entry"
    );
    assert_eq!(clients.count().await.unwrap(), 0);
}

async fn delete_cascades_to_secrets(env: Env) {
    let clients = env.store.clients();
    let c = client("ts_del", "Doomed", at(0));
    clients
        .create(
            &c,
            Some(&secret("ts_del", "sec-1", at(0))),
            &audit("client.created", "ts_del"),
        )
        .await
        .unwrap();
    env.store
        .secrets()
        .rotate(
            &c.client_id,
            &secret("ts_del", "sec-2", at(1)),
            at(3600),
            2,
            at(1),
            &audit("client.secret_rotated", "ts_del"),
        )
        .await
        .unwrap();
    let keep = client("ts_keep", "Kept", at(0));
    clients
        .create(
            &keep,
            Some(&secret("ts_keep", "sec-k", at(0))),
            &audit("client.created", "ts_keep"),
        )
        .await
        .unwrap();

    clients
        .delete(&c.client_id, &audit("client.deleted", "ts_del"))
        .await
        .unwrap();
    assert_eq!(clients.get(&c.client_id).await.unwrap(), None);
    assert!(
        env.store
            .secrets()
            .list(&c.client_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        env.store
            .secrets()
            .list(&keep.client_id)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(clients.count().await.unwrap(), 1);
    // The id is free again, and the new client starts without the old secrets.
    clients
        .create(&c, None, &audit("client.created", "ts_del"))
        .await
        .unwrap();
    assert!(
        env.store
            .secrets()
            .list(&c.client_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(audit_actions(&env.store).await[1], "client.deleted");
}

async fn revoke_tokens_sets_the_cutoff(env: Env) {
    let clients = env.store.clients();
    let c = client("ts_rev", "Revoker", at(0));
    clients
        .create(&c, None, &audit("client.created", "ts_rev"))
        .await
        .unwrap();
    clients
        .revoke_tokens(
            &c.client_id,
            at(100),
            &audit("client.tokens_revoked", "ts_rev"),
        )
        .await
        .unwrap();
    let stored = clients.get(&c.client_id).await.unwrap().unwrap();
    assert_eq!(stored.tokens_revoked_before, Some(at(100)));
    assert_eq!(stored.metadata, c.metadata);
    assert_eq!(audit_actions(&env.store).await[0], "client.tokens_revoked");
}

async fn update_moves_the_token_cutoff_only_forward(env: Env) {
    let clients = env.store.clients();
    let c = client("ts_cut", "Cutoff", at(0));
    clients
        .create(&c, None, &audit("client.created", "ts_cut"))
        .await
        .unwrap();
    clients
        .revoke_tokens(
            &c.client_id,
            at(100),
            &audit("client.tokens_revoked", "ts_cut"),
        )
        .await
        .unwrap();
    let cutoff =
        |stored: Option<thetasecure_core::client::Client>| stored.unwrap().tokens_revoked_before;
    for (written, expected) in [
        (None, at(100)),
        (Some(at(50)), at(100)),
        (Some(at(200)), at(200)),
    ] {
        let mut changed = c.clone();
        changed.tokens_revoked_before = written;
        clients
            .update(&changed, &audit("client.updated", "ts_cut"))
            .await
            .unwrap();
        assert_eq!(
            cutoff(clients.get(&c.client_id).await.unwrap()),
            Some(expected),
            "{written:?}"
        );
    }
}
