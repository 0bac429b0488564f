//! A client's usage as the console shows it (#14 item 5): tokens issued per UTC day and
//! when it last authenticated, so an administrator sees which clients are idle before
//! deleting them. The counting and storing live in `app` and `store`; the calendar
//! rules live here.

use time::OffsetDateTime;

use crate::Timestamp;

/// How many days the usage of a client covers, today included.
pub const USAGE_WINDOW_DAYS: usize = 30;

const MILLIS_PER_DAY: i64 = 86_400_000;

/// A calendar day in UTC, as the number of days since 1970-01-01: what the store keys
/// its counters by, so every instance and both engines agree on where a day ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcDay(pub i64);

impl UtcDay {
    pub fn of(at: Timestamp) -> Self {
        Self(at.0.div_euclid(MILLIS_PER_DAY))
    }

    /// `days` earlier (or later, when negative).
    pub fn minus(self, days: i64) -> Self {
        Self(self.0.saturating_sub(days))
    }

    /// ISO 8601, e.g. `2026-01-31`.
    pub fn to_iso_date(self) -> String {
        OffsetDateTime::from_unix_timestamp(self.0.saturating_mul(86_400))
            .map(|at| at.date().to_string())
            .unwrap_or_default()
    }

    /// The first day of the window that ends with `today`.
    pub fn window_start(today: Self) -> Self {
        today.minus(USAGE_WINDOW_DAYS as i64 - 1)
    }
}

/// Tokens issued to a client on one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayUsage {
    pub day: UtcDay,
    pub tokens_issued: u64,
}

/// A client's usage over the window ending today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientUsage {
    /// The last successful authentication (for a public client, the last token issued
    /// to it); `None` if never.
    pub last_authenticated_at: Option<Timestamp>,
    /// Exactly [`USAGE_WINDOW_DAYS`] days, oldest first, ending with today; days without
    /// tokens are there with 0.
    pub days: Vec<DayUsage>,
}

impl ClientUsage {
    /// The window ending on `today`, filled from `counted` (any order; days outside the
    /// window are left out, a day counted twice adds up).
    pub fn over_window(
        today: UtcDay,
        counted: impl IntoIterator<Item = DayUsage>,
        last_authenticated_at: Option<Timestamp>,
    ) -> Self {
        let start = UtcDay::window_start(today);
        let mut days: Vec<DayUsage> = (0..USAGE_WINDOW_DAYS as i64)
            .map(|offset| DayUsage {
                day: UtcDay(start.0 + offset),
                tokens_issued: 0,
            })
            .collect();
        for usage in counted {
            let index = usage.day.0 - start.0;
            if let Some(slot) = usize::try_from(index).ok().and_then(|i| days.get_mut(i)) {
                slot.tokens_issued = slot.tokens_issued.saturating_add(usage.tokens_issued);
            }
        }
        Self {
            last_authenticated_at,
            days,
        }
    }

    pub fn total(&self) -> u64 {
        self.days.iter().map(|d| d.tokens_issued).sum()
    }

    /// The day with the most tokens (the latest of equals), if any token was issued.
    pub fn busiest(&self) -> Option<DayUsage> {
        self.days
            .iter()
            .copied()
            .filter(|d| d.tokens_issued > 0)
            .max_by_key(|d| (d.tokens_issued, d.day))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_utc_calendar_days() {
        // 2025-11-26T16:20:57.123Z
        let at = Timestamp(1_764_174_057_123);
        assert_eq!(UtcDay::of(at).to_iso_date(), "2025-11-26");
        assert_eq!(UtcDay::of(Timestamp(0)).to_iso_date(), "1970-01-01");
        assert_eq!(UtcDay::of(Timestamp(-1)).to_iso_date(), "1969-12-31");
        let midnight = Timestamp(UtcDay::of(at).0 * MILLIS_PER_DAY);
        assert_eq!(UtcDay::of(midnight), UtcDay::of(at));
        assert_eq!(
            UtcDay::of(Timestamp(midnight.0 - 1)),
            UtcDay::of(at).minus(1)
        );
    }

    #[test]
    fn the_window_is_thirty_days_oldest_first_and_zero_filled() {
        let today = UtcDay(20_000);
        let usage = ClientUsage::over_window(
            today,
            [
                DayUsage {
                    day: today,
                    tokens_issued: 3,
                },
                DayUsage {
                    day: today,
                    tokens_issued: 2,
                },
                DayUsage {
                    day: today.minus(29),
                    tokens_issued: 7,
                },
                DayUsage {
                    day: today.minus(30),
                    tokens_issued: 100,
                },
                DayUsage {
                    day: today.minus(-1),
                    tokens_issued: 100,
                },
            ],
            None,
        );
        assert_eq!(usage.days.len(), USAGE_WINDOW_DAYS);
        assert_eq!(
            usage.days[0],
            DayUsage {
                day: today.minus(29),
                tokens_issued: 7
            }
        );
        assert_eq!(
            usage.days[29],
            DayUsage {
                day: today,
                tokens_issued: 5
            }
        );
        assert!(usage.days[1..29].iter().all(|d| d.tokens_issued == 0));
        assert!(usage.days.windows(2).all(|w| w[1].day.0 == w[0].day.0 + 1));
        assert_eq!(usage.total(), 12);
        assert_eq!(usage.busiest().map(|d| d.day), Some(today.minus(29)));
        assert_eq!(ClientUsage::over_window(today, [], None).busiest(), None);
    }
}
