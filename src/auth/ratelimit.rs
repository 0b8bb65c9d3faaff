//! Login rate limit: at most N failures per key (username, client address) in a sliding window.
//! In memory: a restart resets it, which is acceptable for a brute-force brake.
//!
//! An attempt is *reserved* (counted as a failure) before its password is checked, all keys in
//! one step under the caller's lock. Checking first and counting after the slow argon2
//! verification let 50 parallel wrong guesses all pass the check while none had been counted.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

#[derive(Debug)]
pub struct LoginLimiter {
    max_failures: u32,
    window: Duration,
    failures: HashMap<String, Vec<DateTime<Utc>>>,
}

/// An attempt counted against its keys before the password is checked; give it back with
/// [`LoginLimiter::succeeded`] when the password was right.
#[derive(Debug)]
#[must_use = "a reservation stays counted as a failure unless it is given back"]
pub struct Reservation {
    keys: Vec<String>,
}

impl LoginLimiter {
    pub fn new(max_failures: u32, window: Duration) -> LoginLimiter {
        LoginLimiter {
            max_failures,
            window,
            failures: HashMap::new(),
        }
    }

    /// Whether another attempt for `key` is allowed now.
    pub fn allowed(&mut self, key: &str, now: DateTime<Utc>) -> bool {
        let window = self.window;
        match self.failures.get_mut(key) {
            Some(list) => {
                list.retain(|t| now - *t < window);
                (list.len() as u32) < self.max_failures
            }
            None => true,
        }
    }

    /// Counts one attempt against every key if each still has room, else counts nothing and
    /// returns `None` (rate limited). Check and count are one step, so concurrent attempts
    /// cannot all pass the check before any of them is counted.
    pub fn reserve(&mut self, keys: &[String], now: DateTime<Utc>) -> Option<Reservation> {
        if !keys.iter().all(|k| self.allowed(k, now)) {
            return None;
        }
        keys.iter().for_each(|k| self.record_failure(k, now));
        Some(Reservation {
            keys: keys.to_vec(),
        })
    }

    /// The password was right: the keys' failures are forgotten, this attempt's included.
    pub fn succeeded(&mut self, reservation: Reservation) {
        reservation.keys.iter().for_each(|k| self.record_success(k));
    }

    pub fn record_failure(&mut self, key: &str, now: DateTime<Utc>) {
        if self.failures.len() > 100_000 {
            // Bound memory under a spray of random usernames: forget stale keys.
            let window = self.window;
            self.failures
                .retain(|_, l| l.iter().any(|t| now - *t < window));
        }
        self.failures.entry(key.to_string()).or_default().push(now);
    }

    pub fn record_success(&mut self, key: &str) {
        self.failures.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_max_failures_until_the_window_passes() {
        let mut l = LoginLimiter::new(3, Duration::minutes(15));
        let t0 = Utc::now();
        for _ in 0..3 {
            assert!(l.allowed("nurse1", t0));
            l.record_failure("nurse1", t0);
        }
        assert!(!l.allowed("nurse1", t0 + Duration::minutes(14)));
        assert!(l.allowed("other", t0));
        assert!(l.allowed("nurse1", t0 + Duration::minutes(15)));
    }

    #[test]
    fn reservations_count_before_the_outcome_is_known() {
        let mut l = LoginLimiter::new(3, Duration::minutes(15));
        let t0 = Utc::now();
        let keys = ["user:nurse".to_string(), "ip:10.0.0.1".to_string()];
        // three attempts in flight at once use up the window; the fourth is refused
        let held: Vec<_> = (0..3).map(|_| l.reserve(&keys, t0)).collect();
        assert!(held.iter().all(Option::is_some));
        assert!(l.reserve(&keys, t0).is_none());
        // a refused reservation counted nothing against the other key
        assert!(l.reserve(&["ip:10.0.0.2".to_string()], t0).is_some());
        // the right password gives the keys back
        l.succeeded(held.into_iter().flatten().next().unwrap());
        assert!(l.reserve(&keys, t0).is_some());
    }
}
