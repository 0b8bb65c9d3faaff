//! Reception statistics for RTCP receiver report blocks (RFC 3550 Appendix A.1, A.3, A.8) and
//! the NTP clock helpers for sender reports.
//!
//! Kept apart from the jitter buffer because the buffer reorders and drops for playout, while
//! RTCP must describe what the network actually delivered.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::rtcp::ReportBlock;
use super::RtpPacket;

/// Seconds between 1900-01-01 (NTP era 0) and 1970-01-01.
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// 64-bit NTP timestamp (RFC 3550 §4) of a wall-clock time.
pub fn ntp_timestamp(t: SystemTime) -> u64 {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = d.as_secs() + NTP_UNIX_OFFSET;
    let frac = (u64::from(d.subsec_nanos()) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

/// Per-source reception statistics.
#[derive(Debug, Clone)]
pub struct ReceiverStats {
    clock_rate: u32,
    ssrc: Option<u32>,
    base_seq: u32,
    max_seq: u16,
    cycles: u32,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    /// Interarrival jitter estimate in timestamp units (A.8), scaled by 16 as in the RFC code.
    jitter_q4: u64,
    last_transit: Option<i64>,
    epoch: Instant,
    last_sr: Option<(u32, Instant)>,
}

impl ReceiverStats {
    /// Statistics for a stream with this RTP clock rate (8000 for G.711).
    pub fn new(clock_rate: u32, epoch: Instant) -> Self {
        Self {
            clock_rate,
            ssrc: None,
            base_seq: 0,
            max_seq: 0,
            cycles: 0,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            jitter_q4: 0,
            last_transit: None,
            epoch,
            last_sr: None,
        }
    }

    /// Source being described.
    pub fn ssrc(&self) -> Option<u32> {
        self.ssrc
    }

    /// Records one received packet (call for every valid media packet, before any buffering).
    pub fn on_packet(&mut self, pkt: &RtpPacket, arrival: Instant) {
        if self.ssrc != Some(pkt.ssrc) {
            // New source: start over (A.1 init_seq).
            *self = Self {
                ssrc: Some(pkt.ssrc),
                base_seq: u32::from(pkt.sequence),
                max_seq: pkt.sequence,
                ..Self::new(self.clock_rate, self.epoch)
            };
        } else {
            let delta = pkt.sequence.wrapping_sub(self.max_seq);
            if delta != 0 && delta < 0x8000 {
                if pkt.sequence < self.max_seq {
                    self.cycles = self.cycles.wrapping_add(1 << 16); // wrapped
                }
                self.max_seq = pkt.sequence;
            }
        }
        self.received = self.received.wrapping_add(1);
        // A.8: transit = arrival (in RTP units) − timestamp; J += (|D| − J) / 16.
        let arrival_units = (arrival.saturating_duration_since(self.epoch).as_secs_f64()
            * f64::from(self.clock_rate)) as i64;
        let transit = arrival_units - i64::from(pkt.timestamp);
        if let Some(last) = self.last_transit {
            let d = (transit - last).unsigned_abs();
            let j = self.jitter_q4 as i64;
            self.jitter_q4 = (j + d as i64 - ((j + 8) >> 4)).max(0) as u64;
        }
        self.last_transit = Some(transit);
    }

    /// Records a sender report from this source (for LSR/DLSR in our next block).
    pub fn on_sender_report(&mut self, ntp: u64, now: Instant) {
        self.last_sr = Some(((ntp >> 16) as u32, now));
    }

    /// Extended highest sequence number received.
    pub fn extended_max(&self) -> u32 {
        self.cycles.wrapping_add(u32::from(self.max_seq))
    }

    /// Builds the report block for the next RR/SR and starts a new reporting interval.
    pub fn report_block(&mut self, now: Instant) -> Option<ReportBlock> {
        let ssrc = self.ssrc?;
        // A.3: expected = extended_max − base + 1; lost = expected − received.
        let expected = self
            .extended_max()
            .wrapping_sub(self.base_seq)
            .wrapping_add(1);
        let lost = i64::from(expected) - i64::from(self.received);
        let expected_interval = expected.wrapping_sub(self.expected_prior);
        let received_interval = self.received.wrapping_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = i64::from(expected_interval) - i64::from(received_interval);
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / i64::from(expected_interval)).min(255) as u8
        };
        let (last_sr, delay_since_last_sr) = match self.last_sr {
            Some((lsr, at)) => (
                lsr,
                (now.saturating_duration_since(at).as_secs_f64() * 65536.0) as u32,
            ),
            None => (0, 0),
        };
        Some(ReportBlock {
            ssrc,
            fraction_lost,
            cumulative_lost: lost.clamp(-0x80_0000, 0x7F_FFFF) as i32,
            highest_seq: self.extended_max(),
            jitter: (self.jitter_q4 >> 4) as u32,
            last_sr,
            delay_since_last_sr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(seq: u16, ts: u32) -> RtpPacket {
        RtpPacket::new(0, seq, ts, 42, vec![0; 160])
    }

    #[test]
    fn counts_loss_and_wrap() {
        let t0 = Instant::now();
        let mut s = ReceiverStats::new(8000, t0);
        assert!(s.report_block(t0).is_none(), "nothing received yet");
        // 65530..=65535, 0..=9 with 3 and 7 missing: 16 expected, 14 received.
        let seqs: Vec<u16> = (65530..=65535)
            .chain((0..10).filter(|s| *s != 3 && *s != 7))
            .collect();
        for (i, &seq) in seqs.iter().enumerate() {
            s.on_packet(
                &pkt(seq, i as u32 * 160),
                t0 + Duration::from_millis(20 * i as u64),
            );
        }
        let b = s.report_block(t0 + Duration::from_secs(1)).expect("block");
        assert_eq!(b.ssrc, 42);
        assert_eq!(b.highest_seq, (1 << 16) + 9);
        assert_eq!(b.cumulative_lost, 2);
        assert_eq!(b.fraction_lost, (2 * 256 / 16) as u8);
        // Next interval without loss reports fraction 0 but keeps the cumulative count.
        s.on_packet(&pkt(10, 0), t0);
        let b2 = s.report_block(t0).expect("block");
        assert_eq!((b2.fraction_lost, b2.cumulative_lost), (0, 2));
    }

    #[test]
    fn jitter_is_zero_for_perfect_pacing_and_grows_with_variation() {
        let t0 = Instant::now();
        let mut even = ReceiverStats::new(8000, t0);
        let mut bumpy = ReceiverStats::new(8000, t0);
        for i in 0..50u32 {
            let at = t0 + Duration::from_millis(20 * u64::from(i));
            even.on_packet(&pkt(i as u16, i * 160), at);
            let wobble = if i % 2 == 0 {
                Duration::ZERO
            } else {
                Duration::from_millis(10)
            };
            bumpy.on_packet(&pkt(i as u16, i * 160), at + wobble);
        }
        assert_eq!(even.report_block(t0).expect("block").jitter, 0);
        let j = bumpy.report_block(t0).expect("block").jitter;
        assert!(
            (40..=80).contains(&j),
            "jitter {j} (≈ 10 ms = 80 units, smoothed)"
        );
    }

    #[test]
    fn lsr_and_dlsr_from_sender_report() {
        let t0 = Instant::now();
        let mut s = ReceiverStats::new(8000, t0);
        s.on_packet(&pkt(1, 0), t0);
        s.on_sender_report(0x1122_3344_5566_7788, t0);
        let b = s
            .report_block(t0 + Duration::from_millis(500))
            .expect("block");
        assert_eq!(b.last_sr, 0x3344_5566);
        assert_eq!(b.delay_since_last_sr, 32768);
    }

    #[test]
    fn ntp_epoch() {
        assert_eq!(ntp_timestamp(UNIX_EPOCH) >> 32, NTP_UNIX_OFFSET);
        let half = UNIX_EPOCH + Duration::from_millis(500);
        assert_eq!(ntp_timestamp(half) & 0xFFFF_FFFF, 1 << 31);
    }
}
