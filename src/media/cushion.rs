//! A small playout cushion for audio frames handed from one 20 ms clock to another.
//!
//! A bridged call moves frames between tasks that each tick every 20 ms: a SIP leg's media task
//! hands the other leg what it received, a browser line hands the bridge its microphone. The two
//! clocks run at the same rate (or, for a browser, nearly), but not in step: on a loaded machine
//! a producer's tick may land just after the consumer's instead of just before, and the consumer
//! then finds nothing and sends 20 ms of silence although the frame is a millisecond away.
//! `bench calls` measured exactly this: thousands of single-frame gaps in the bridged channel at
//! 500 calls, and none in the channel fed straight from the jitter buffer.
//!
//! The cushion keeps a couple of frames in hand. It starts playing once `target` frames are
//! queued; an underrun plays nothing (the caller sends silence) but does not re-prime, since the
//! late frame raises the level again by itself when it lands. It also adapts: each underrun
//! allows one more frame of standing latency (up to `max_extra`), given back one frame per
//! `calm_pops` without an underrun, so a call on a jittery path stops losing frames while a
//! quiet one keeps the lowest latency. Latency is kept bounded from the other side: when the
//! level has stayed above the allowed level for a whole window (a producer burst after a stall,
//! or a browser whose clock runs fast) one frame is dropped, the quietest of the oldest few so
//! speech is cut as little as possible. Sans-IO: one `push` per frame, one `pop`
//! per tick; no clock.

use std::collections::VecDeque;

/// Tuning of a [`Cushion`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CushionConfig {
    /// Frames queued before playing starts (each is 20 ms of added latency).
    pub target: usize,
    /// Pops over which the lowest level is watched; a lowest level above `target` for a whole
    /// window means the extra frames are standing latency, not jitter.
    pub window: usize,
    /// Hard cap on queued frames; the oldest go beyond it (memory stays bounded whatever the
    /// producer does).
    pub max_frames: usize,
    /// Frames of latency the cushion may add above `target` after underruns.
    pub max_extra: usize,
    /// Pops without an underrun after which one extra frame is given back.
    pub calm_pops: usize,
}

impl Default for CushionConfig {
    fn default() -> Self {
        CushionConfig {
            target: 2,
            window: 50,
            max_frames: 25,
            max_extra: 2,
            calm_pops: 500,
        }
    }
}

/// Counters, for the engine's media counters and for tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CushionStats {
    /// Pops that found no frame while playing (the caller sent silence).
    pub underruns: u64,
    /// Frames dropped to bring latency back down (level above target for a window).
    pub trimmed: u64,
    /// Frames dropped because the cap was reached.
    pub overflow: u64,
}

/// Frames that can report how loud they are, so trimming prefers a quiet one.
pub trait FrameLevel {
    /// Sum of absolute sample values (any monotonic loudness measure will do).
    fn level(&self) -> u64;
}

impl FrameLevel for Vec<i16> {
    fn level(&self) -> u64 {
        self.iter().map(|s| u64::from(s.unsigned_abs())).sum()
    }
}

impl<const N: usize> FrameLevel for [i16; N] {
    fn level(&self) -> u64 {
        self.iter().map(|s| u64::from(s.unsigned_abs())).sum()
    }
}

/// How many of the oldest frames trimming chooses the quietest from.
const TRIM_CANDIDATES: usize = 4;

/// See the module docs.
#[derive(Debug)]
pub struct Cushion<T> {
    cfg: CushionConfig,
    frames: VecDeque<T>,
    playing: bool,
    /// Lowest level seen at a pop in the current window, and pops so far in it.
    window_min: usize,
    window_pops: usize,
    /// Frames allowed above the target after recent underruns, and pops since the last one.
    extra: usize,
    calm: usize,
    stats: CushionStats,
}

impl<T: FrameLevel> Cushion<T> {
    /// An empty cushion.
    pub fn new(cfg: CushionConfig) -> Self {
        let cfg = CushionConfig {
            target: cfg.target.max(1),
            window: cfg.window.max(1),
            max_frames: cfg.max_frames.max(cfg.target.max(1) + cfg.max_extra + 1),
            max_extra: cfg.max_extra,
            calm_pops: cfg.calm_pops.max(1),
        };
        Cushion {
            frames: VecDeque::with_capacity(cfg.max_frames),
            cfg,
            playing: false,
            window_min: usize::MAX,
            window_pops: 0,
            extra: 0,
            calm: 0,
            stats: CushionStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> CushionStats {
        self.stats
    }

    /// Frames queued.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// True when the next `pop` would be an underrun: playing, and nothing queued. A consumer
    /// that can wait a moment (let the producer's due tick run) should do so now.
    pub fn starved(&self) -> bool {
        self.playing && self.frames.is_empty()
    }

    /// Queues one frame from the producer.
    pub fn push(&mut self, frame: T) {
        if self.frames.len() >= self.cfg.max_frames {
            self.frames.pop_front();
            self.stats.overflow += 1;
        }
        self.frames.push_back(frame);
    }

    /// Forgets all but the newest `target` frames and starts over: for audio that piled up
    /// while nobody listened (before the answer, while held), which is stale by now.
    pub fn keep_newest(&mut self) {
        while self.frames.len() > self.cfg.target {
            self.frames.pop_front();
        }
        self.reset_window();
    }

    /// The frame for this tick, or `None` for silence (still priming, or an underrun).
    /// `catching_up` is true for a tick of a burst after the consumer itself stalled: the
    /// frames queued meanwhile are exactly the ones the burst is about to play, so they are not
    /// mistaken for standing latency.
    pub fn pop(&mut self, catching_up: bool) -> Option<T> {
        if !self.playing {
            if self.frames.len() < self.cfg.target {
                return None;
            }
            self.playing = true;
            self.reset_window();
        }
        if !catching_up {
            self.watch_latency();
        }
        match self.frames.pop_front() {
            Some(f) => {
                self.calm += 1;
                if self.calm >= self.cfg.calm_pops && self.extra > 0 {
                    self.extra -= 1;
                    self.calm = 0;
                }
                Some(f)
            }
            None => {
                self.stats.underruns += 1;
                self.extra = (self.extra + 1).min(self.cfg.max_extra);
                self.calm = 0;
                None
            }
        }
    }

    fn reset_window(&mut self) {
        self.window_min = usize::MAX;
        self.window_pops = 0;
    }

    fn watch_latency(&mut self) {
        self.window_min = self.window_min.min(self.frames.len());
        self.window_pops += 1;
        if self.window_pops < self.cfg.window {
            return;
        }
        if self.window_min > self.cfg.target + self.extra {
            self.drop_quietest();
        }
        self.reset_window();
    }

    fn drop_quietest(&mut self) {
        let quietest = self
            .frames
            .iter()
            .take(TRIM_CANDIDATES)
            .enumerate()
            .min_by_key(|(_, f)| f.level())
            .map(|(i, _)| i);
        if let Some(i) = quietest {
            self.frames.remove(i);
            self.stats.trimmed += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(tag: i16) -> Vec<i16> {
        vec![tag; 4]
    }

    fn tag(f: Option<Vec<i16>>) -> Option<i16> {
        f.map(|f| f[0])
    }

    #[test]
    fn starts_after_the_target_and_plays_in_order() {
        let mut c = Cushion::new(CushionConfig::default());
        c.push(frame(1));
        assert_eq!(c.pop(false), None, "priming");
        c.push(frame(2));
        assert_eq!(tag(c.pop(false)), Some(1));
        c.push(frame(3));
        assert_eq!(tag(c.pop(false)), Some(2));
        assert_eq!(c.stats(), CushionStats::default());
    }

    /// The failure `bench calls` found: producer and consumer tick at the same rate, and the
    /// producer's tick sometimes lands after the consumer's. Without a cushion every such flip
    /// is a silent frame; with it, none is.
    #[test]
    fn a_producer_tick_landing_after_the_consumer_is_no_gap() {
        let mut c = Cushion::new(CushionConfig::default());
        let mut next = 1i16;
        let mut played = Vec::new();
        for period in 0..400 {
            // producer first in most periods, after the consumer in every 7th, and twice in
            // the period after (its late tick, then its regular one)
            let late = period % 7 == 3;
            let catch_up = period % 7 == 4;
            let pushes = if late {
                0
            } else if catch_up {
                2
            } else {
                1
            };
            for _ in 0..pushes {
                c.push(frame(next));
                next += 1;
            }
            if let Some(f) = c.pop(false) {
                played.push(f[0]);
            } else if period > 2 {
                panic!("silence at period {period}");
            }
        }
        // nothing lost or reordered
        assert!(played.windows(2).all(|w| w[1] == w[0] + 1));
        assert_eq!(c.stats().underruns, 0);
        assert_eq!(c.stats().trimmed, 0, "jitter is not mistaken for latency");
    }

    #[test]
    fn an_underrun_does_not_reprime_and_the_late_frame_still_plays() {
        let mut c = Cushion::new(CushionConfig::default());
        c.push(frame(1));
        c.push(frame(2));
        assert_eq!(tag(c.pop(false)), Some(1));
        assert_eq!(tag(c.pop(false)), Some(2));
        assert_eq!(c.pop(false), None);
        assert_eq!(c.stats().underruns, 1);
        c.push(frame(3));
        assert_eq!(tag(c.pop(false)), Some(3), "plays at once, no second gap");
    }

    #[test]
    fn standing_latency_is_trimmed_one_quiet_frame_per_window() {
        let cfg = CushionConfig {
            target: 2,
            window: 10,
            ..CushionConfig::default()
        };
        let mut c = Cushion::new(cfg);
        // a burst of 6 extra frames after a stall, then one per tick
        for i in 0..8 {
            c.push(frame(if i == 3 { 0 } else { 100 + i }));
        }
        for i in 0..100 {
            c.push(frame(200 + i));
            c.pop(false);
        }
        // the next push brings the level seen by the next pop back to the target
        assert_eq!(c.len() + 1, cfg.target, "back to the target");
        assert_eq!(
            c.stats().trimmed,
            7,
            "the 7 frames above the target: {:?}",
            c.stats()
        );
        assert_eq!(c.stats().underruns, 0);
    }

    #[test]
    fn trimming_prefers_the_quietest_of_the_oldest_frames() {
        let cfg = CushionConfig {
            target: 1,
            window: 1,
            ..CushionConfig::default()
        };
        let mut c = Cushion::new(cfg);
        for level in [500, 3, 400, 300, 200] {
            c.push(frame(level));
        }
        assert_eq!(tag(c.pop(false)), Some(500));
        // the silent-ish frame (3) went, not the next in line
        assert_eq!(tag(c.pop(false)), Some(400));
    }

    #[test]
    fn catch_up_bursts_are_not_trimmed_and_memory_is_capped() {
        let cfg = CushionConfig {
            target: 2,
            window: 2,
            max_frames: 5,
            max_extra: 0,
            ..CushionConfig::default()
        };
        let mut c = Cushion::new(cfg);
        for i in 0..8 {
            c.push(frame(i));
        }
        assert_eq!(c.len(), 5);
        assert_eq!(c.stats().overflow, 3);
        for _ in 0..3 {
            assert!(c.pop(true).is_some());
        }
        assert_eq!(c.stats().trimmed, 0);
    }

    #[test]
    fn after_an_underrun_the_late_frame_is_kept_as_cushion_until_things_calm_down() {
        let cfg = CushionConfig {
            window: 10,
            calm_pops: 100,
            ..CushionConfig::default()
        };
        let mut c = Cushion::new(cfg);
        let mut next = 1;
        // the producer stalls for two ticks (one more than the cushion holds: an underrun),
        // then catches up with three frames at once
        for period in 0..400 {
            let pushes = match period {
                5 | 6 => 0,
                7 => 3,
                _ => 1,
            };
            for _ in 0..pushes {
                c.push(frame(next));
                next += 1;
            }
            c.pop(false);
            if period == 50 {
                // the extra frame is still there: one more late tick is absorbed
                assert_eq!(c.stats().trimmed, 0, "not trimmed while recently starved");
            }
        }
        assert_eq!(c.stats().underruns, 1);
        // calm for long enough: the extra frame was given back
        assert_eq!(c.stats().trimmed, 1, "{:?}", c.stats());
    }

    #[test]
    fn keep_newest_drops_stale_audio() {
        let mut c = Cushion::new(CushionConfig::default());
        for i in 0..5 {
            c.push(frame(i));
        }
        c.keep_newest();
        assert_eq!(tag(c.pop(false)), Some(3));
        assert_eq!(tag(c.pop(false)), Some(4));
    }
}
