//! The log of client changes (#15): every change to a client adds a row in the changing
//! transaction (a rolled-back one adds none), a reader on its own connection reports
//! what another store (another instance, the CLI) committed once each, rows are pruned
//! by age, and one read fetches a client with its active secrets.

use std::time::Duration;

use thetasecure_core::client::Client;
use thetasecure_core::grant::ClientStatus;
use thetasecure_store::{ClientChangesRead, StoreError};

use crate::support::*;

conformance!(
    every_kind_of_client_change_is_logged,
    a_reader_reports_each_change_made_elsewhere_once,
    the_log_is_pruned_by_age,
    a_client_is_read_with_its_active_secrets_in_one_go,
);

async fn logged_ids(env: &Env, after: i64) -> Vec<String> {
    env.store
        .client_changes()
        .since(after)
        .await
        .unwrap()
        .into_iter()
        .map(|record| record.client_id.to_string())
        .collect()
}

async fn highest_seq(env: &Env) -> i64 {
    let all = env.store.client_changes().since(0).await.unwrap();
    all.last().map_or(0, |record| record.seq)
}

fn disabled(mut client: Client) -> Client {
    client.metadata.status = ClientStatus::Disabled;
    client
}

async fn every_kind_of_client_change_is_logged(env: Env) {
    let store = &env.store;
    let cid = id("ts_logged");
    store
        .clients()
        .create(
            &client("ts_logged", "Logged", NOW),
            Some(&secret("ts_logged", "s1", NOW)),
            &audit("client.created", "ts_logged"),
        )
        .await
        .unwrap();
    // A create is not logged: its id is new, so no instance can hold it.
    let start = highest_seq(&env).await;
    assert_eq!(logged_ids(&env, start).await, Vec::<String>::new());

    let updated = disabled(client("ts_logged", "Logged", NOW));
    let clients = store.clients();
    clients
        .update(&updated, &audit("client.updated", "ts_logged"))
        .await
        .unwrap();
    clients
        .revoke_tokens(&cid, at(5), &audit("client.tokens_revoked", "ts_logged"))
        .await
        .unwrap();
    store
        .secrets()
        .rotate(
            &cid,
            &secret("ts_logged", "s2", at(10)),
            at(3600),
            5,
            at(10),
            &audit("client.secret_rotated", "ts_logged"),
        )
        .await
        .unwrap();
    store
        .secrets()
        .revoke(
            &cid,
            "s1",
            at(20),
            &audit("client.secret_revoked", "ts_logged"),
        )
        .await
        .unwrap();
    // Rolled back (no such client): nothing logged.
    let ghost = client("ts_ghost", "Ghost", NOW);
    let missing = clients
        .update(&ghost, &audit("client.updated", "ts_ghost"))
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)));
    clients
        .delete(&cid, &audit("client.deleted", "ts_logged"))
        .await
        .unwrap();

    let logged = store.client_changes().since(start).await.unwrap();
    let ids: Vec<String> = logged.iter().map(|r| r.client_id.to_string()).collect();
    assert_eq!(
        ids, ["ts_logged"; 5],
        "update, cut-off, rotation, revocation, delete"
    );
    assert!(
        logged.windows(2).all(|pair| pair[0].seq < pair[1].seq),
        "in order"
    );
    // Read from a number on: only what came after it.
    assert_eq!(logged_ids(&env, logged[2].seq).await, ["ts_logged"; 2]);
}

async fn a_reader_reports_each_change_made_elsewhere_once(env: Env) {
    create_clients(&env.store, &[("ts_one", "One"), ("ts_two", "Two")]).await;
    let mut reader = env.store.client_changes().reader();
    assert_eq!(
        reader.read().await.unwrap(),
        ClientChangesRead::Changed(Vec::new())
    );
    assert_eq!(
        reader.read().await.unwrap(),
        ClientChangesRead::Changed(Vec::new()),
        "nothing committed since"
    );

    // Another process (the CLI, another instance) changes a client.
    let elsewhere = env.second_store().await;
    elsewhere
        .clients()
        .update(
            &disabled(client("ts_two", "Two", at(1))),
            &audit("client.updated", "ts_two"),
        )
        .await
        .unwrap();
    assert_eq!(
        reader.read().await.unwrap(),
        ClientChangesRead::Changed(vec![id("ts_two")])
    );
    // Re-read within the overlap window, but reported once.
    assert_eq!(
        reader.read().await.unwrap(),
        ClientChangesRead::Changed(Vec::new())
    );

    elsewhere
        .clients()
        .delete(&id("ts_one"), &audit("client.deleted", "ts_one"))
        .await
        .unwrap();
    env.store
        .clients()
        .revoke_tokens(
            &id("ts_two"),
            at(9),
            &audit("client.tokens_revoked", "ts_two"),
        )
        .await
        .unwrap();
    assert_eq!(
        reader.read().await.unwrap(),
        ClientChangesRead::Changed(vec![id("ts_one"), id("ts_two")]),
        "this store's own changes too"
    );
    elsewhere.close().await;
}

async fn the_log_is_pruned_by_age(env: Env) {
    create_clients(&env.store, &[("ts_one", "One")]).await;
    for n in 0..3 {
        env.store
            .clients()
            .revoke_tokens(
                &id("ts_one"),
                at(n),
                &audit("client.tokens_revoked", "ts_one"),
            )
            .await
            .unwrap();
    }
    let changes = env.store.client_changes();
    let before = highest_seq(&env).await;
    assert_eq!(changes.prune().await.unwrap(), 0, "none is ten minutes old");
    assert_eq!(logged_ids(&env, 0).await.len(), 3);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(changes.prune_older_than(Duration::ZERO).await.unwrap(), 3);
    assert!(logged_ids(&env, 0).await.is_empty());
    // Numbers are not handed out again after the highest row was pruned.
    env.store
        .clients()
        .revoke_tokens(
            &id("ts_one"),
            at(5),
            &audit("client.tokens_revoked", "ts_one"),
        )
        .await
        .unwrap();
    assert!(highest_seq(&env).await > before);
}

async fn a_client_is_read_with_its_active_secrets_in_one_go(env: Env) {
    let store = &env.store;
    let clients = store.clients();
    assert_eq!(
        clients
            .get_with_active_secrets(&id("ts_none"), NOW)
            .await
            .unwrap(),
        None
    );
    // A public client: no secret at all.
    create_client(store, "ts_public", "Public", NOW).await;
    let (found, secrets) = clients
        .get_with_active_secrets(&id("ts_public"), NOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, client("ts_public", "Public", NOW));
    assert!(secrets.is_empty());

    let cid = id("ts_conf");
    clients
        .create(
            &client("ts_conf", "Confidential", NOW),
            Some(&secret("ts_conf", "s1", NOW)),
            &audit("client.created", "ts_conf"),
        )
        .await
        .unwrap();
    // s1 is kept for an hour's grace; s2 and s3 are new; then s3 is revoked.
    for (sid, at_s) in [("s2", 10), ("s3", 20)] {
        store
            .secrets()
            .rotate(
                &cid,
                &secret("ts_conf", sid, at(at_s)),
                at(3600),
                5,
                at(at_s),
                &audit("client.secret_rotated", "ts_conf"),
            )
            .await
            .unwrap();
    }
    store
        .secrets()
        .revoke(
            &cid,
            "s3",
            at(30),
            &audit("client.secret_revoked", "ts_conf"),
        )
        .await
        .unwrap();
    let active = |now| async move {
        let (found, secrets) = store
            .clients()
            .get_with_active_secrets(&id("ts_conf"), now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.client_id, id("ts_conf"));
        secrets.into_iter().map(|s| s.id).collect::<Vec<_>>()
    };
    assert_eq!(
        active(at(40)).await,
        ["s1", "s2"],
        "oldest first, not the revoked"
    );
    assert_eq!(active(at(3600)).await, Vec::<String>::new(), "grace over");
    let full = store.secrets().list(&cid).await.unwrap();
    let (_, now_active) = clients
        .get_with_active_secrets(&cid, at(40))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now_active[0], full[0], "every field read back");
}
