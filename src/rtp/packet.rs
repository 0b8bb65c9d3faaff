//! RTP fixed header, CSRC list, header extension and padding (RFC 3550 §5.1, §5.3.1).

use super::RtpError;

/// Size of the fixed RTP header.
pub const HEADER_LEN: usize = 12;

/// One RTP packet with owned payload. Parsing validates every length field, so a packet from
/// the network can be used without further checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpPacket {
    /// M bit: for audio, the first packet of a talkspurt; for RFC 4733, the start of an event.
    pub marker: bool,
    /// 7-bit payload type.
    pub payload_type: u8,
    /// Sequence number, wraps at 2^16.
    pub sequence: u16,
    /// Media timestamp in clock-rate units (8000 Hz for G.711).
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// Contributing sources (at most 15).
    pub csrc: Vec<u32>,
    /// Header extension: profile-defined id and data (a multiple of 4 bytes).
    pub extension: Option<(u16, Vec<u8>)>,
    /// Payload without padding.
    pub payload: Vec<u8>,
}

fn be16(b: &[u8], at: usize) -> Result<u16, RtpError> {
    b.get(at..at + 2)
        .and_then(|s| s.try_into().ok())
        .map(u16::from_be_bytes)
        .ok_or(RtpError::Truncated {
            need: at + 2,
            have: b.len(),
        })
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

impl RtpPacket {
    /// A plain packet with no CSRCs and no extension.
    pub fn new(
        payload_type: u8,
        sequence: u16,
        timestamp: u32,
        ssrc: u32,
        payload: Vec<u8>,
    ) -> Self {
        Self {
            marker: false,
            payload_type: payload_type & 0x7F,
            sequence,
            timestamp,
            ssrc,
            csrc: Vec::new(),
            extension: None,
            payload,
        }
    }

    /// Parses one datagram. Any inconsistency is an error, never a panic.
    pub fn parse(buf: &[u8]) -> Result<Self, RtpError> {
        if buf.len() < HEADER_LEN {
            return Err(RtpError::Truncated {
                need: HEADER_LEN,
                have: buf.len(),
            });
        }
        let b0 = buf[0];
        let b1 = buf[1];
        let version = b0 >> 6;
        if version != 2 {
            return Err(RtpError::BadVersion(version));
        }
        let has_padding = b0 & 0x20 != 0;
        let has_extension = b0 & 0x10 != 0;
        let cc = usize::from(b0 & 0x0F);
        let mut at = HEADER_LEN;
        let mut csrc = Vec::with_capacity(cc);
        for _ in 0..cc {
            csrc.push(be32(buf, at)?);
            at += 4;
        }
        let extension = if has_extension {
            // RFC 3550 §5.3.1: 16-bit profile id, 16-bit length in 32-bit words.
            let id = be16(buf, at)?;
            let words = usize::from(be16(buf, at + 2)?);
            let start = at + 4;
            let end = start + words * 4;
            let data = buf.get(start..end).ok_or(RtpError::Truncated {
                need: end,
                have: buf.len(),
            })?;
            at = end;
            Some((id, data.to_vec()))
        } else {
            None
        };
        let mut end = buf.len();
        if has_padding {
            // The last octet counts the padding octets, itself included.
            let pad = buf[buf.len() - 1];
            if pad == 0 || usize::from(pad) > buf.len() - at {
                return Err(RtpError::BadPadding(pad));
            }
            end -= usize::from(pad);
        }
        let payload = buf.get(at..end).unwrap_or(&[]).to_vec();
        Ok(Self {
            marker: b1 & 0x80 != 0,
            payload_type: b1 & 0x7F,
            sequence: be16(buf, 2)?,
            timestamp: be32(buf, 4)?,
            ssrc: be32(buf, 8)?,
            csrc,
            extension,
            payload,
        })
    }

    /// Serialises into `out` (cleared first). Never pads.
    pub fn write_to(&self, out: &mut Vec<u8>) -> Result<(), RtpError> {
        if self.csrc.len() > 15 {
            return Err(RtpError::Invalid("more than 15 CSRCs"));
        }
        if let Some((_, data)) = &self.extension {
            if data.len() % 4 != 0 || data.len() / 4 > usize::from(u16::MAX) {
                return Err(RtpError::Invalid(
                    "extension length not a multiple of 4 bytes",
                ));
            }
        }
        out.clear();
        let b0 = 0x80 | if self.extension.is_some() { 0x10 } else { 0 } | self.csrc.len() as u8;
        out.push(b0);
        out.push(if self.marker { 0x80 } else { 0 } | (self.payload_type & 0x7F));
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        for c in &self.csrc {
            out.extend_from_slice(&c.to_be_bytes());
        }
        if let Some((id, data)) = &self.extension {
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(&((data.len() / 4) as u16).to_be_bytes());
            out.extend_from_slice(data);
        }
        out.extend_from_slice(&self.payload);
        Ok(())
    }

    /// Serialises, allocating.
    pub fn to_bytes(&self) -> Result<Vec<u8>, RtpError> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.payload.len());
        self.write_to(&mut out)?;
        Ok(out)
    }
}

/// True when the datagram looks like RTCP rather than RTP (RFC 5761 §4: PT 192–223 in the
/// second octet), for demultiplexing when rtcp-mux is used.
pub fn looks_like_rtcp(buf: &[u8]) -> bool {
    matches!(buf.get(1), Some(b) if (192..=223).contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_plain_and_full() {
        let mut p = RtpPacket::new(0, 65535, 0xDEAD_BEEF, 0x1234_5678, vec![0xFF; 160]);
        p.marker = true;
        let bytes = p.to_bytes().expect("serialise");
        assert_eq!(bytes.len(), 172);
        assert_eq!(&bytes[..2], &[0x80, 0x80]);
        assert_eq!(RtpPacket::parse(&bytes), Ok(p.clone()));
        p.csrc = vec![1, 2, 3];
        p.extension = Some((0xBEDE, vec![1, 2, 3, 4]));
        let bytes = p.to_bytes().expect("serialise");
        assert_eq!(RtpPacket::parse(&bytes), Ok(p));
    }

    #[test]
    fn strips_padding() {
        let p = RtpPacket::new(8, 1, 2, 3, vec![9, 9]);
        let mut bytes = p.to_bytes().expect("serialise");
        bytes[0] |= 0x20;
        bytes.extend_from_slice(&[0, 0, 3]);
        assert_eq!(RtpPacket::parse(&bytes).expect("parse").payload, vec![9, 9]);
    }

    /// Table of malformed packets and the error each must produce.
    #[test]
    fn rejects_malformed() {
        let good = RtpPacket::new(0, 1, 2, 3, vec![1, 2, 3, 4])
            .to_bytes()
            .expect("serialise");
        let mut v1 = good.clone();
        v1[0] = 0x40;
        let mut cc = good.clone();
        cc[0] |= 0x0F; // 15 CSRCs announced, 4 bytes present
        let mut ext = good.clone();
        ext[0] |= 0x10;
        ext[12..16].copy_from_slice(&[0, 0, 0xFF, 0xFF]); // huge extension length
        let mut pad0 = good.clone();
        pad0[0] |= 0x20;
        *pad0.last_mut().expect("non-empty") = 0;
        let mut pad_big = good.clone();
        pad_big[0] |= 0x20;
        *pad_big.last_mut().expect("non-empty") = 200;
        let cases: Vec<(&str, Vec<u8>, RtpError)> = vec![
            ("empty", vec![], RtpError::Truncated { need: 12, have: 0 }),
            (
                "short",
                good[..11].to_vec(),
                RtpError::Truncated { need: 12, have: 11 },
            ),
            ("version 1", v1, RtpError::BadVersion(1)),
            (
                "csrc overrun",
                cc,
                RtpError::Truncated { need: 20, have: 16 },
            ),
            (
                "extension overrun",
                ext,
                RtpError::Truncated {
                    need: 262_156,
                    have: 16,
                },
            ),
            ("zero padding", pad0, RtpError::BadPadding(0)),
            ("padding overrun", pad_big, RtpError::BadPadding(200)),
        ];
        for (name, bytes, want) in cases {
            assert_eq!(RtpPacket::parse(&bytes), Err(want), "{name}");
        }
    }

    /// Every prefix and a pseudo-random stream of junk must parse or fail, never panic.
    #[test]
    fn junk_never_panics() {
        let p = RtpPacket {
            csrc: vec![7; 3],
            extension: Some((1, vec![0; 8])),
            ..RtpPacket::new(0, 1, 2, 3, vec![5; 20])
        };
        let bytes = p.to_bytes().expect("serialise");
        for n in 0..=bytes.len() {
            let _ = RtpPacket::parse(&bytes[..n]);
        }
        let mut x: u32 = 1;
        for _ in 0..20_000 {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let len = (x >> 24) as usize % 64;
            let buf: Vec<u8> = (0..len)
                .map(|i| (x.rotate_left(i as u32) >> 3) as u8 | 0x80)
                .collect();
            let _ = RtpPacket::parse(&buf);
        }
    }

    #[test]
    fn rtcp_demux() {
        assert!(looks_like_rtcp(&[0x80, 200, 0, 6]));
        assert!(!looks_like_rtcp(&[0x80, 0, 0, 1]));
        assert!(!looks_like_rtcp(&[0x80]));
    }
}
