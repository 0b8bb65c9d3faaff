//! Basic RTCP: sender and receiver reports (RFC 3550 §6.4) in compound packets.
//!
//! Trunks and SBCs use RTCP to detect dead media; we send SR/RR so a long silent hold is not
//! torn down, and we read the peer's reports for loss/jitter figures in call-quality records.
//! Other packet types (SDES, BYE, APP…) are skipped when parsing a compound packet.

use super::RtpError;

/// RTCP packet type of a sender report.
pub const PT_SR: u8 = 200;
/// RTCP packet type of a receiver report.
pub const PT_RR: u8 = 201;

/// One reception report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// Source this block is about.
    pub ssrc: u32,
    /// Fraction lost since the last report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR received.
    pub last_sr: u32,
    /// Delay since that SR, in 1/65536 s.
    pub delay_since_last_sr: u32,
}

/// Sender information of an SR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderInfo {
    /// 64-bit NTP timestamp of this report.
    pub ntp_timestamp: u64,
    /// RTP timestamp corresponding to the same instant.
    pub rtp_timestamp: u32,
    /// Packets sent so far.
    pub packet_count: u32,
    /// Payload octets sent so far.
    pub octet_count: u32,
}

/// The report packets we understand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtcpReport {
    /// Sender report.
    Sender {
        /// Reporter's SSRC.
        ssrc: u32,
        /// What it sent.
        info: SenderInfo,
        /// What it received.
        blocks: Vec<ReportBlock>,
    },
    /// Receiver report.
    Receiver {
        /// Reporter's SSRC.
        ssrc: u32,
        /// What it received.
        blocks: Vec<ReportBlock>,
    },
}

fn be32(b: &[u8], at: usize) -> Result<u32, RtpError> {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map(u32::from_be_bytes)
        .ok_or(RtpError::Truncated {
            need: at + 4,
            have: b.len(),
        })
}

fn parse_block(b: &[u8], at: usize) -> Result<ReportBlock, RtpError> {
    let lost_word = be32(b, at + 4)?;
    // 24-bit two's complement (RFC 3550 §6.4.1 "cumulative number of packets lost").
    let cumulative_lost = ((lost_word << 8) as i32) >> 8;
    Ok(ReportBlock {
        ssrc: be32(b, at)?,
        fraction_lost: (lost_word >> 24) as u8,
        cumulative_lost,
        highest_seq: be32(b, at + 8)?,
        jitter: be32(b, at + 12)?,
        last_sr: be32(b, at + 16)?,
        delay_since_last_sr: be32(b, at + 20)?,
    })
}

fn write_block(out: &mut Vec<u8>, b: &ReportBlock) {
    out.extend_from_slice(&b.ssrc.to_be_bytes());
    let lost = (u32::from(b.fraction_lost) << 24)
        | (b.cumulative_lost.clamp(-0x80_0000, 0x7F_FFFF) as u32 & 0x00FF_FFFF);
    out.extend_from_slice(&lost.to_be_bytes());
    out.extend_from_slice(&b.highest_seq.to_be_bytes());
    out.extend_from_slice(&b.jitter.to_be_bytes());
    out.extend_from_slice(&b.last_sr.to_be_bytes());
    out.extend_from_slice(&b.delay_since_last_sr.to_be_bytes());
}

impl RtcpReport {
    /// Serialises this report as one RTCP packet (at most 31 blocks, RFC 3550 RC field).
    pub fn to_bytes(&self) -> Result<Vec<u8>, RtpError> {
        let (pt, ssrc, info, blocks) = match self {
            RtcpReport::Sender { ssrc, info, blocks } => (PT_SR, *ssrc, Some(info), blocks),
            RtcpReport::Receiver { ssrc, blocks } => (PT_RR, *ssrc, None, blocks),
        };
        if blocks.len() > 31 {
            return Err(RtpError::Invalid("more than 31 report blocks"));
        }
        let mut out = Vec::with_capacity(8 + 20 + blocks.len() * 24);
        out.push(0x80 | blocks.len() as u8);
        out.push(pt);
        out.extend_from_slice(&[0, 0]); // length, filled below
        out.extend_from_slice(&ssrc.to_be_bytes());
        if let Some(i) = info {
            out.extend_from_slice(&i.ntp_timestamp.to_be_bytes());
            out.extend_from_slice(&i.rtp_timestamp.to_be_bytes());
            out.extend_from_slice(&i.packet_count.to_be_bytes());
            out.extend_from_slice(&i.octet_count.to_be_bytes());
        }
        for b in blocks {
            write_block(&mut out, b);
        }
        // Length in 32-bit words minus one (RFC 3550 §6.4.1).
        let words = (out.len() / 4 - 1) as u16;
        out[2..4].copy_from_slice(&words.to_be_bytes());
        Ok(out)
    }

    /// Parses a compound RTCP packet, returning the SR/RR it contains and skipping other types.
    pub fn parse_compound(buf: &[u8]) -> Result<Vec<RtcpReport>, RtpError> {
        let mut out = Vec::new();
        let mut at = 0usize;
        if buf.is_empty() {
            return Err(RtpError::Truncated { need: 4, have: 0 });
        }
        while at < buf.len() {
            let head = buf.get(at..at + 4).ok_or(RtpError::Truncated {
                need: at + 4,
                have: buf.len(),
            })?;
            let version = head[0] >> 6;
            if version != 2 {
                return Err(RtpError::BadVersion(version));
            }
            let count = usize::from(head[0] & 0x1F);
            let pt = head[1];
            let len = (usize::from(u16::from_be_bytes([head[2], head[3]])) + 1) * 4;
            let pkt = buf.get(at..at + len).ok_or(RtpError::Truncated {
                need: at + len,
                have: buf.len(),
            })?;
            let ssrc = be32(pkt, 4)?;
            match pt {
                PT_SR => {
                    let info = SenderInfo {
                        ntp_timestamp: (u64::from(be32(pkt, 8)?) << 32) | u64::from(be32(pkt, 12)?),
                        rtp_timestamp: be32(pkt, 16)?,
                        packet_count: be32(pkt, 20)?,
                        octet_count: be32(pkt, 24)?,
                    };
                    let blocks = (0..count)
                        .map(|i| parse_block(pkt, 28 + i * 24))
                        .collect::<Result<_, _>>()?;
                    out.push(RtcpReport::Sender { ssrc, info, blocks });
                }
                PT_RR => {
                    let blocks = (0..count)
                        .map(|i| parse_block(pkt, 8 + i * 24))
                        .collect::<Result<_, _>>()?;
                    out.push(RtcpReport::Receiver { ssrc, blocks });
                }
                _ => {}
            }
            at += len;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block() -> ReportBlock {
        ReportBlock {
            ssrc: 0xAABB_CCDD,
            fraction_lost: 25,
            cumulative_lost: -3,
            highest_seq: 70_000,
            jitter: 12,
            last_sr: 0x1234_5678,
            delay_since_last_sr: 65536,
        }
    }

    #[test]
    fn sr_and_rr_round_trip_in_compound() {
        let sr = RtcpReport::Sender {
            ssrc: 1,
            info: SenderInfo {
                ntp_timestamp: 0x0102_0304_0506_0708,
                rtp_timestamp: 160,
                packet_count: 50,
                octet_count: 8000,
            },
            blocks: vec![block()],
        };
        let rr = RtcpReport::Receiver {
            ssrc: 2,
            blocks: vec![block(), ReportBlock::default()],
        };
        let mut bytes = sr.to_bytes().expect("sr");
        assert_eq!(bytes.len(), 52);
        // An SDES chunk in between is skipped (RFC 3550 §6.1 compound packets).
        bytes.extend_from_slice(&[0x81, 202, 0, 1, 0, 0, 0, 1]);
        bytes.extend_from_slice(&rr.to_bytes().expect("rr"));
        assert_eq!(RtcpReport::parse_compound(&bytes), Ok(vec![sr, rr]));
    }

    #[test]
    fn malformed_is_an_error_not_a_panic() {
        let good = RtcpReport::Receiver {
            ssrc: 2,
            blocks: vec![block()],
        }
        .to_bytes()
        .expect("rr");
        for n in 0..good.len() {
            assert!(
                RtcpReport::parse_compound(&good[..n]).is_err(),
                "prefix {n}"
            );
        }
        let mut v1 = good.clone();
        v1[0] = 0x41;
        assert_eq!(
            RtcpReport::parse_compound(&v1),
            Err(RtpError::BadVersion(1))
        );
        let mut lying = good.clone();
        lying[0] = 0x80 | 5; // claims 5 blocks, holds 1
        assert!(RtcpReport::parse_compound(&lying).is_err());
        let too_many = RtcpReport::Receiver {
            ssrc: 1,
            blocks: vec![block(); 32],
        };
        assert!(too_many.to_bytes().is_err());
    }
}
