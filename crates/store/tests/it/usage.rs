use thetasecure_core::Timestamp;
use thetasecure_core::usage::{DayUsage, UtcDay};
use thetasecure_store::{UsageIncrement, UsageRecord};

use crate::support::*;

conformance!(
    batches_add_up_per_client_and_day,
    the_read_covers_the_window_and_the_last_authentication_before_it,
    a_deleted_client_takes_its_usage_and_later_batches_skip_it,
);

fn today() -> UtcDay {
    UtcDay::of(NOW)
}

fn increment(client_id: &str, day: UtcDay, tokens_issued: u64, at: Timestamp) -> UsageIncrement {
    UsageIncrement {
        client_id: id(client_id),
        day,
        tokens_issued,
        last_authenticated_at: at,
    }
}

fn day(day: UtcDay, tokens_issued: u64) -> DayUsage {
    DayUsage { day, tokens_issued }
}

async fn batches_add_up_per_client_and_day(env: Env) {
    create_clients(&env.store, &[("ts_busy", "Busy"), ("ts_idle", "Idle")]).await;
    let usage = env.store.client_usage();
    let (today, yesterday) = (today(), today().minus(1));
    usage.record(&[]).await.unwrap();
    assert_eq!(
        usage.of_client(&id("ts_busy"), yesterday).await.unwrap(),
        UsageRecord::default()
    );

    // One batch may name a (client, day) twice: it adds up, and the later time stays.
    usage
        .record(&[
            increment("ts_busy", yesterday, 5, at(-86_400)),
            increment("ts_busy", today, 3, at(10)),
            increment("ts_busy", today, 4, at(5)),
        ])
        .await
        .unwrap();
    // A later batch adds to the stored counters; an earlier time never moves back.
    usage
        .record(&[
            increment("ts_busy", today, 10, at(1)),
            increment("ts_idle", today, 0, at(2)),
        ])
        .await
        .unwrap();
    assert_eq!(
        usage.of_client(&id("ts_busy"), yesterday).await.unwrap(),
        UsageRecord {
            days: vec![day(yesterday, 5), day(today, 17)],
            last_authenticated_at: Some(at(10)),
        }
    );
    // An authentication without a token is a day with 0 tokens and its time.
    assert_eq!(
        usage.of_client(&id("ts_idle"), yesterday).await.unwrap(),
        UsageRecord {
            days: vec![day(today, 0)],
            last_authenticated_at: Some(at(2)),
        }
    );

    // Counts beyond what a flush of one instance holds in practice still add up.
    let many: Vec<UsageIncrement> = (0..300)
        .map(|n| increment("ts_busy", today.minus(n), 1, at(-86_400 * n)))
        .collect();
    usage.record(&many).await.unwrap();
    let record = usage
        .of_client(&id("ts_busy"), today.minus(299))
        .await
        .unwrap();
    assert_eq!(record.days.len(), 300);
    assert_eq!(
        record.days.iter().map(|d| d.tokens_issued).sum::<u64>(),
        300 + 22
    );
    assert_eq!(record.last_authenticated_at, Some(at(10)));
}

async fn the_read_covers_the_window_and_the_last_authentication_before_it(env: Env) {
    create_client(&env.store, "ts_old", "Old", at(0)).await;
    let usage = env.store.client_usage();
    let since = UtcDay::window_start(today());
    usage
        .record(&[
            increment("ts_old", since.minus(40), 9, at(-86_400 * 69)),
            increment("ts_old", since.minus(1), 8, at(-86_400 * 30)),
        ])
        .await
        .unwrap();
    // Nothing in the window, but the last authentication before it is still known.
    assert_eq!(
        usage.of_client(&id("ts_old"), since).await.unwrap(),
        UsageRecord {
            days: Vec::new(),
            last_authenticated_at: Some(at(-86_400 * 30)),
        }
    );
    usage
        .record(&[
            increment("ts_old", since, 1, at(-86_400 * 29)),
            increment("ts_old", today(), 2, at(0)),
        ])
        .await
        .unwrap();
    assert_eq!(
        usage.of_client(&id("ts_old"), since).await.unwrap(),
        UsageRecord {
            days: vec![day(since, 1), day(today(), 2)],
            last_authenticated_at: Some(at(0)),
        }
    );
}

async fn a_deleted_client_takes_its_usage_and_later_batches_skip_it(env: Env) {
    create_user_and_client(&env.store).await;
    create_other_user_and_client(&env.store).await;
    let usage = env.store.client_usage();
    usage
        .record(&[
            increment("ts_app", today(), 1, at(0)),
            increment("ts_other", today(), 2, at(0)),
        ])
        .await
        .unwrap();
    delete_other_user_and_client(&env.store).await;
    assert_eq!(
        usage.of_client(&id("ts_other"), today()).await.unwrap(),
        UsageRecord::default()
    );
    // Noted before the delete, flushed after it: dropped, and the rest still written.
    usage
        .record(&[
            increment("ts_other", today(), 5, at(1)),
            increment("ts_app", today(), 3, at(1)),
        ])
        .await
        .unwrap();
    assert_eq!(
        usage.of_client(&id("ts_other"), today()).await.unwrap(),
        UsageRecord::default()
    );
    assert_eq!(
        usage.of_client(&id("ts_app"), today()).await.unwrap(),
        UsageRecord {
            days: vec![day(today(), 4)],
            last_authenticated_at: Some(at(1)),
        }
    );
}
