//! ITU-T G.711 μ-law (PCMU) and A-law (PCMA) for the agent line.
//!
//! Private and tiny on purpose: `crate::media` will own the shared G.711 codec; until it lands
//! on main, the line needs its own to turn RTP payloads into 8 kHz `i16` and back.

/// μ-law bias (G.711 §3.2, as in the reference `linear2ulaw`).
const ULAW_BIAS: i32 = 0x84;
/// Largest magnitude before the bias is added, so the sum still fits 15 bits.
const ULAW_CLIP: i32 = 32635;

/// Encodes one linear sample to μ-law.
pub(crate) fn ulaw_encode(sample: i16) -> u8 {
    let mut pcm = i32::from(sample);
    let sign = if pcm < 0 {
        pcm = -pcm;
        0x80
    } else {
        0x00
    };
    pcm = pcm.min(ULAW_CLIP) + ULAW_BIAS;
    // segment = position of the highest set bit above bit 7
    let exponent = (31 - (pcm as u32).leading_zeros()).saturating_sub(7).min(7) as i32;
    let mantissa = (pcm >> (exponent + 3)) & 0x0F;
    !(sign | (exponent << 4) as u8 | mantissa as u8)
}

/// Decodes one μ-law byte to a linear sample.
pub(crate) fn ulaw_decode(byte: u8) -> i16 {
    let u = !byte;
    let sign = u & 0x80;
    let exponent = i32::from((u >> 4) & 0x07);
    let mantissa = i32::from(u & 0x0F);
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
    if sign != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// Encodes one linear sample to A-law (G.711 §3.3; even bits inverted with 0x55).
pub(crate) fn alaw_encode(sample: i16) -> u8 {
    let pcm = i32::from(sample) >> 3; // A-law works on 13-bit samples
    let (sign, magnitude) = if pcm >= 0 {
        (0x80u8, pcm)
    } else {
        (0x00u8, -pcm - 1)
    };
    let magnitude = magnitude.min(0x0FFF);
    let byte = if magnitude < 32 {
        (magnitude >> 1) as u8
    } else {
        let exponent = 31 - (magnitude as u32).leading_zeros() - 4; // 1..=7
        let mantissa = (magnitude >> exponent) & 0x0F;
        ((exponent as u8) << 4) | mantissa as u8
    };
    (sign | byte) ^ 0x55
}

/// Decodes one A-law byte to a linear sample.
pub(crate) fn alaw_decode(byte: u8) -> i16 {
    let a = byte ^ 0x55;
    let exponent = i32::from((a >> 4) & 0x07);
    let mantissa = i32::from(a & 0x0F);
    let magnitude = if exponent == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (exponent - 1)
    };
    if a & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_matches_reference_points() {
        // Values from the G.711 tables: silence, full scale, a mid segment.
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(ulaw_encode(-1), 0x7F);
        assert_eq!(ulaw_encode(32767), 0x80);
        assert_eq!(ulaw_encode(-32768), 0x00);
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_decode(0x80), 32124);
        assert_eq!(ulaw_decode(0x00), -32124);
    }

    #[test]
    fn alaw_matches_reference_points() {
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(alaw_encode(-1), 0x55);
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0xAA), 32256);
        assert_eq!(alaw_decode(0x2A), -32256);
    }

    #[test]
    fn every_code_round_trips() {
        for byte in 0..=255u8 {
            // 0x7F and 0xFF both decode to zero; zero encodes as 0xFF.
            let expected = if byte == 0x7F { 0xFF } else { byte };
            assert_eq!(ulaw_encode(ulaw_decode(byte)), expected, "ulaw {byte:#04x}");
            assert_eq!(alaw_encode(alaw_decode(byte)), byte, "alaw {byte:#04x}");
        }
    }

    /// The line's codec and `media::g711` agree on every code word and every sample.
    #[test]
    fn bit_exact_with_media_g711() {
        use crate::media::g711 as shared;
        for byte in 0..=255u8 {
            assert_eq!(ulaw_decode(byte), shared::ulaw_to_linear(byte), "ulaw {byte:#04x}");
            assert_eq!(alaw_decode(byte), shared::alaw_to_linear(byte), "alaw {byte:#04x}");
        }
        for s in i16::MIN..=i16::MAX {
            assert_eq!(ulaw_encode(s), shared::linear_to_ulaw(s), "ulaw {s}");
            assert_eq!(alaw_encode(s), shared::linear_to_alaw(s), "alaw {s}");
        }
    }

    #[test]
    fn quantisation_error_stays_within_the_segment_step() {
        for sample in (-32768i32..=32767).step_by(7) {
            let s = sample as i16;
            let u = i32::from(ulaw_decode(ulaw_encode(s)));
            let a = i32::from(alaw_decode(alaw_encode(s)));
            let step = (sample.abs() / 16).max(16);
            assert!((u - sample).abs() <= step.max(1100), "ulaw {sample} -> {u}");
            assert!((a - sample).abs() <= step.max(1100), "alaw {sample} -> {a}");
        }
    }
}
