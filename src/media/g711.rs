//! ITU-T G.711 µ-law (PCMU, RTP payload type 0) and A-law (PCMA, payload type 8) codecs.
//!
//! The algorithms are the classic segment/mantissa ones from the ITU reference (and Sun's
//! public-domain `g711.c`); decoding uses 256-entry tables built at compile time because it
//! runs for every sample of every call.

/// Bias added before µ-law segment search (G.711 §3.2 uses 33 on 14-bit samples = 0x84 on 16-bit).
const ULAW_BIAS: i32 = 0x84;
/// Largest magnitude µ-law can represent once biased.
const ULAW_CLIP: i32 = 32635;

/// Encodes one 16-bit linear sample as µ-law.
pub fn linear_to_ulaw(sample: i16) -> u8 {
    let mut pcm = i32::from(sample);
    let sign = if pcm < 0 {
        pcm = -pcm;
        0x80
    } else {
        0x00
    };
    pcm = pcm.min(ULAW_CLIP) + ULAW_BIAS;
    // Segment = position of the highest set bit above bit 7 (values 0..=7).
    let exponent = (31 - (pcm as u32).leading_zeros()).saturating_sub(7).min(7) as i32;
    let mantissa = (pcm >> (exponent + 3)) & 0x0F;
    !((sign | (exponent << 4) | mantissa) as u8)
}

const fn ulaw_decode_const(byte: u8) -> i16 {
    let u = !byte;
    let sign = u & 0x80;
    let exponent = ((u >> 4) & 0x07) as i32;
    let mantissa = (u & 0x0F) as i32;
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
    if sign != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

const fn alaw_decode_const(byte: u8) -> i16 {
    let a = byte ^ 0x55;
    let mut t = ((a & 0x0F) as i32) << 4;
    let seg = ((a & 0x70) >> 4) as i32;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= seg - 1;
        }
    }
    if a & 0x80 != 0 {
        t as i16
    } else {
        -t as i16
    }
}

const fn build_table(alaw: bool) -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = if alaw {
            alaw_decode_const(i as u8)
        } else {
            ulaw_decode_const(i as u8)
        };
        i += 1;
    }
    table
}

static ULAW_TABLE: [i16; 256] = build_table(false);
static ALAW_TABLE: [i16; 256] = build_table(true);

/// Decodes one µ-law byte to a 16-bit linear sample.
pub fn ulaw_to_linear(byte: u8) -> i16 {
    ULAW_TABLE[usize::from(byte)]
}

/// Encodes one 16-bit linear sample as A-law (the 13-bit reference algorithm on `sample >> 3`).
pub fn linear_to_alaw(sample: i16) -> u8 {
    // Segment end points of the 13-bit magnitude (G.711 Table 1a).
    const SEG_END: [i32; 8] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];
    let mut pcm = i32::from(sample) >> 3;
    let mask: u8 = if pcm >= 0 {
        0xD5
    } else {
        pcm = -pcm - 1;
        0x55
    };
    let Some(seg) = SEG_END.iter().position(|&end| pcm <= end) else {
        return 0x7F ^ mask;
    };
    let shift = if seg < 2 { 1 } else { seg };
    let aval = ((seg as i32) << 4) | ((pcm >> shift) & 0x0F);
    (aval as u8) ^ mask
}

/// Decodes one A-law byte to a 16-bit linear sample.
pub fn alaw_to_linear(byte: u8) -> i16 {
    ALAW_TABLE[usize::from(byte)]
}

/// The two G.711 laws, named by their RTP encoding names (RFC 3551 §4.5.14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum G711 {
    /// µ-law, static payload type 0.
    Pcmu,
    /// A-law, static payload type 8.
    Pcma,
}

impl G711 {
    /// Static RTP payload type (RFC 3551 Table 4).
    pub fn payload_type(self) -> u8 {
        match self {
            G711::Pcmu => 0,
            G711::Pcma => 8,
        }
    }

    /// The codec for a static payload type, if it is one of ours.
    pub fn from_payload_type(pt: u8) -> Option<Self> {
        match pt {
            0 => Some(G711::Pcmu),
            8 => Some(G711::Pcma),
            _ => None,
        }
    }

    /// Encodes PCM into `out` (cleared first), one byte per sample.
    pub fn encode_into(self, pcm: &[i16], out: &mut Vec<u8>) {
        out.clear();
        match self {
            G711::Pcmu => out.extend(pcm.iter().map(|&s| linear_to_ulaw(s))),
            G711::Pcma => out.extend(pcm.iter().map(|&s| linear_to_alaw(s))),
        }
    }

    /// Encodes PCM, allocating.
    pub fn encode(self, pcm: &[i16]) -> Vec<u8> {
        let mut out = Vec::with_capacity(pcm.len());
        self.encode_into(pcm, &mut out);
        out
    }

    /// Decodes bytes into `out` (cleared first).
    pub fn decode_into(self, bytes: &[u8], out: &mut Vec<i16>) {
        out.clear();
        match self {
            G711::Pcmu => out.extend(bytes.iter().map(|&b| ulaw_to_linear(b))),
            G711::Pcma => out.extend(bytes.iter().map(|&b| alaw_to_linear(b))),
        }
    }

    /// Decodes bytes, allocating.
    pub fn decode(self, bytes: &[u8]) -> Vec<i16> {
        let mut out = Vec::with_capacity(bytes.len());
        self.decode_into(bytes, &mut out);
        out
    }

    /// The byte that decodes to (near) silence; used to fill gaps.
    pub fn silence(self) -> u8 {
        match self {
            G711::Pcmu => 0xFF,
            G711::Pcma => 0xD5,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values from the ITU G.711 tables / Sun g711.c.
    #[test]
    fn ulaw_known_values() {
        let cases: &[(i16, u8)] = &[
            (0, 0xFF),
            (-1, 0x7F),
            (32767, 0x80),
            (-32768, 0x00),
            (1000, 0xCE),
            (-1000, 0x4E),
            (8, 0xFE),
        ];
        for &(pcm, code) in cases {
            assert_eq!(linear_to_ulaw(pcm), code, "encode {pcm}");
        }
        let decodes: &[(u8, i16)] = &[
            (0xFF, 0),
            (0x7F, 0),
            (0x80, 32124),
            (0x00, -32124),
            (0xCE, 988),
            (0x4E, -988),
        ];
        for &(code, pcm) in decodes {
            assert_eq!(ulaw_to_linear(code), pcm, "decode {code:#x}");
        }
    }

    #[test]
    fn alaw_known_values() {
        let cases: &[(i16, u8)] = &[
            (0, 0xD5),
            (-1, 0x55),
            (32767, 0xAA),
            (-32768, 0x2A),
            (1000, 0xFA),
            (-1000, 0x7A),
        ];
        for &(pcm, code) in cases {
            assert_eq!(linear_to_alaw(pcm), code, "encode {pcm}");
        }
        let decodes: &[(u8, i16)] = &[
            (0xD5, 8),
            (0x55, -8),
            (0xAA, 32256),
            (0x2A, -32256),
            (0xFA, 1008),
            (0x7A, -1008),
        ];
        for &(code, pcm) in decodes {
            assert_eq!(alaw_to_linear(code), pcm, "decode {code:#x}");
        }
    }

    /// Every code word decodes to a value that encodes back to the same code word (except the
    /// µ-law negative zero 0x7F, which G.711 maps onto positive zero 0xFF).
    #[test]
    fn code_words_round_trip() {
        for code in 0..=255u8 {
            let u = linear_to_ulaw(ulaw_to_linear(code));
            if code == 0x7F {
                assert_eq!(u, 0xFF);
            } else {
                assert_eq!(u, code, "ulaw {code:#x}");
            }
            assert_eq!(linear_to_alaw(alaw_to_linear(code)), code, "alaw {code:#x}");
        }
    }

    /// Quantisation error is bounded relative to the magnitude (logarithmic companding).
    #[test]
    fn linear_round_trip_error_is_small() {
        for law in [G711::Pcmu, G711::Pcma] {
            for s in (i16::MIN..=i16::MAX).step_by(7) {
                let back = law.decode(&law.encode(&[s]))[0];
                let err = (i32::from(back) - i32::from(s)).abs();
                let allowed = (i32::from(s).abs() / 16).max(16) + 8;
                assert!(err <= allowed, "{law:?} {s} -> {back} (err {err})");
            }
        }
    }

    #[test]
    fn payload_types_and_silence() {
        assert_eq!(G711::from_payload_type(0), Some(G711::Pcmu));
        assert_eq!(G711::from_payload_type(8), Some(G711::Pcma));
        assert_eq!(G711::from_payload_type(101), None);
        assert_eq!(G711::Pcmu.decode(&[G711::Pcmu.silence()]), vec![0]);
        assert_eq!(G711::Pcma.decode(&[G711::Pcma.silence()]), vec![8]);
    }
}
