use crate::support::*;

conformance!(
    insert_if_none_active_inserts_once_per_alg,
    insert_if_none_active_race_has_one_winner,
    rotate_retires_and_inserts
);

async fn insert_if_none_active_inserts_once_per_alg(env: Env) {
    let keys = env.store.signing_keys();
    assert!(keys.list().await.unwrap().is_empty());
    assert!(
        keys.insert_if_none_active(&key("k1", "ES256", at(0)))
            .await
            .unwrap()
    );
    assert!(
        !keys
            .insert_if_none_active(&key("k2", "ES256", at(1)))
            .await
            .unwrap()
    );
    assert!(
        keys.insert_if_none_active(&key("k3", "EdDSA", at(2)))
            .await
            .unwrap()
    );
    assert_eq!(
        keys.list().await.unwrap(),
        vec![key("k3", "EdDSA", at(2)), key("k1", "ES256", at(0))],
        "newest first"
    );
}

async fn insert_if_none_active_race_has_one_winner(env: Env) {
    let other = env.second_store().await;
    let (keys_a, keys_b) = (env.store.signing_keys(), other.signing_keys());
    for round in 0..5 {
        let alg = format!("RS{round}");
        let a = key(&format!("a{round}"), &alg, at(round));
        let b = key(&format!("b{round}"), &alg, at(round));
        let (first, second) = tokio::join!(
            keys_a.insert_if_none_active(&a),
            keys_b.insert_if_none_active(&b)
        );
        assert!(
            first.unwrap() ^ second.unwrap(),
            "round {round}: exactly one insert wins"
        );
    }
    let active = env.store.signing_keys().list().await.unwrap();
    assert_eq!(active.len(), 5);
    other.close().await;
}

async fn rotate_retires_and_inserts(env: Env) {
    let keys = env.store.signing_keys();
    keys.insert_if_none_active(&key("old", "ES256", at(0)))
        .await
        .unwrap();
    keys.insert_if_none_active(&key("ed", "EdDSA", at(1)))
        .await
        .unwrap();
    keys.rotate(&key("new", "ES256", at(10)), at(10))
        .await
        .unwrap();
    let list = keys.list().await.unwrap();
    let kid = |kid: &str| list.iter().find(|k| k.kid == kid).unwrap().clone();
    assert_eq!(list[0].kid, "new");
    assert_eq!(kid("old").retired_at, Some(at(10)));
    assert_eq!(kid("new").retired_at, None);
    assert_eq!(kid("ed").retired_at, None, "another alg is untouched");
    // The new key is now the active one.
    assert!(
        !keys
            .insert_if_none_active(&key("x", "ES256", at(11)))
            .await
            .unwrap()
    );
    // Rotating with no active key of that alg just inserts.
    keys.rotate(&key("rs", "RS256", at(12)), at(12))
        .await
        .unwrap();
    assert_eq!(keys.list().await.unwrap().len(), 4);
}
