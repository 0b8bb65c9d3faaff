//! Jitter buffer for the recording path.
//!
//! The recorder writes one 20 ms frame per tick of its own clock so both channels stay aligned
//! in time whatever the network does. This buffer sits between the socket and that clock:
//! `push` packets as they arrive, `pop` once per tick. It reorders by sequence number (extended
//! over the 16-bit wrap, RFC 3550 Appendix A.1), drops duplicates and late packets, reports lost
//! packets so the caller can write silence or conceal, and starts over on an SSRC change or a
//! large sequence jump (a new source). Memory is bounded by `max_packets`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::RtpPacket;

/// Tuning of a [`JitterBuffer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitterConfig {
    /// How long to collect packets before playing the first one (absorbs jitter/reorder).
    pub initial_delay: Duration,
    /// Upper bound on buffered packets; the oldest are dropped beyond it.
    pub max_packets: usize,
    /// A sequence jump larger than this (in packets) means the source restarted.
    pub resync_after: u16,
}

impl Default for JitterConfig {
    fn default() -> Self {
        Self {
            initial_delay: Duration::from_millis(60),
            max_packets: 50,
            resync_after: 100,
        }
    }
}

/// What to play for one tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout {
    /// The next packet in order.
    Packet(RtpPacket),
    /// The packet for this slot is missing (lost or late): play silence or conceal.
    Lost,
    /// Still buffering (start of stream, after an underrun or a source change): play silence.
    Buffering,
}

/// Counters for call quality reports and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Packets accepted into the buffer.
    pub received: u64,
    /// Packets handed out by `pop`.
    pub played: u64,
    /// Slots reported as [`Playout::Lost`].
    pub lost: u64,
    /// Packets dropped because their slot had already been played.
    pub late: u64,
    /// Packets dropped as duplicates of a buffered one.
    pub duplicates: u64,
    /// Packets dropped because the buffer was full.
    pub overflow: u64,
    /// Times the buffer restarted for a new SSRC or a sequence jump.
    pub resyncs: u64,
}

/// Sans-IO jitter buffer; see the module docs.
#[derive(Debug)]
pub struct JitterBuffer {
    cfg: JitterConfig,
    ssrc: Option<u32>,
    /// Highest extended sequence number seen from the current source.
    highest: Option<u64>,
    /// Extended sequence number of the next slot to play (kept across underruns so late
    /// packets are still recognised).
    next: Option<u64>,
    /// False while (re)buffering.
    playing: bool,
    /// When the first packet after (re)start arrived.
    priming_since: Option<Instant>,
    packets: BTreeMap<u64, RtpPacket>,
    stats: JitterStats,
}

impl JitterBuffer {
    /// An empty buffer.
    pub fn new(cfg: JitterConfig) -> Self {
        Self {
            cfg,
            ssrc: None,
            highest: None,
            next: None,
            playing: false,
            priming_since: None,
            packets: BTreeMap::new(),
            stats: JitterStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// Packets currently held.
    pub fn len(&self) -> usize {
        self.packets.len()
    }

    /// True when nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    fn restart(&mut self, ssrc: u32) {
        if self.ssrc.is_some() {
            self.stats.resyncs += 1;
        }
        self.ssrc = Some(ssrc);
        self.highest = None;
        self.next = None;
        self.playing = false;
        self.priming_since = None;
        self.packets.clear();
    }

    /// Extends a 16-bit sequence number to 64 bits relative to the highest seen.
    fn extend(&self, seq: u16) -> u64 {
        match self.highest {
            None => (1u64 << 32) + u64::from(seq), // headroom below for early reordering
            Some(h) => {
                let delta = i64::from(seq.wrapping_sub(h as u16) as i16);
                (h as i64 + delta).max(0) as u64
            }
        }
    }

    /// Accepts one audio packet (the caller filters out telephone-events and other PTs).
    pub fn push(&mut self, pkt: RtpPacket, now: Instant) {
        if self.ssrc != Some(pkt.ssrc) {
            self.restart(pkt.ssrc);
        }
        let mut ext = self.extend(pkt.sequence);
        if let Some(h) = self.highest {
            let jump = ext.abs_diff(h);
            if jump > u64::from(self.cfg.resync_after) {
                // Same SSRC but a far jump: the sender restarted its numbering.
                self.restart(pkt.ssrc);
                ext = self.extend(pkt.sequence);
            }
        }
        if self.next.is_some_and(|n| ext < n) {
            self.stats.late += 1;
            return;
        }
        if self.packets.contains_key(&ext) {
            self.stats.duplicates += 1;
            return;
        }
        self.highest = Some(self.highest.map_or(ext, |h| h.max(ext)));
        self.priming_since.get_or_insert(now);
        self.packets.insert(ext, pkt);
        self.stats.received += 1;
        while self.packets.len() > self.cfg.max_packets {
            if let Some((&oldest, _)) = self.packets.iter().next() {
                self.packets.remove(&oldest);
                self.stats.overflow += 1;
                if let Some(n) = self.next.as_mut() {
                    *n = (*n).max(oldest + 1);
                }
            }
        }
    }

    /// Gives what to play for the current tick; call exactly once per packet interval.
    pub fn pop(&mut self, now: Instant) -> Playout {
        let next = match self.next {
            Some(n) if self.playing => n,
            _ => {
                let ready = self
                    .priming_since
                    .is_some_and(|t| now.saturating_duration_since(t) >= self.cfg.initial_delay);
                match self.packets.keys().next() {
                    Some(&first) if ready => {
                        self.playing = true;
                        first
                    }
                    _ => return Playout::Buffering,
                }
            }
        };
        if let Some(pkt) = self.packets.remove(&next) {
            self.next = Some(next + 1);
            self.stats.played += 1;
            return Playout::Packet(pkt);
        }
        if self.packets.is_empty() {
            // Underrun (sender paused, or the network stalled): buffer again before resuming
            // so one late packet does not become a string of losses.
            self.next = Some(next);
            self.playing = false;
            self.priming_since = None;
            self.stats.lost += 1;
            return Playout::Lost;
        }
        self.next = Some(next + 1);
        self.stats.lost += 1;
        Playout::Lost
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: Duration = Duration::from_millis(20);

    fn p(ssrc: u32, seq: u16) -> RtpPacket {
        RtpPacket::new(0, seq, u32::from(seq) * 160, ssrc, vec![seq as u8])
    }

    /// Runs a schedule: at tick i, push the listed packets, then pop once. Returns the played
    /// sequence numbers (None = Lost, Some(-1) style markers avoided: Buffering is skipped).
    fn run(
        jb: &mut JitterBuffer,
        schedule: &[Vec<RtpPacket>],
        extra_ticks: usize,
    ) -> Vec<Option<u16>> {
        let t0 = Instant::now();
        let mut out = Vec::new();
        for i in 0..schedule.len() + extra_ticks {
            let now = t0 + TICK * i as u32;
            for pkt in schedule.get(i).cloned().unwrap_or_default() {
                jb.push(pkt, now);
            }
            match jb.pop(now) {
                Playout::Packet(pkt) => out.push(Some(pkt.sequence)),
                Playout::Lost => out.push(None),
                Playout::Buffering => {}
            }
        }
        out
    }

    #[test]
    fn in_order_after_initial_delay() {
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let sched: Vec<_> = (0..10).map(|s| vec![p(1, s)]).collect();
        let t0 = Instant::now();
        jb.push(p(1, 0), t0);
        assert_eq!(jb.pop(t0), Playout::Buffering);
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let got = run(&mut jb, &sched, 3);
        assert_eq!(got, (0..10).map(Some).collect::<Vec<_>>());
    }

    #[test]
    fn reorders_and_drops_duplicates() {
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let sched = vec![
            vec![p(1, 0)],
            vec![p(1, 2), p(1, 1)],
            vec![p(1, 2)],
            vec![p(1, 4), p(1, 3)],
            vec![p(1, 5)],
        ];
        let got = run(&mut jb, &sched, 4);
        assert_eq!(got, (0..6).map(Some).collect::<Vec<_>>());
        assert_eq!(jb.stats().duplicates, 1);
    }

    #[test]
    fn loss_is_reported_and_late_packet_dropped() {
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let mut sched: Vec<Vec<RtpPacket>> = (0..8).map(|s| vec![p(1, s)]).collect();
        sched[3].clear(); // packet 3 lost...
        sched.push(vec![p(1, 3)]); // ...arrives far too late
        let got = run(&mut jb, &sched, 2);
        assert_eq!(
            got,
            vec![
                Some(0),
                Some(1),
                Some(2),
                None,
                Some(4),
                Some(5),
                Some(6),
                Some(7)
            ]
        );
        assert_eq!(jb.stats().late, 1);
        assert_eq!(jb.stats().lost, 1);
    }

    #[test]
    fn sequence_wraps() {
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let sched: Vec<_> = [65533u16, 65534, 65535, 0, 1, 2]
            .iter()
            .map(|&s| vec![p(1, s)])
            .collect();
        let got = run(&mut jb, &sched, 3);
        assert_eq!(
            got,
            vec![
                Some(65533),
                Some(65534),
                Some(65535),
                Some(0),
                Some(1),
                Some(2)
            ]
        );
    }

    #[test]
    fn ssrc_change_restarts() {
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let mut sched: Vec<_> = (100..105).map(|s| vec![p(1, s)]).collect();
        sched.extend((7000..7005).map(|s| vec![p(2, s)]));
        let got: Vec<_> = run(&mut jb, &sched, 5).into_iter().flatten().collect();
        assert!(got.ends_with(&[7000, 7001, 7002, 7003, 7004]), "{got:?}");
        assert_eq!(jb.stats().resyncs, 1);
    }

    #[test]
    fn pause_and_resume_does_not_drop_new_packets() {
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let mut sched: Vec<Vec<RtpPacket>> = (0..4).map(|s| vec![p(1, s)]).collect();
        sched.extend(std::iter::repeat_n(vec![], 10)); // sender silent for 200 ms
        sched.extend((4..8).map(|s| vec![p(1, s)]));
        let got: Vec<_> = run(&mut jb, &sched, 4).into_iter().flatten().collect();
        assert_eq!(got, (0..8).collect::<Vec<_>>());
        assert_eq!(jb.stats().late, 0);
        // A straggler from before the pause is still recognised as late.
        jb.push(p(1, 2), Instant::now());
        assert_eq!(jb.stats().late, 1);
    }

    /// Property: under random loss, duplication, reordering (within the delay) and bursts,
    /// playout never repeats a packet, never goes backwards, and accounts for every slot.
    #[test]
    fn random_network_keeps_invariants() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut rnd = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        for _ in 0..200 {
            let mut jb = JitterBuffer::new(JitterConfig::default());
            let t0 = Instant::now();
            let start = rnd(65536) as u16;
            let mut in_flight: Vec<(u64, RtpPacket)> = Vec::new();
            let mut played: Vec<u16> = Vec::new();
            for tick in 0..300u64 {
                if rnd(100) >= 10 {
                    // 10 % loss; 10 % duplicates; delay 0-2 ticks (reorder).
                    let seq = start.wrapping_add(tick as u16);
                    let copies = if rnd(10) == 0 { 2 } else { 1 };
                    for _ in 0..copies {
                        in_flight.push((tick + rnd(3), p(1, seq)));
                    }
                }
                let now = t0 + TICK * tick as u32;
                let (due, later): (Vec<_>, Vec<_>) =
                    in_flight.into_iter().partition(|(t, _)| *t <= tick);
                in_flight = later;
                for (_, pkt) in due {
                    jb.push(pkt, now);
                }
                if let Playout::Packet(pkt) = jb.pop(now) {
                    played.push(pkt.sequence);
                }
                assert!(jb.len() <= JitterConfig::default().max_packets);
            }
            let offsets: Vec<u16> = played.iter().map(|s| s.wrapping_sub(start)).collect();
            assert!(
                offsets.windows(2).all(|w| w[0] < w[1]),
                "strictly increasing: {offsets:?}"
            );
            let st = jb.stats();
            assert_eq!(st.played, played.len() as u64);
            assert!(st.received >= st.played);
            assert!(played.len() > 200, "most packets played: {}", played.len());
        }
    }

    #[test]
    fn bounded_memory() {
        let cfg = JitterConfig {
            max_packets: 5,
            ..JitterConfig::default()
        };
        let mut jb = JitterBuffer::new(cfg);
        let t0 = Instant::now();
        for s in 0..50 {
            jb.push(p(1, s), t0);
        }
        assert_eq!(jb.len(), 5);
        assert_eq!(jb.stats().overflow, 45);
        match jb.pop(t0 + Duration::from_secs(1)) {
            Playout::Packet(pkt) => assert_eq!(pkt.sequence, 45),
            other => panic!("expected packet, got {other:?}"),
        }
    }
}
