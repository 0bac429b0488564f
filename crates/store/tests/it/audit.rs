use crate::support::*;

conformance!(audit_lists_newest_first_with_paging);

async fn audit_lists_newest_first_with_paging(env: Env) {
    let log = env.store.audit();
    assert!(log.list(None, 10).await.unwrap().is_empty());
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

    let first = log.list(None, 10).await.unwrap();
    assert_eq!(
        first,
        written[..10],
        "newest first, every field round-trips"
    );
    let second = log.list(Some(&first[9].id), 10).await.unwrap();
    assert_eq!(second, written[10..20]);
    let third = log.list(Some(&second[9].id), 10).await.unwrap();
    assert_eq!(third, written[20..]);
    assert!(log.list(Some(&third[4].id), 10).await.unwrap().is_empty());
    assert!(log.list(None, 0).await.unwrap().is_empty());
}
