//! Wrong-password bookkeeping of the registrar (sans-IO): per extension and source address
//! (a lock-out after `max_failures` within the window) and per extension across all sources
//! (a throttle after four times that, for sources that hold no registration of it — so a
//! password spray from many addresses stops, while the phone already registered keeps
//! working). Entries older than the window no longer count, whether or not housekeeping ran,
//! so a lock-out ends when its window does. The table is bounded by evicting the key whose
//! last failure is oldest: recording a new failure is never refused.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Keys kept at most in each table.
pub(super) const MAX_KEYS: usize = 10_000;

/// Why an attempt is refused unchecked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lock {
    /// This source got the password wrong too often.
    Source,
    /// The extension was guessed at from too many places.
    Extension,
}

#[derive(Debug)]
pub(super) struct Failures {
    max_per_source: usize,
    max_per_extension: usize,
    window: Duration,
    by_source: HashMap<(String, IpAddr), VecDeque<Instant>>,
    by_extension: HashMap<String, VecDeque<Instant>>,
}

fn prune(times: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while times
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= window)
    {
        times.pop_front();
    }
}

fn push_bounded<K: std::hash::Hash + Eq + Clone>(
    table: &mut HashMap<K, VecDeque<Instant>>,
    key: K,
    now: Instant,
) {
    if table.len() >= MAX_KEYS && !table.contains_key(&key) {
        let oldest = table
            .iter()
            .min_by_key(|(_, t)| t.back().copied())
            .map(|(k, _)| k.clone());
        if let Some(k) = oldest {
            table.remove(&k);
        }
    }
    table.entry(key).or_default().push_back(now);
}

impl Failures {
    pub(super) fn new(max_per_source: usize, window: Duration) -> Failures {
        Failures {
            max_per_source,
            max_per_extension: max_per_source.saturating_mul(4),
            window,
            by_source: HashMap::new(),
            by_extension: HashMap::new(),
        }
    }

    /// Whether `user` from `ip` is refused unchecked now; `registered_here` spares a source
    /// that holds a registration of the extension from the per-extension throttle.
    pub(super) fn locked(
        &mut self,
        user: &str,
        ip: IpAddr,
        registered_here: bool,
        now: Instant,
    ) -> Option<Lock> {
        let window = self.window;
        if let Some(t) = self.by_source.get_mut(&(user.to_owned(), ip)) {
            prune(t, now, window);
            if t.len() >= self.max_per_source {
                return Some(Lock::Source);
            }
        }
        if let Some(t) = self.by_extension.get_mut(user) {
            prune(t, now, window);
            if t.len() >= self.max_per_extension && !registered_here {
                return Some(Lock::Extension);
            }
        }
        None
    }

    /// A wrong password for `user` from `ip`.
    pub(super) fn record(&mut self, user: &str, ip: IpAddr, now: Instant) {
        push_bounded(&mut self.by_source, (user.to_owned(), ip), now);
        push_bounded(&mut self.by_extension, user.to_owned(), now);
    }

    /// A right password: this source starts afresh.
    pub(super) fn succeeded(&mut self, user: &str, ip: IpAddr) {
        self.by_source.remove(&(user.to_owned(), ip));
    }

    /// Forgets what no longer counts.
    pub(super) fn purge(&mut self, now: Instant) {
        let window = self.window;
        for t in self.by_source.values_mut() {
            prune(t, now, window);
        }
        for t in self.by_extension.values_mut() {
            prune(t, now, window);
        }
        self.by_source.retain(|_, t| !t.is_empty());
        self.by_extension.retain(|_, t| !t.is_empty());
    }

    /// When the oldest failure stops counting (the next purge that changes something).
    pub(super) fn next_expiry(&self) -> Option<Instant> {
        self.by_source
            .values()
            .chain(self.by_extension.values())
            .filter_map(|t| t.front())
            .min()
            .map(|t| *t + self.window)
    }

    #[cfg(test)]
    pub(super) fn keys(&self) -> usize {
        self.by_source.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }

    #[test]
    fn a_lock_out_ends_with_its_window_without_housekeeping() {
        let mut f = Failures::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(f.locked("1001", ip(1), false, t0), None);
            f.record("1001", ip(1), t0 + Duration::from_secs(i));
        }
        assert_eq!(
            f.locked("1001", ip(1), false, t0 + Duration::from_secs(5)),
            Some(Lock::Source)
        );
        assert_eq!(
            f.locked("1001", ip(2), false, t0),
            None,
            "another source is not locked"
        );
        assert_eq!(f.next_expiry(), Some(t0 + Duration::from_secs(60)));
        // the first failure leaves the window at t0 + 60 s: two left, unlocked
        assert_eq!(
            f.locked("1001", ip(1), false, t0 + Duration::from_secs(60)),
            None
        );
    }

    #[test]
    fn an_extension_guessed_at_from_many_places_is_throttled_but_not_for_its_phone() {
        let mut f = Failures::new(2, Duration::from_secs(60));
        let t0 = Instant::now();
        for n in 1..=8 {
            f.record("1001", ip(n), t0);
        }
        assert_eq!(f.locked("1001", ip(50), false, t0), Some(Lock::Extension));
        assert_eq!(
            f.locked("1001", ip(51), true, t0),
            None,
            "the registered phone"
        );
        assert_eq!(f.locked("1002", ip(50), false, t0), None);
    }

    #[test]
    fn a_full_table_evicts_the_oldest_and_still_records() {
        let mut f = Failures::new(5, Duration::from_secs(600));
        let t0 = Instant::now();
        for n in 0..MAX_KEYS {
            f.record(
                &format!("u{n}"),
                ip(1),
                t0 + Duration::from_millis(n as u64),
            );
        }
        assert_eq!(f.keys(), MAX_KEYS);
        let later = t0 + Duration::from_secs(100);
        for _ in 0..5 {
            f.record("1001", ip(9), later);
        }
        assert_eq!(f.keys(), MAX_KEYS, "bounded");
        assert_eq!(
            f.locked("1001", ip(9), false, later),
            Some(Lock::Source),
            "the new failures were recorded"
        );
        assert!(
            !f.by_source.contains_key(&("u0".to_owned(), ip(1))),
            "the oldest went"
        );
    }
}
