//! Client usage (#14 item 5): tokens issued per client per UTC day and the client's last
//! authentication, noted in memory on the token path and written in one batch by the
//! periodic flush that writes `last_used_at` (`notes`), never a write per token.

use thetasecure_core::Timestamp;
use thetasecure_core::ids::ClientId;
use thetasecure_core::usage::{ClientUsage, DayUsage, UtcDay};
use thetasecure_store::{Store, StoreError, UsageIncrement, UsageRecord};

use crate::notes::{Note, Notes, WriteFuture};

/// One client's usage since the last flush, by day: usually one day, two around
/// midnight.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Noted(Vec<NotedDay>);

#[derive(Debug, Clone, Copy, PartialEq)]
struct NotedDay {
    day: UtcDay,
    tokens_issued: u64,
    last_authenticated_at: Timestamp,
}

impl Noted {
    fn add(&mut self, noted: NotedDay) {
        match self.0.iter_mut().rev().find(|d| d.day == noted.day) {
            Some(day) => {
                day.tokens_issued = day.tokens_issued.saturating_add(noted.tokens_issued);
                day.last_authenticated_at =
                    day.last_authenticated_at.max(noted.last_authenticated_at);
            }
            None => self.0.push(noted),
        }
    }
}

impl Note for Noted {
    fn absorb(&mut self, other: Self) {
        for day in other.0 {
            self.add(day);
        }
    }
}

#[derive(Default)]
pub(crate) struct Usage {
    pending: Notes<ClientId, Noted>,
}

impl Usage {
    /// A successful client authentication, at any endpoint.
    pub(crate) fn authenticated(&self, client_id: &ClientId, now: Timestamp) {
        self.note(client_id, now, 0);
    }

    /// An access token issued to the client, by any grant. Counts as an authentication
    /// too: a public client proves nothing, and this is when it last showed up.
    pub(crate) fn token_issued(&self, client_id: &ClientId, now: Timestamp) {
        self.note(client_id, now, 1);
    }

    fn note(&self, client_id: &ClientId, now: Timestamp, tokens_issued: u64) {
        let noted = NotedDay {
            day: UtcDay::of(now),
            tokens_issued,
            last_authenticated_at: now,
        };
        self.pending
            .note(client_id, || Noted(vec![noted]), |days| days.add(noted));
    }

    /// A deleted client's notes, which no flush should try to write.
    pub(crate) fn forget(&self, client_id: &ClientId) {
        self.pending.forget(client_id);
    }

    /// The window ending `today`: what the store holds plus what this instance noted
    /// since its last flush.
    pub(crate) fn overlay(
        &self,
        client_id: &ClientId,
        today: UtcDay,
        stored: UsageRecord,
    ) -> ClientUsage {
        let noted = self.pending.get(client_id).map(|n| n.0).unwrap_or_default();
        let last_authenticated_at = noted
            .iter()
            .map(|d| d.last_authenticated_at)
            .chain(stored.last_authenticated_at)
            .max();
        let unwritten = noted.iter().map(|d| DayUsage {
            day: d.day,
            tokens_issued: d.tokens_issued,
        });
        ClientUsage::over_window(
            today,
            stored.days.into_iter().chain(unwritten),
            last_authenticated_at,
        )
    }

    /// Writes the notes a slice at a time (`Notes::flush`). A failed write is put back
    /// for the next flush: should the store have committed it and only the answer been
    /// lost, a day's count comes out high, which beats losing the counts of every outage.
    pub(crate) async fn flush(&self, store: &Store) -> Result<(), StoreError> {
        self.pending.flush(store, write_usage).await
    }
}

fn write_usage<'a>(store: &'a Store, batch: &'a [(ClientId, Noted)]) -> WriteFuture<'a> {
    let increments: Vec<UsageIncrement> = batch
        .iter()
        .flat_map(|(client_id, noted)| {
            noted.0.iter().map(|day| UsageIncrement {
                client_id: client_id.clone(),
                day: day.day,
                tokens_issued: day.tokens_issued,
                last_authenticated_at: day.last_authenticated_at,
            })
        })
        .collect();
    Box::pin(async move { store.client_usage().record(&increments).await })
}

#[cfg(test)]
mod tests {
    use thetasecure_core::usage::USAGE_WINDOW_DAYS;

    use super::*;

    const DAY_MS: i64 = 86_400_000;

    #[test]
    fn notes_count_tokens_per_day_and_keep_the_latest_authentication() {
        let usage = Usage::default();
        let client = ClientId::fixed("ts_usage");
        let midnight = Timestamp(20_000 * DAY_MS);
        usage.token_issued(&client, Timestamp(midnight.0 - 10));
        usage.authenticated(&client, Timestamp(midnight.0 - 5));
        usage.token_issued(&client, Timestamp(midnight.0 + 10));
        usage.token_issued(&client, Timestamp(midnight.0 + 5));
        usage.authenticated(&ClientId::fixed("ts_other"), midnight);

        let today = UtcDay::of(midnight);
        let stored = UsageRecord {
            days: vec![DayUsage {
                day: today.minus(1),
                tokens_issued: 4,
            }],
            last_authenticated_at: Some(Timestamp(midnight.0 - DAY_MS)),
        };
        let shown = usage.overlay(&client, today, stored);
        assert_eq!(shown.days.len(), USAGE_WINDOW_DAYS);
        assert_eq!(shown.days[USAGE_WINDOW_DAYS - 1].tokens_issued, 2);
        assert_eq!(shown.days[USAGE_WINDOW_DAYS - 2].tokens_issued, 5);
        assert_eq!(
            shown.last_authenticated_at,
            Some(Timestamp(midnight.0 + 10))
        );

        let noted = usage.pending.get(&client).unwrap();
        assert_eq!(
            noted.0,
            [
                NotedDay {
                    day: today.minus(1),
                    tokens_issued: 1,
                    last_authenticated_at: Timestamp(midnight.0 - 5)
                },
                NotedDay {
                    day: today,
                    tokens_issued: 2,
                    last_authenticated_at: Timestamp(midnight.0 + 10)
                },
            ]
        );
        usage.forget(&client);
        assert_eq!(usage.pending.get(&client), None);
    }
}
