use thetasecure_store::StoreError;

use crate::support::*;

conformance!(
    rotate_keeps_old_secrets_for_the_grace_period,
    rotate_refuses_more_than_max_active,
    rotate_without_grace_retires_old_secrets_at_once,
    rotate_for_missing_client_is_not_found,
    revoke_rules,
    record_last_used_only_moves_forward,
);

async fn setup(env: &Env, client_id: &str) {
    setup_with(env, client_id, "s1").await;
}

async fn setup_with(env: &Env, client_id: &str, secret_id: &str) {
    env.store
        .clients()
        .create(
            &client(client_id, "Secretive", at(0)),
            Some(&secret(client_id, secret_id, at(0))),
            &audit("client.created", client_id),
        )
        .await
        .unwrap();
}

async fn rotate_keeps_old_secrets_for_the_grace_period(env: Env) {
    setup(&env, "ts_rot").await;
    let secrets = env.store.secrets();
    let cid = id("ts_rot");
    secrets
        .rotate(
            &cid,
            &secret("ts_rot", "s2", at(10)),
            at(3600),
            2,
            at(10),
            &audit("client.secret_rotated", "ts_rot"),
        )
        .await
        .unwrap();
    let list = secrets.list(&cid).await.unwrap();
    assert_eq!(
        list.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["s1", "s2"],
        "oldest first"
    );
    assert_eq!(list[0].expires_at, Some(at(3600)));
    assert_eq!(list[1], secret("ts_rot", "s2", at(10)));
    assert!(list.iter().all(|s| s.is_active(at(10))));

    // After the grace period s1 is inactive; rotating again shortens s2 but never
    // lengthens an earlier expiry (min).
    secrets
        .rotate(
            &cid,
            &secret("ts_rot", "s3", at(4000)),
            at(4100),
            2,
            at(4000),
            &audit("client.secret_rotated", "ts_rot"),
        )
        .await
        .unwrap();
    let list = secrets.list(&cid).await.unwrap();
    assert_eq!(
        list[0].expires_at,
        Some(at(3600)),
        "an expired secret is left alone"
    );
    assert_eq!(list[1].expires_at, Some(at(4100)));
    assert_eq!(list[2].expires_at, None);

    secrets
        .rotate(
            &cid,
            &secret("ts_rot", "s4", at(4010)),
            at(9999),
            3,
            at(4010),
            &audit("client.secret_rotated", "ts_rot"),
        )
        .await
        .unwrap();
    let list = secrets.list(&cid).await.unwrap();
    assert_eq!(
        list[1].expires_at,
        Some(at(4100)),
        "min(expires_at, old_expire_at)"
    );
    assert_eq!(list[2].expires_at, Some(at(9999)));
    assert_eq!(
        audit_actions(&env.store).await,
        [
            "client.secret_rotated",
            "client.secret_rotated",
            "client.secret_rotated",
            "client.created"
        ]
    );
}

async fn rotate_refuses_more_than_max_active(env: Env) {
    setup(&env, "ts_max").await;
    let secrets = env.store.secrets();
    let cid = id("ts_max");
    secrets
        .rotate(
            &cid,
            &secret("ts_max", "s2", at(10)),
            at(3600),
            2,
            at(10),
            &audit("client.secret_rotated", "ts_max"),
        )
        .await
        .unwrap();
    let before = secrets.list(&cid).await.unwrap();
    let err = secrets
        .rotate(
            &cid,
            &secret("ts_max", "s3", at(20)),
            at(1800),
            2,
            at(20),
            &audit("client.secret_rotated", "ts_max"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(
        secrets.list(&cid).await.unwrap(),
        before,
        "a refused rotation changes nothing"
    );
    assert_eq!(
        audit_actions(&env.store).await.len(),
        2,
        "and writes no audit entry"
    );
}

async fn rotate_without_grace_retires_old_secrets_at_once(env: Env) {
    setup(&env, "ts_now").await;
    let secrets = env.store.secrets();
    let cid = id("ts_now");
    secrets
        .rotate(
            &cid,
            &secret("ts_now", "s2", at(10)),
            at(10),
            1,
            at(10),
            &audit("client.secret_rotated", "ts_now"),
        )
        .await
        .unwrap();
    let list = secrets.list(&cid).await.unwrap();
    assert_eq!(list[0].expires_at, Some(at(10)));
    assert!(!list[0].is_active(at(10)));
    assert!(list[1].is_active(at(10)));
}

async fn rotate_for_missing_client_is_not_found(env: Env) {
    let result = env
        .store
        .secrets()
        .rotate(
            &id("ts_none"),
            &secret("ts_none", "s1", at(0)),
            at(0),
            2,
            at(0),
            &audit("client.secret_rotated", "x"),
        )
        .await;
    assert_eq!(result, Err(StoreError::NotFound));
    assert!(audit_actions(&env.store).await.is_empty());
}

async fn revoke_rules(env: Env) {
    setup(&env, "ts_rv").await;
    setup_with(&env, "ts_other", "o1").await;
    let secrets = env.store.secrets();
    let cid = id("ts_rv");
    let revoke = |secret_id: &'static str, now| {
        let cid = cid.clone();
        let store = env.store.clone();
        async move {
            store
                .secrets()
                .revoke(
                    &cid,
                    secret_id,
                    now,
                    &audit("client.secret_revoked", "ts_rv"),
                )
                .await
        }
    };
    assert_eq!(revoke("nope", at(1)).await, Err(StoreError::NotFound));
    assert_eq!(
        revoke("o1", at(1)).await,
        Err(StoreError::NotFound),
        "another client's secret"
    );
    assert!(matches!(
        revoke("s1", at(1)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(secrets.list(&cid).await.unwrap()[0].revoked_at, None);

    secrets
        .rotate(
            &cid,
            &secret("ts_rv", "s2", at(10)),
            at(3600),
            2,
            at(10),
            &audit("client.secret_rotated", "ts_rv"),
        )
        .await
        .unwrap();
    revoke("s1", at(20)).await.unwrap();
    let list = secrets.list(&cid).await.unwrap();
    assert_eq!(list[0].revoked_at, Some(at(20)));
    assert!(
        matches!(revoke("s2", at(30)).await, Err(StoreError::Conflict(_))),
        "s2 is the last active one"
    );
    // Revoking an inactive secret again is allowed and keeps the first revocation time.
    revoke("s1", at(40)).await.unwrap();
    assert_eq!(
        secrets.list(&cid).await.unwrap()[0].revoked_at,
        Some(at(20))
    );
    let other = secrets.list(&id("ts_other")).await.unwrap();
    assert_eq!(
        other[0].revoked_at, None,
        "the other client's secret is untouched"
    );
    assert_eq!(
        audit_actions(&env.store).await[..3],
        [
            "client.secret_revoked",
            "client.secret_revoked",
            "client.secret_rotated"
        ]
    );
}

async fn record_last_used_only_moves_forward(env: Env) {
    setup(&env, "ts_use").await;
    let secrets = env.store.secrets();
    let cid = id("ts_use");
    secrets.record_last_used(&[]).await.unwrap();
    secrets
        .record_last_used(&[("s1".to_owned(), at(50))])
        .await
        .unwrap();
    assert_eq!(
        secrets.list(&cid).await.unwrap()[0].last_used_at,
        Some(at(50))
    );
    secrets
        .record_last_used(&[("s1".to_owned(), at(40)), ("unknown".to_owned(), at(60))])
        .await
        .unwrap();
    assert_eq!(
        secrets.list(&cid).await.unwrap()[0].last_used_at,
        Some(at(50)),
        "never moves back"
    );
    secrets
        .record_last_used(&[("s1".to_owned(), at(70)), ("s1".to_owned(), at(65))])
        .await
        .unwrap();
    assert_eq!(
        secrets.list(&cid).await.unwrap()[0].last_used_at,
        Some(at(70))
    );
}
