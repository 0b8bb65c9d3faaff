//! RFC 4733 telephone-events (DTMF over RTP): payload codec, a receiver that reports each key
//! press exactly once, and a sender that builds the packets for one key press.
//!
//! A sender repeats each event every packetisation interval with a growing duration and sends
//! the final (E-bit) packet three times (RFC 4733 §2.5.1.4); all packets of one event share one
//! RTP timestamp (§2.5.1.2). So the receiver keys an event by (SSRC, timestamp): the first E
//! packet reports it, later ones are duplicates. Real peers switch SSRC and sequence for DTMF
//! (sipp's pcaps carry their own), so nothing here depends on the audio stream's numbering.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{RtpError, RtpPacket};

/// Decoded RFC 4733 §2.3 payload (4 octets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code: 0–9, 10 = `*`, 11 = `#`, 12–15 = A–D (RFC 4733 §3.2).
    pub event: u8,
    /// E bit: last packet(s) of the event.
    pub end: bool,
    /// Power level in −dBm0 (0–63).
    pub volume: u8,
    /// Duration so far, in RTP timestamp units.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Parses the first 4 octets of an RTP payload (more are allowed: RFC 4733 §2.5.1.5).
    pub fn parse(payload: &[u8]) -> Result<Self, RtpError> {
        let b = payload.get(..4).ok_or(RtpError::Truncated {
            need: 4,
            have: payload.len(),
        })?;
        Ok(Self {
            event: b[0],
            end: b[1] & 0x80 != 0,
            volume: b[1] & 0x3F,
            duration: u16::from_be_bytes([b[2], b[3]]),
        })
    }

    /// Serialises to 4 octets (R bit zero).
    pub fn to_bytes(self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        [
            self.event,
            if self.end { 0x80 } else { 0 } | (self.volume & 0x3F),
            d[0],
            d[1],
        ]
    }
}

/// The keypad character of a DTMF event code, if it is one.
pub fn event_to_digit(event: u8) -> Option<char> {
    match event {
        0..=9 => Some(char::from(b'0' + event)),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + event - 12)),
        _ => None,
    }
}

/// The event code of a keypad character (`0-9 * # A-D`, case-insensitive).
pub fn digit_to_event(digit: char) -> Option<u8> {
    match digit.to_ascii_uppercase() {
        c @ '0'..='9' => Some(c as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        c @ 'A'..='D' => Some(c as u8 - b'A' + 12),
        _ => None,
    }
}

/// One completed key press.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfDigit {
    /// Event code (see [`event_to_digit`]).
    pub event: u8,
    /// Keypad character, if the code is a DTMF key.
    pub digit: Option<char>,
    /// Duration in RTP timestamp units as last reported by the sender.
    pub duration: u16,
    /// SSRC that carried it.
    pub ssrc: u32,
    /// RTP timestamp identifying the event.
    pub timestamp: u32,
    /// False when the end packets were lost and the event was closed by a newer event or a
    /// timeout instead.
    pub ended_cleanly: bool,
}

#[derive(Debug, Clone, Copy)]
struct Ongoing {
    ssrc: u32,
    timestamp: u32,
    event: u8,
    duration: u16,
    last_seen: Instant,
}

/// Events not ended after this much silence are reported anyway (end packets lost).
const STALE_AFTER: Duration = Duration::from_millis(1000);
/// How many finished events are remembered to drop their retransmitted end packets.
const REMEMBERED: usize = 16;

/// Turns telephone-event packets into [`DtmfDigit`]s, each exactly once. Sans-IO: `push` packets
/// with `now`, call `handle_timeout` from time to time, `poll` for digits.
#[derive(Debug)]
pub struct DtmfReceiver {
    payload_type: u8,
    ongoing: Option<Ongoing>,
    finished: VecDeque<(u32, u32)>,
    ready: VecDeque<DtmfDigit>,
}

impl DtmfReceiver {
    /// A receiver for the telephone-event payload type negotiated in SDP (often 101).
    pub fn new(payload_type: u8) -> Self {
        Self {
            payload_type,
            ongoing: None,
            finished: VecDeque::with_capacity(REMEMBERED),
            ready: VecDeque::new(),
        }
    }

    /// The payload type this receiver accepts.
    pub fn payload_type(&self) -> u8 {
        self.payload_type
    }

    /// Feeds one RTP packet; packets of other payload types and malformed events are ignored.
    pub fn push(&mut self, pkt: &RtpPacket, now: Instant) {
        if pkt.payload_type != self.payload_type {
            return;
        }
        let Ok(ev) = TelephoneEvent::parse(&pkt.payload) else {
            return;
        };
        let key = (pkt.ssrc, pkt.timestamp);
        if let Some(pos) = self.finished.iter().position(|k| *k == key) {
            if ev.end {
                return; // retransmitted end packet (RFC 4733 §2.5.1.4) of a reported event
            }
            // A non-end packet with a finished key is a replay of the same capture (sipp's
            // pcaps reuse SSRC and timestamp): a new key press.
            self.finished.remove(pos);
        }
        match self.ongoing {
            Some(o) if (o.ssrc, o.timestamp) == key => {}
            Some(_) => self.close(false), // a new event began before the old one ended
            None => {}
        }
        let ongoing = self.ongoing.get_or_insert(Ongoing {
            ssrc: pkt.ssrc,
            timestamp: pkt.timestamp,
            event: ev.event,
            duration: 0,
            last_seen: now,
        });
        ongoing.duration = ongoing.duration.max(ev.duration);
        ongoing.last_seen = now;
        if ev.end {
            self.close(true);
        }
    }

    /// Closes an event whose end packets never came.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(o) = self.ongoing {
            if now.saturating_duration_since(o.last_seen) >= STALE_AFTER {
                self.close(false);
            }
        }
    }

    /// When `handle_timeout` should next be called, if an event is open.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.ongoing.map(|o| o.last_seen + STALE_AFTER)
    }

    /// The next completed digit.
    pub fn poll(&mut self) -> Option<DtmfDigit> {
        self.ready.pop_front()
    }

    fn close(&mut self, ended_cleanly: bool) {
        if let Some(o) = self.ongoing.take() {
            if self.finished.len() == REMEMBERED {
                self.finished.pop_front();
            }
            self.finished.push_back((o.ssrc, o.timestamp));
            self.ready.push_back(DtmfDigit {
                event: o.event,
                digit: event_to_digit(o.event),
                duration: o.duration,
                ssrc: o.ssrc,
                timestamp: o.timestamp,
                ended_cleanly,
            });
        }
    }
}

/// Builds the telephone-event payloads of one key press, in sending order: one per 20 ms
/// (the first with the marker bit), then the end packet three times. The caller stamps them
/// with its stream's SSRC, consecutive sequence numbers and the one `timestamp` of the event.
pub fn key_press_payloads(
    digit: char,
    duration_ms: u32,
    volume: u8,
) -> Option<Vec<(bool, [u8; 4])>> {
    let event = digit_to_event(digit)?;
    let step = 160u32; // 20 ms at 8 kHz
    let total = (duration_ms.max(40) * 8).min(u32::from(u16::MAX));
    let mut out = Vec::new();
    let mut dur = step;
    while dur < total {
        let ev = TelephoneEvent {
            event,
            end: false,
            volume,
            duration: dur as u16,
        };
        out.push((out.is_empty(), ev.to_bytes()));
        dur += step;
    }
    let end = TelephoneEvent {
        event,
        end: true,
        volume,
        duration: total as u16,
    };
    for _ in 0..3 {
        out.push((false, end.to_bytes()));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(ssrc: u32, seq: u16, ts: u32, ev: TelephoneEvent) -> RtpPacket {
        RtpPacket::new(101, seq, ts, ssrc, ev.to_bytes().to_vec())
    }

    fn ev(event: u8, end: bool, duration: u16) -> TelephoneEvent {
        TelephoneEvent {
            event,
            end,
            volume: 10,
            duration,
        }
    }

    fn drain(rx: &mut DtmfReceiver) -> Vec<DtmfDigit> {
        std::iter::from_fn(|| rx.poll()).collect()
    }

    #[test]
    fn payload_round_trip_and_digits() {
        let e = ev(11, true, 1234);
        assert_eq!(TelephoneEvent::parse(&e.to_bytes()), Ok(e));
        assert!(TelephoneEvent::parse(&[1, 2, 3]).is_err());
        let all = "0123456789*#ABCD";
        for (code, c) in all.chars().enumerate() {
            assert_eq!(digit_to_event(c), Some(code as u8));
            assert_eq!(event_to_digit(code as u8), Some(c));
        }
        assert_eq!(digit_to_event('x'), None);
        assert_eq!(event_to_digit(16), None);
    }

    #[test]
    fn end_retransmits_report_once() {
        let now = Instant::now();
        let mut rx = DtmfReceiver::new(101);
        for (i, d) in [160u16, 320, 480].iter().enumerate() {
            rx.push(&pkt(7, i as u16, 1000, ev(5, false, *d)), now);
        }
        assert!(drain(&mut rx).is_empty(), "no digit before the end bit");
        for _ in 0..3 {
            rx.push(&pkt(7, 3, 1000, ev(5, true, 640)), now);
        }
        let got = drain(&mut rx);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].digit, Some('5'));
        assert_eq!(got[0].duration, 640);
        assert!(got[0].ended_cleanly);
    }

    #[test]
    fn same_digit_twice_is_two_events_and_ssrc_change_is_fine() {
        let now = Instant::now();
        let mut rx = DtmfReceiver::new(101);
        rx.push(&pkt(1, 10, 8000, ev(1, true, 800)), now);
        rx.push(&pkt(1, 11, 8000, ev(1, true, 800)), now);
        rx.push(&pkt(1, 12, 9600, ev(1, true, 800)), now);
        rx.push(&pkt(99, 5000, 8000, ev(1, true, 800)), now); // other SSRC, same timestamp
        let digits: Vec<_> = drain(&mut rx).iter().map(|d| d.ssrc).collect();
        assert_eq!(digits, vec![1, 1, 99]);
    }

    #[test]
    fn lost_end_is_closed_by_next_event_or_timeout() {
        let t0 = Instant::now();
        let mut rx = DtmfReceiver::new(101);
        rx.push(&pkt(1, 1, 100, ev(2, false, 160)), t0);
        rx.push(&pkt(1, 2, 900, ev(3, false, 160)), t0);
        let got = drain(&mut rx);
        assert_eq!((got[0].digit, got[0].ended_cleanly), (Some('2'), false));
        assert_eq!(rx.poll_timeout(), Some(t0 + STALE_AFTER));
        rx.handle_timeout(t0 + Duration::from_millis(999));
        assert!(rx.poll().is_none());
        rx.handle_timeout(t0 + STALE_AFTER);
        assert_eq!(rx.poll().and_then(|d| d.digit), Some('3'));
        assert_eq!(rx.poll_timeout(), None);
    }

    #[test]
    fn ignores_other_payload_types_and_junk() {
        let now = Instant::now();
        let mut rx = DtmfReceiver::new(101);
        rx.push(&RtpPacket::new(0, 1, 1, 1, vec![0xFF; 160]), now);
        rx.push(&RtpPacket::new(101, 1, 1, 1, vec![1]), now);
        assert!(rx.poll().is_none());
        assert_eq!(rx.poll_timeout(), None);
    }

    #[test]
    fn sender_output_is_understood_by_receiver() {
        let now = Instant::now();
        let payloads = key_press_payloads('#', 100, 10).expect("valid digit");
        assert_eq!(payloads.len(), 4 + 3);
        assert!(payloads[0].0 && payloads.iter().skip(1).all(|p| !p.0));
        let mut rx = DtmfReceiver::new(101);
        for (i, (marker, bytes)) in payloads.iter().enumerate() {
            let mut p = RtpPacket::new(101, i as u16, 4242, 3, bytes.to_vec());
            p.marker = *marker;
            rx.push(&p, now);
        }
        let got = drain(&mut rx);
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].digit, got[0].duration), (Some('#'), 800));
        assert!(key_press_payloads('x', 100, 10).is_none());
    }

    #[test]
    fn replayed_capture_counts_again() {
        let now = Instant::now();
        let mut rx = DtmfReceiver::new(101);
        for _ in 0..2 {
            rx.push(&pkt(1, 1, 500, ev(9, false, 160)), now);
            rx.push(&pkt(1, 2, 500, ev(9, true, 320)), now);
            rx.push(&pkt(1, 2, 500, ev(9, true, 320)), now);
        }
        let digits: String = drain(&mut rx).iter().filter_map(|d| d.digit).collect();
        assert_eq!(digits, "99");
    }

    /// Extracts RTP payloads from a classic pcap of Ethernet/IPv4/UDP frames.
    fn pcap_rtp(bytes: &[u8]) -> Vec<RtpPacket> {
        let mut out = Vec::new();
        let mut at = 24; // global header
        while let Some(rec) = bytes.get(at..at + 16) {
            let incl = u32::from_le_bytes([rec[8], rec[9], rec[10], rec[11]]) as usize;
            let frame = &bytes[at + 16..at + 16 + incl];
            out.push(RtpPacket::parse(&frame[42..]).expect("pcap holds valid RTP"));
            at += 16 + incl;
        }
        out
    }

    /// The RFC 4733 captures shipped with sipp (what the patient phone plays): digit `1` then
    /// `#`, each with its own sequence numbers and repeated end packets → exactly "1#".
    #[test]
    fn sipp_pcaps_give_one_then_pound() {
        let now = Instant::now();
        let mut rx = DtmfReceiver::new(101);
        for file in [
            &include_bytes!("../../tests/fixtures/sip/dtmf_2833_1.pcap")[..],
            &include_bytes!("../../tests/fixtures/sip/dtmf_2833_pound.pcap")[..],
        ] {
            let pkts = pcap_rtp(file);
            assert!(pkts.len() >= 8);
            for p in &pkts {
                rx.push(p, now);
            }
        }
        let digits: String = drain(&mut rx).iter().filter_map(|d| d.digit).collect();
        assert_eq!(digits, "1#");
    }
}
