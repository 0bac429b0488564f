//! Brute-force protection for client authentication (RFC 6749 §2.3.1; SECURITY T6, D1–D4):
//! after too many failures for one (client_id, source address) pair within a window, that
//! pair is refused until the window ends. Keyed by the presented client_id, existing or
//! not, so the throttle does not reveal which ids exist; keyed by address too, so an
//! attacker elsewhere cannot lock a legitimate client out.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub const MAX_FAILURES: u32 = 10;
pub const WINDOW: Duration = Duration::from_secs(60);
/// Bounds memory under a flood of distinct pairs; the map is cleared when it fills.
const CAPACITY: usize = 100_000;

pub(crate) struct AuthThrottle {
    failures: Mutex<HashMap<u64, (Instant, u32)>>,
    /// Lets the success path skip the lock entirely when nothing has failed.
    any: AtomicBool,
    hasher: RandomState,
}

impl AuthThrottle {
    pub(crate) fn new() -> Self {
        Self {
            failures: Mutex::new(HashMap::new()),
            any: AtomicBool::new(false),
            hasher: RandomState::new(),
        }
    }

    fn key(&self, client_id: &str, source: IpAddr) -> u64 {
        self.hasher.hash_one((client_id, source))
    }

    /// `Err(seconds)` while the pair is locked out.
    pub(crate) fn check(&self, client_id: &str, source: IpAddr, now: Instant) -> Result<(), u64> {
        if !self.any.load(Ordering::Relaxed) {
            return Ok(());
        }
        let key = self.key(client_id, source);
        let Ok(failures) = self.failures.lock() else {
            return Ok(());
        };
        match failures.get(&key) {
            Some((since, count))
                if *count >= MAX_FAILURES && now.duration_since(*since) < WINDOW =>
            {
                Err((WINDOW - now.duration_since(*since)).as_secs().max(1))
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn record_failure(&self, client_id: &str, source: IpAddr, now: Instant) {
        let key = self.key(client_id, source);
        let Ok(mut failures) = self.failures.lock() else {
            return;
        };
        if failures.len() >= CAPACITY {
            failures.clear();
        }
        let entry = failures.entry(key).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
        self.any.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_a_pair_after_max_failures_until_the_window_ends() {
        let throttle = AuthThrottle::new();
        let (here, there) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let t0 = Instant::now();
        for _ in 0..MAX_FAILURES {
            assert_eq!(throttle.check("ts_a", here, t0), Ok(()));
            throttle.record_failure("ts_a", here, t0);
        }
        assert_eq!(throttle.check("ts_a", here, t0), Err(60));
        assert_eq!(
            throttle.check("ts_a", there, t0),
            Ok(()),
            "other addresses are not locked out"
        );
        assert_eq!(
            throttle.check("ts_b", here, t0),
            Ok(()),
            "other clients are not locked out"
        );
        assert_eq!(throttle.check("ts_a", here, t0 + WINDOW), Ok(()));
    }
}
