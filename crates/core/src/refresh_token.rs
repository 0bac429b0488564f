//! When a refresh token is still good (SECURITY F4, F8; SPEC 5): it dies when unused for
//! the idle lifetime, its family dies at the absolute lifetime counted from the sign-in
//! that started it, however often it is rotated, and an already rotated token presented
//! again is forgiven only within the reuse grace window after its rotation.

use std::ops::RangeInclusive;

use crate::Timestamp;

/// Unused this long, a refresh token is dead (30 days).
pub const DEFAULT_IDLE_SECONDS: i64 = 30 * 24 * 3600;
/// A family lives at most this long from the first sign-in (90 days).
pub const DEFAULT_ABSOLUTE_SECONDS: i64 = 90 * 24 * 3600;
/// At least a minute, at most ten years: beyond that a lifetime is a mistake.
pub const LIFETIME_RANGE_SECONDS: RangeInclusive<i64> = 60..=10 * 366 * 24 * 3600;
/// SPEC 5: at most a minute, so the window only covers a lost response.
pub const REUSE_GRACE_RANGE_SECONDS: RangeInclusive<u32> = 0..=60;

/// The lifetimes and the reuse grace window, checked once (at startup).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshTokenPolicy {
    idle_seconds: i64,
    absolute_seconds: i64,
    reuse_grace_seconds: u32,
}

/// Which setting is out of range; the caller names it as the operator wrote it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("the idle lifetime must be from {} to {} seconds", LIFETIME_RANGE_SECONDS.start(), LIFETIME_RANGE_SECONDS.end())]
    IdleLifetime,
    #[error("the absolute lifetime must be from {} to {} seconds", LIFETIME_RANGE_SECONDS.start(), LIFETIME_RANGE_SECONDS.end())]
    AbsoluteLifetime,
    #[error("the reuse grace window must be from {} to {} seconds", REUSE_GRACE_RANGE_SECONDS.start(), REUSE_GRACE_RANGE_SECONDS.end())]
    ReuseGrace,
}

impl Default for RefreshTokenPolicy {
    fn default() -> Self {
        Self {
            idle_seconds: DEFAULT_IDLE_SECONDS,
            absolute_seconds: DEFAULT_ABSOLUTE_SECONDS,
            reuse_grace_seconds: 0,
        }
    }
}

impl RefreshTokenPolicy {
    pub fn new(
        idle_seconds: i64,
        absolute_seconds: i64,
        reuse_grace_seconds: u32,
    ) -> Result<Self, PolicyError> {
        if !LIFETIME_RANGE_SECONDS.contains(&idle_seconds) {
            return Err(PolicyError::IdleLifetime);
        }
        if !LIFETIME_RANGE_SECONDS.contains(&absolute_seconds) {
            return Err(PolicyError::AbsoluteLifetime);
        }
        if !REUSE_GRACE_RANGE_SECONDS.contains(&reuse_grace_seconds) {
            return Err(PolicyError::ReuseGrace);
        }
        Ok(Self {
            idle_seconds,
            absolute_seconds,
            reuse_grace_seconds,
        })
    }

    pub fn idle_seconds(&self) -> i64 {
        self.idle_seconds
    }

    pub fn absolute_seconds(&self) -> i64 {
        self.absolute_seconds
    }

    pub fn reuse_grace_seconds(&self) -> u32 {
        self.reuse_grace_seconds
    }

    /// When the family that a sign-in at `auth_time` started ends.
    pub fn family_expires_at(&self, auth_time: Timestamp) -> Timestamp {
        auth_time.plus_seconds(self.absolute_seconds)
    }

    /// When a token issued at `now` in the family of the sign-in at `auth_time` dies
    /// unless it is used first: after the idle lifetime, never past the family's end.
    /// At or before `now` when the family has ended: no token may be issued.
    pub fn token_expires_at(&self, now: Timestamp, auth_time: Timestamp) -> Timestamp {
        now.plus_seconds(self.idle_seconds)
            .min(self.family_expires_at(auth_time))
    }

    /// Whether a token rotated at `rotated_at`, presented again at `now`, is a retry
    /// within the grace window rather than reuse. Never with the default window of 0.
    pub fn is_retry(&self, rotated_at: Timestamp, now: Timestamp) -> bool {
        self.reuse_grace_seconds > 0
            && now >= rotated_at
            && now <= rotated_at.plus_seconds(i64::from(self.reuse_grace_seconds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 24 * 3600;
    const SIGN_IN: Timestamp = Timestamp(1_800_000_000_000);

    #[test]
    fn defaults_are_thirty_days_idle_ninety_absolute_and_no_grace() {
        let policy = RefreshTokenPolicy::default();
        assert_eq!(policy.idle_seconds(), 30 * DAY);
        assert_eq!(policy.absolute_seconds(), 90 * DAY);
        assert_eq!(policy.reuse_grace_seconds(), 0);
        assert_eq!(RefreshTokenPolicy::new(30 * DAY, 90 * DAY, 0), Ok(policy));
    }

    #[test]
    fn settings_out_of_range_are_refused_by_name() {
        assert_eq!(
            RefreshTokenPolicy::new(59, 90 * DAY, 0),
            Err(PolicyError::IdleLifetime)
        );
        assert_eq!(
            RefreshTokenPolicy::new(DAY, 0, 0),
            Err(PolicyError::AbsoluteLifetime)
        );
        assert_eq!(
            RefreshTokenPolicy::new(DAY, 11 * 366 * DAY, 0),
            Err(PolicyError::AbsoluteLifetime)
        );
        assert_eq!(
            RefreshTokenPolicy::new(DAY, DAY, 61),
            Err(PolicyError::ReuseGrace)
        );
        assert!(RefreshTokenPolicy::new(60, 60, 60).is_ok());
    }

    #[test]
    fn a_token_dies_idle_and_never_outlives_its_family() {
        let policy = RefreshTokenPolicy::default();
        assert_eq!(
            policy.token_expires_at(SIGN_IN, SIGN_IN),
            SIGN_IN.plus_seconds(30 * DAY)
        );
        // Each use starts a new idle period, up to the family's end.
        let later = SIGN_IN.plus_seconds(29 * DAY);
        assert_eq!(
            policy.token_expires_at(later, SIGN_IN),
            later.plus_seconds(30 * DAY)
        );
        let late = SIGN_IN.plus_seconds(80 * DAY);
        assert_eq!(
            policy.token_expires_at(late, SIGN_IN),
            SIGN_IN.plus_seconds(90 * DAY)
        );
        let ended = SIGN_IN.plus_seconds(90 * DAY);
        assert!(policy.token_expires_at(ended, SIGN_IN) <= ended);
    }

    #[test]
    fn a_retry_is_forgiven_only_within_the_window() {
        let rotated = SIGN_IN.plus_seconds(100);
        assert!(!RefreshTokenPolicy::default().is_retry(rotated, rotated));
        let policy = RefreshTokenPolicy::new(DAY, 90 * DAY, 10).unwrap();
        assert!(policy.is_retry(rotated, rotated));
        assert!(policy.is_retry(rotated, rotated.plus_seconds(10)));
        assert!(!policy.is_retry(rotated, Timestamp(rotated.plus_seconds(10).0 + 1)));
        assert!(!policy.is_retry(rotated, Timestamp(rotated.0 - 1)));
    }
}
