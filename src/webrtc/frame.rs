//! The plain-audio boundary between the agent line and the rest of the server.
//!
//! Whatever the browser negotiated, a line speaks 20 ms frames of 8 kHz mono `i16` to the SIP
//! bridge, the recorder and the line check, so none of them knows about RTP, SRTP or codecs.

use std::collections::VecDeque;

use tokio::sync::mpsc;

/// Samples in one frame: 20 ms at 8 kHz (the G.711 packetisation Chromium and SIP trunks use).
pub const FRAME_SAMPLES: usize = 160;
/// Frame duration, the pace of the media path.
pub const FRAME_DURATION: std::time::Duration = std::time::Duration::from_millis(20);
/// Capacity of each [`LineMedia`] channel: 200 ms. Bounded so a stalled consumer costs
/// dropped audio, never memory.
pub const MEDIA_CHANNEL_FRAMES: usize = 10;
/// Frames the line lets wait in `to_agent` before it drops the oldest: 100 ms of latency at most.
pub const MAX_TO_AGENT_BACKLOG: usize = 5;

/// 20 ms of 8 kHz mono linear PCM.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AudioFrame(pub [i16; FRAME_SAMPLES]);

impl AudioFrame {
    pub const SILENCE: AudioFrame = AudioFrame([0; FRAME_SAMPLES]);

    /// Sum of squares, for RMS over many frames without overflow.
    pub fn energy(&self) -> f64 {
        self.0.iter().map(|&s| f64::from(s) * f64::from(s)).sum()
    }
}

impl std::fmt::Debug for AudioFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rms = (self.energy() / FRAME_SAMPLES as f64).sqrt();
        write!(f, "AudioFrame(rms={rms:.0})")
    }
}

/// The audio of one attached line, as seen by whoever attached (the SIP bridge or a line check).
///
/// Dropping `from_agent` (or the whole value) detaches: the line stops feeding it and stops
/// sending to the browser. Producers on `to_agent` should send in real time (one frame per
/// 20 ms); the line keeps at most [`MAX_TO_AGENT_BACKLOG`] frames waiting and drops the oldest.
#[derive(Debug)]
pub struct LineMedia {
    /// The agent's microphone, decoded.
    pub from_agent: mpsc::Receiver<AudioFrame>,
    /// What the agent hears.
    pub to_agent: mpsc::Sender<AudioFrame>,
}

/// A fixed-size queue that drops its oldest frame when full: on the media path late audio is
/// worth less than current audio, and memory must not grow with a slow consumer.
#[derive(Debug)]
pub(crate) struct FrameRing {
    frames: VecDeque<AudioFrame>,
    capacity: usize,
    dropped: u64,
}

impl FrameRing {
    pub(crate) fn new(capacity: usize) -> FrameRing {
        FrameRing {
            frames: VecDeque::with_capacity(capacity),
            capacity: capacity.max(1),
            dropped: 0,
        }
    }

    pub(crate) fn push(&mut self, frame: AudioFrame) {
        if self.frames.len() == self.capacity {
            self.frames.pop_front();
            self.dropped += 1;
        }
        self.frames.push_back(frame);
    }

    pub(crate) fn pop(&mut self) -> Option<AudioFrame> {
        self.frames.pop_front()
    }

    /// Puts back a frame just popped (so it stays first).
    pub(crate) fn unpop(&mut self, frame: AudioFrame) {
        if self.frames.len() == self.capacity {
            self.dropped += 1;
            return;
        }
        self.frames.push_front(frame);
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// Collects decoded samples of any packet size into whole 20 ms frames.
#[derive(Debug, Default)]
pub(crate) struct Framer {
    pending: Vec<i16>,
}

impl Framer {
    /// Adds samples; calls `emit` for each completed frame.
    pub(crate) fn push(
        &mut self,
        samples: impl Iterator<Item = i16>,
        mut emit: impl FnMut(AudioFrame),
    ) {
        for s in samples {
            self.pending.push(s);
            if self.pending.len() == FRAME_SAMPLES {
                let mut frame = AudioFrame::SILENCE;
                frame.0.copy_from_slice(&self.pending);
                self.pending.clear();
                emit(frame);
            }
        }
    }
}

/// Takes the next frame to play, first dropping the oldest ones beyond `max_backlog`.
/// Returns `None` when nothing is waiting, and `Err` when the producer went away.
pub(crate) fn next_paced(
    rx: &mut mpsc::Receiver<AudioFrame>,
    max_backlog: usize,
) -> Result<Option<AudioFrame>, Detached> {
    while rx.len() > max_backlog {
        let _stale = rx.try_recv();
    }
    match rx.try_recv() {
        Ok(frame) => Ok(Some(frame)),
        Err(mpsc::error::TryRecvError::Empty) => Ok(None),
        Err(mpsc::error::TryRecvError::Disconnected) => Err(Detached),
    }
}

/// The other end of a media channel was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Detached;

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(v: i16) -> AudioFrame {
        AudioFrame([v; FRAME_SAMPLES])
    }

    #[test]
    fn ring_drops_oldest_when_full() {
        let mut ring = FrameRing::new(2);
        ring.push(frame(1));
        ring.push(frame(2));
        ring.push(frame(3));
        assert_eq!(ring.dropped(), 1);
        assert_eq!(ring.pop(), Some(frame(2)));
        assert_eq!(ring.pop(), Some(frame(3)));
        assert!(ring.is_empty());
    }

    #[test]
    fn framer_joins_and_splits_packets_into_20ms() {
        let mut framer = Framer::default();
        let mut out = Vec::new();
        framer.push(std::iter::repeat_n(1, 100), |f| out.push(f));
        assert!(out.is_empty());
        framer.push(std::iter::repeat_n(1, 240), |f| out.push(f));
        assert_eq!(out, vec![frame(1), frame(1)]);
        framer.push(std::iter::repeat_n(1, 140), |f| out.push(f));
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn pacing_drops_the_backlog_beyond_the_limit() {
        let (tx, mut rx) = mpsc::channel(MEDIA_CHANNEL_FRAMES);
        for v in 0..8 {
            tx.try_send(frame(v)).unwrap();
        }
        // 8 waiting, 5 allowed: frames 0..3 are stale, 3 is next
        assert_eq!(next_paced(&mut rx, 5), Ok(Some(frame(3))));
        assert_eq!(next_paced(&mut rx, 5), Ok(Some(frame(4))));
        drop(tx);
        for _ in 5..8 {
            assert!(next_paced(&mut rx, 5).unwrap().is_some());
        }
        assert_eq!(next_paced(&mut rx, 5), Err(Detached));
    }
}
