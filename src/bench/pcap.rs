//! Reads rtpengine's pcap recordings (`--recording-method=pcap`) far enough to count RTP
//! packets and sequence gaps per stream: the relay-side equivalent of "recorded gaps".

use std::collections::HashMap;
use std::path::Path;

/// What one or more pcap files hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PcapTally {
    /// RTP packets recorded.
    pub packets: u64,
    /// Packets missing by sequence number inside each stream (20 ms frames for G.711/20).
    pub missing: u64,
    /// Distinct RTP streams (SSRC per file).
    pub streams: u64,
}

impl PcapTally {
    /// Adds another file's tally.
    pub fn add(&mut self, other: PcapTally) {
        self.packets += other.packets;
        self.missing += other.missing;
        self.streams += other.streams;
    }
}

/// Tallies one pcap file's bytes (classic libpcap format, raw IP or Ethernet link type).
pub fn tally(bytes: &[u8]) -> PcapTally {
    let mut t = PcapTally::default();
    let Some(magic) = bytes.get(..4) else {
        return t;
    };
    let le = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => return t,
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        Some(if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let Some(link) = u32_at(20) else {
        return t;
    };
    // next expected sequence number per SSRC
    let mut next: HashMap<u32, u16> = HashMap::new();
    let mut at = 24;
    while let Some(len) = u32_at(at + 8) {
        let start = at + 16;
        let Some(data) = bytes.get(start..start + len as usize) else {
            break;
        };
        at = start + len as usize;
        // DLT_EN10MB (1) has a 14-byte Ethernet header; DLT_RAW (101 or 12) starts at IP.
        let ip = if link == 1 {
            data.get(14..)
        } else {
            Some(data)
        };
        let Some(rtp) = ip.and_then(udp_payload) else {
            continue;
        };
        if rtp.len() < 12 || rtp[0] >> 6 != 2 {
            continue;
        }
        let seq = u16::from_be_bytes([rtp[2], rtp[3]]);
        let ssrc = u32::from_be_bytes([rtp[8], rtp[9], rtp[10], rtp[11]]);
        t.packets += 1;
        match next.insert(ssrc, seq.wrapping_add(1)) {
            None => t.streams += 1,
            Some(expected) => {
                let ahead = seq.wrapping_sub(expected);
                if ahead > 0 && ahead < 1000 {
                    t.missing += u64::from(ahead);
                }
            }
        }
    }
    t
}

/// The UDP payload of an IPv4 or IPv6 packet.
fn udp_payload(ip: &[u8]) -> Option<&[u8]> {
    let header = match ip.first()? >> 4 {
        4 => usize::from(ip.first()? & 0x0f) * 4,
        6 => 40,
        _ => return None,
    };
    ip.get(header + 8..)
}

/// Tallies every `*.pcap` under `dir`.
pub fn tally_dir(dir: &Path) -> std::io::Result<(PcapTally, usize)> {
    let (mut total, mut files) = (PcapTally::default(), 0);
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "pcap") {
            total.add(tally(&std::fs::read(&path)?));
            files += 1;
        }
    }
    Ok((total, files))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u16, ssrc: u32) -> Vec<u8> {
        let mut ip = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
        ];
        ip.extend([0u8; 8]); // UDP header
        ip.extend([0x80, 0]);
        ip.extend(seq.to_be_bytes());
        ip.extend([0u8; 4]);
        ip.extend(ssrc.to_be_bytes());
        ip.extend([0xffu8; 160]);
        let mut rec = Vec::new();
        for v in [0u32, 0, ip.len() as u32, ip.len() as u32] {
            rec.extend(v.to_le_bytes());
        }
        rec.extend(ip);
        rec
    }

    #[test]
    fn counts_packets_streams_and_missing_sequence_numbers() {
        let mut file = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
        file.extend([0u8; 8]);
        file.extend(65535u32.to_le_bytes());
        file.extend(101u32.to_le_bytes());
        for seq in [65534u16, 65535, 0, 3, 4] {
            file.extend(record(seq, 7));
        }
        file.extend(record(10, 8));
        file.extend([1, 2, 3]); // truncated tail
        let t = tally(&file);
        assert_eq!(
            t,
            PcapTally {
                packets: 6,
                missing: 2,
                streams: 2
            }
        );
        assert_eq!(tally(b"junk"), PcapTally::default());
    }
}
