//! Notices a call leg that has gone silent (sans-IO): a patient channel with no sound for
//! longer than a threshold in an answered call is the sign of one-way audio (media sent to an
//! address the carrier moved away from, a NAT that closed, a muted handset). The call row and
//! the nurse may still believe all is well; the log and a counter say otherwise.

use std::time::{Duration, Instant};

/// Peak below which a 20 ms frame counts as silence (G.711 line noise stays well under it).
const SILENT_PEAK: u16 = 64;

/// Watches one channel, frame by frame.
#[derive(Debug, Clone)]
pub struct SilenceWatch {
    after: Duration,
    silent_since: Option<Instant>,
    reported: bool,
}

impl SilenceWatch {
    /// Reports a stretch of silence once it lasts `after`.
    pub fn new(after: Duration) -> SilenceWatch {
        SilenceWatch {
            after,
            silent_since: None,
            reported: false,
        }
    }

    /// Takes a frame heard at `now`; returns how long the channel has been silent the first
    /// time a stretch passes the threshold (once per stretch; sound starts a new one).
    pub fn frame(&mut self, samples: &[i16], now: Instant) -> Option<Duration> {
        let peak = samples.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        if peak >= SILENT_PEAK {
            self.silent_since = None;
            self.reported = false;
            return None;
        }
        let since = *self.silent_since.get_or_insert(now);
        let silent = now.saturating_duration_since(since);
        if !self.reported && silent >= self.after {
            self.reported = true;
            return Some(silent);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_silence_is_reported_once_per_stretch() {
        let mut w = SilenceWatch::new(Duration::from_secs(2));
        let t0 = Instant::now();
        let quiet = [3i16; 160];
        let speech = [4000i16; 160];
        let mut reports = Vec::new();
        for i in 0..300u64 {
            // sound for the first 0.5 s and at 4 s, silence otherwise
            let frame: &[i16] = if i < 25 || i == 200 { &speech } else { &quiet };
            if let Some(d) = w.frame(frame, t0 + Duration::from_millis(i * 20)) {
                reports.push((i, d));
            }
        }
        // once after 2 s of silence; not again in that stretch; the 1.96 s after 4 s is short
        assert_eq!(reports, [(125, Duration::from_secs(2))]);
    }
}
