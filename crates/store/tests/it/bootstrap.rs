use thetasecure_core::client::default_clients;
use thetasecure_core::scope::BUILTIN_SCOPES;
use thetasecure_store::{AuditEntry, BootstrapPlan, Store};

use crate::support::*;

conformance!(bootstrap_provisions_once, bootstrap_race_provisions_once);

fn plan() -> BootstrapPlan {
    BootstrapPlan {
        scopes: BUILTIN_SCOPES.iter().map(|s| scope(s.name, true)).collect(),
        clients: default_clients()
            .into_iter()
            .map(|d| {
                let mut c = client(d.client_id, "x", NOW);
                c.metadata = d.metadata;
                c.is_default = true;
                let secret = c
                    .metadata
                    .is_confidential()
                    .then(|| secret(d.client_id, &format!("{}-s", d.client_id), NOW));
                (c, secret)
            })
            .collect(),
        admin_user: user("u-admin", "Admin", true, NOW),
    }
}

fn plan_audit() -> Vec<AuditEntry> {
    vec![
        audit("bootstrap.provisioned", "store"),
        audit("user.created", "Admin"),
    ]
}

async fn assert_provisioned(store: &Store) {
    let plan = plan();
    assert_eq!(store.clients().count().await.unwrap(), 4);
    for (client, secret) in &plan.clients {
        assert_eq!(
            store
                .clients()
                .get(&client.client_id)
                .await
                .unwrap()
                .as_ref(),
            Some(client)
        );
        let secrets = store.secrets().list(&client.client_id).await.unwrap();
        assert_eq!(secrets, secret.iter().cloned().collect::<Vec<_>>());
    }
    assert_eq!(
        store.scopes().list().await.unwrap().len(),
        BUILTIN_SCOPES.len()
    );
    assert_eq!(audit_actions(store).await.len(), 2);
    assert_eq!(
        store.users().get("u-admin").await.unwrap(),
        Some(plan.admin_user.user)
    );
}

async fn bootstrap_provisions_once(env: Env) {
    assert!(
        env.store
            .bootstrap()
            .provision(&plan(), &plan_audit())
            .await
            .unwrap()
    );
    assert_provisioned(&env.store).await;
    assert!(
        !env.store
            .bootstrap()
            .provision(&plan(), &plan_audit())
            .await
            .unwrap()
    );
    assert_provisioned(&env.store).await;
}

async fn bootstrap_race_provisions_once(env: Env) {
    let other = env.second_store().await;
    let (plan_a, plan_b, audit_a, audit_b) = (plan(), plan(), plan_audit(), plan_audit());
    let (boot_a, boot_b) = (env.store.bootstrap(), other.bootstrap());
    let (a, b) = tokio::join!(
        boot_a.provision(&plan_a, &audit_a),
        boot_b.provision(&plan_b, &audit_b)
    );
    assert!(a.unwrap() ^ b.unwrap(), "exactly one instance provisions");
    assert_provisioned(&env.store).await;
    other.close().await;
}
