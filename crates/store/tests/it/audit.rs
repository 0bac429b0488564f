use thetasecure_store::AuditFilter;

use crate::support::*;

conformance!(
    audit_lists_newest_first_with_paging,
    audit_filters_by_actor_action_and_target
);

async fn audit_lists_newest_first_with_paging(env: Env) {
    let log = env.store.audit();
    let all = AuditFilter::default();
    assert!(log.list(&all, None, 10).await.unwrap().is_empty());
    let mut written = Vec::new();
    for n in 0..25 {
        let mut entry = audit("user.sign_in_failed", &format!("user-{n}"));
        entry.at = at(n);
        entry.target_type = "user".into();
        entry.details = serde_json::json!({ "n": n, "reason": "bad password", "ip": null });
        log.record(&entry).await.unwrap();
        written.push(entry);
    }
    written.reverse();

    let first = log.list(&all, None, 10).await.unwrap();
    assert_eq!(
        first,
        written[..10],
        "newest first, every field round-trips"
    );
    let second = log.list(&all, Some(&first[9].id), 10).await.unwrap();
    assert_eq!(second, written[10..20]);
    let third = log.list(&all, Some(&second[9].id), 10).await.unwrap();
    assert_eq!(third, written[20..]);
    assert!(
        log.list(&all, Some(&third[4].id), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(log.list(&all, None, 0).await.unwrap().is_empty());
}

async fn audit_filters_by_actor_action_and_target(env: Env) {
    let log = env.store.audit();
    for (n, (actor, action, target)) in [
        ("user:admin", "client.created", "ts_a"),
        ("user:admin", "client.updated", "ts_a"),
        ("cli", "client.updated", "ts_b"),
        ("user:admin", "client.deleted", "ts_b"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut entry = audit(action, target);
        entry.at = at(n as i64);
        entry.actor = actor.into();
        log.record(&entry).await.unwrap();
    }
    let log = &log;
    let listed = |filter: AuditFilter| async move {
        log.list(&filter, None, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| format!("{} {} {}", e.actor, e.action, e.target_id))
            .collect::<Vec<_>>()
    };
    let by_actor = AuditFilter {
        actor: Some("user:admin".into()),
        ..AuditFilter::default()
    };
    assert_eq!(
        listed(by_actor.clone()).await,
        [
            "user:admin client.deleted ts_b",
            "user:admin client.updated ts_a",
            "user:admin client.created ts_a"
        ]
    );
    let both = AuditFilter {
        action: Some("client.updated".into()),
        target_id: Some("ts_b".into()),
        ..AuditFilter::default()
    };
    assert_eq!(listed(both).await, ["cli client.updated ts_b"]);
    let nothing = AuditFilter {
        actor: Some("user:ADMIN".into()),
        ..by_actor
    };
    assert!(listed(nothing).await.is_empty(), "exact, not case-folded");
}
