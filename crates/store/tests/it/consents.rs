use thetasecure_store::{ConsentRecord, StoreError};

use crate::support::*;

conformance!(
    consents_granted_widened_listed_and_revoked,
    consents_go_with_their_user_and_client
);

fn consent(user_id: &str, client_id: &str, scope: &str, n: i64) -> ConsentRecord {
    ConsentRecord {
        user_id: user_id.to_owned(),
        client_id: id(client_id),
        scope: scope.to_owned(),
        granted_at: at(n),
    }
}

async fn consents_granted_widened_listed_and_revoked(env: Env) {
    create_user_and_client(&env.store).await;
    create_other_user_and_client(&env.store).await;
    let consents = env.store.consents();
    assert_eq!(consents.get("u-1", &id("ts_app")).await.unwrap(), None);

    consents
        .grant(&consent("u-1", "ts_app", "openid", 1))
        .await
        .unwrap();
    consents
        .grant(&consent("u-1", "ts_other", "openid", 2))
        .await
        .unwrap();
    consents
        .grant(&consent("u-2", "ts_app", "openid", 3))
        .await
        .unwrap();
    // Asking for more replaces the stored scope with the union the caller passes.
    let widened = consent("u-1", "ts_app", "openid profile", 4);
    consents.grant(&widened).await.unwrap();
    assert_eq!(
        consents.get("u-1", &id("ts_app")).await.unwrap(),
        Some(widened.clone())
    );
    assert_eq!(
        consents.list_for_user("u-1").await.unwrap(),
        [widened.clone(), consent("u-1", "ts_other", "openid", 2)],
        "newest first"
    );
    assert!(consents.list_for_user("u-9").await.unwrap().is_empty());
    assert_eq!(
        consents
            .grant(&consent("u-9", "ts_app", "openid", 5))
            .await
            .unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(
        consents
            .grant(&consent("u-1", "ts_gone", "openid", 5))
            .await
            .unwrap_err(),
        StoreError::NotFound
    );

    consents
        .revoke("u-1", &id("ts_app"), &audit("user.consent_revoked", "u-1"))
        .await
        .unwrap();
    assert_eq!(consents.get("u-1", &id("ts_app")).await.unwrap(), None);
    assert_eq!(
        consents
            .revoke("u-1", &id("ts_app"), &audit("user.consent_revoked", "u-1"))
            .await
            .unwrap_err(),
        StoreError::NotFound
    );
    assert!(consents.get("u-2", &id("ts_app")).await.unwrap().is_some());
    assert_eq!(consents.list_for_user("u-1").await.unwrap().len(), 1);
    let actions = audit_actions(&env.store).await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "user.consent_revoked")
            .count(),
        1,
        "only the revocation that happened is audited"
    );
}

async fn consents_go_with_their_user_and_client(env: Env) {
    create_user_and_client(&env.store).await;
    create_other_user_and_client(&env.store).await;
    let consents = env.store.consents();
    for (user, client) in [("u-1", "ts_app"), ("u-1", "ts_other"), ("u-2", "ts_app")] {
        consents
            .grant(&consent(user, client, "openid", 1))
            .await
            .unwrap();
    }
    delete_other_user_and_client(&env.store).await;
    assert_eq!(consents.get("u-1", &id("ts_other")).await.unwrap(), None);
    assert_eq!(consents.get("u-2", &id("ts_app")).await.unwrap(), None);
    assert!(consents.get("u-1", &id("ts_app")).await.unwrap().is_some());
}
