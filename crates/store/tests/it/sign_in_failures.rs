use crate::support::*;

conformance!(
    failures_counted_per_key_and_window,
    concurrent_failures_are_all_counted
);

const WINDOW_MS: i64 = 15 * 60 * 1000;

async fn failures_counted_per_key_and_window(env: Env) {
    let failures = env.store.sign_in_failures();
    let key = "user:alice";
    assert_eq!(failures.count(key, NOW, WINDOW_MS).await.unwrap(), 0);
    assert_eq!(failures.record(key, at(0), WINDOW_MS).await.unwrap(), 1);
    assert_eq!(failures.record(key, at(1), WINDOW_MS).await.unwrap(), 2);
    assert_eq!(
        failures
            .record("ip:192.0.2.1", at(1), WINDOW_MS)
            .await
            .unwrap(),
        1
    );
    assert_eq!(failures.record(key, at(899), WINDOW_MS).await.unwrap(), 3);
    assert_eq!(failures.count(key, at(899), WINDOW_MS).await.unwrap(), 3);
    assert_eq!(
        failures
            .count("user:ALICE", at(899), WINDOW_MS)
            .await
            .unwrap(),
        0
    );

    // The window began at(0) and ends 15 min later; the next failure starts a new one.
    assert_eq!(failures.count(key, at(900), WINDOW_MS).await.unwrap(), 0);
    assert_eq!(failures.record(key, at(900), WINDOW_MS).await.unwrap(), 1);
    assert_eq!(failures.record(key, at(1000), WINDOW_MS).await.unwrap(), 2);
    assert_eq!(failures.count(key, at(1799), WINDOW_MS).await.unwrap(), 2);

    failures.clear(key).await.unwrap();
    assert_eq!(failures.count(key, at(1000), WINDOW_MS).await.unwrap(), 0);
    assert_eq!(failures.record(key, at(1001), WINDOW_MS).await.unwrap(), 1);

    // ip:… began at(1), user:alice at(1001).
    assert_eq!(failures.purge_expired(at(900), WINDOW_MS).await.unwrap(), 0);
    assert_eq!(failures.purge_expired(at(901), WINDOW_MS).await.unwrap(), 1);
    assert_eq!(failures.count(key, at(901), WINDOW_MS).await.unwrap(), 1);
    assert_eq!(
        failures.purge_expired(at(1901), WINDOW_MS).await.unwrap(),
        1
    );
    assert_eq!(failures.count(key, at(1000), WINDOW_MS).await.unwrap(), 0);
}

async fn concurrent_failures_are_all_counted(env: Env) {
    let stores = [env.store.clone(), env.second_store().await];
    let calls = 40;
    let racers = (0..calls).map(|n| {
        let store = stores[n % 2].clone();
        tokio::spawn(async move {
            store
                .sign_in_failures()
                .record("ip:198.51.100.7", at(1), WINDOW_MS)
                .await
        })
    });
    let mut counts: Vec<u32> = futures::future::join_all(racers)
        .await
        .into_iter()
        .map(|joined| joined.unwrap().unwrap())
        .collect();
    counts.sort_unstable();
    assert_eq!(
        counts,
        (1..=40).collect::<Vec<u32>>(),
        "each call saw its own count"
    );
    let failures = env.store.sign_in_failures();
    let total = failures.count("ip:198.51.100.7", at(2), WINDOW_MS).await;
    assert_eq!(total.unwrap(), 40);
    stores[1].close().await;
}
