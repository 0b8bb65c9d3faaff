//! Login rate limit: at most N failures per key (username, client address) in a sliding window.
//! In memory: a restart resets it, which is acceptable for a brute-force brake.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

#[derive(Debug)]
pub struct LoginLimiter {
    max_failures: u32,
    window: Duration,
    failures: HashMap<String, Vec<DateTime<Utc>>>,
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
}
