//! ggml's block quantization of weight matrices, as whisper.cpp's `quantize` tool writes it
//! (ports of `quantize_row_{q8_0,q5_0,q4_0}_ref` in ggml-quants.c, byte for byte).
//!
//! A row is cut into blocks of 32 values; each block stores an f16 scale `d` and small integers
//! `q` with `value ≈ d · q`:
//! - `q8_0`: 34 bytes, `d = max|x| / 127`, `q = round(x / d)` as i8;
//! - `q5_0`: 22 bytes, `d = m / -16` where `m` is the value of largest magnitude, `q = x / d + 16`
//!   in 0..=31: low nibbles packed two per byte (value `j` low, `j + 16` high), the fifth bits
//!   in a little-endian u32 (bit `j` for value `j`);
//! - `q4_0`: 18 bytes, `d = m / -8`, `q = x / d + 8` in 0..=15, nibbles packed like q5_0.
//!
//! whisper.cpp only quantizes 2-D matrices (projections, MLP, token embedding); convolution
//! weights stay f16 and vectors f32.

use half::f16;

/// Values per quantization block (QK8_0 = QK5_0 = QK4_0).
pub(crate) const BLOCK: usize = 32;

/// A block quantization ggml can multiply with directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Quantization {
    /// 8-bit, per-block scale (closest to faster-whisper's int8).
    Q8_0,
    /// 5-bit.
    Q5_0,
    /// 4-bit.
    Q4_0,
}

impl Quantization {
    /// ggml's `ggml_type` number.
    pub(crate) fn ggml_type(self) -> i32 {
        match self {
            Quantization::Q8_0 => 8,
            Quantization::Q5_0 => 6,
            Quantization::Q4_0 => 2,
        }
    }

    /// ggml's `ggml_ftype` number ("mostly" this type), as the model header stores it.
    pub(crate) fn ftype(self) -> i32 {
        match self {
            Quantization::Q8_0 => 7,
            Quantization::Q5_0 => 8,
            Quantization::Q4_0 => 2,
        }
    }

    /// Bytes per block of 32 values.
    pub(crate) fn block_bytes(self) -> usize {
        match self {
            Quantization::Q8_0 => 2 + BLOCK,
            Quantization::Q5_0 => 2 + 4 + BLOCK / 2,
            Quantization::Q4_0 => 2 + BLOCK / 2,
        }
    }

    /// The suffix whisper.cpp's model files use (`ggml-base-q8_0.bin`).
    pub fn suffix(self) -> &'static str {
        match self {
            Quantization::Q8_0 => "q8_0",
            Quantization::Q5_0 => "q5_0",
            Quantization::Q4_0 => "q4_0",
        }
    }

    /// Appends the quantized `values` (a whole number of blocks) to `out`.
    pub(crate) fn quantize(self, values: &[f32], out: &mut Vec<u8>) {
        debug_assert_eq!(values.len() % BLOCK, 0);
        out.reserve(values.len() / BLOCK * self.block_bytes());
        for block in values.chunks_exact(BLOCK) {
            match self {
                Quantization::Q8_0 => q8_0(block, out),
                Quantization::Q5_0 => q5_0(block, out),
                Quantization::Q4_0 => q4_0(block, out),
            }
        }
    }
}

impl std::str::FromStr for Quantization {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "q8_0" => Ok(Quantization::Q8_0),
            "q5_0" => Ok(Quantization::Q5_0),
            "q4_0" => Ok(Quantization::Q4_0),
            other => Err(format!(
                "unknown quantization {other:?} (known: q8_0, q5_0, q4_0)"
            )),
        }
    }
}

fn q8_0(x: &[f32], out: &mut Vec<u8>) {
    let amax = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
    // `as i8` saturates, like the C cast of an in-range roundf result.
    out.extend(x.iter().map(|v| (v * id).round() as i8 as u8));
}

/// The value of largest magnitude (its sign kept), first one on ties, as ggml picks it.
fn signed_max(x: &[f32]) -> f32 {
    let (mut amax, mut max) = (0.0f32, 0.0f32);
    for &v in x {
        if amax < v.abs() {
            amax = v.abs();
            max = v;
        }
    }
    max
}

/// `MIN(top, (int8_t)(x + offset))`: C truncates toward zero.
fn level(x: f32, offset: f32, top: u8) -> u8 {
    ((x + offset).trunc() as i8).clamp(0, top as i8) as u8
}

fn q5_0(x: &[f32], out: &mut Vec<u8>) {
    let d = signed_max(x) / -16.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
    let half = BLOCK / 2;
    let mut qh = 0u32;
    let mut qs = [0u8; BLOCK / 2];
    for j in 0..half {
        let x0 = level(x[j] * id, 16.5, 31);
        let x1 = level(x[j + half] * id, 16.5, 31);
        qs[j] = (x0 & 0x0f) | ((x1 & 0x0f) << 4);
        qh |= u32::from((x0 & 0x10) >> 4) << j;
        qh |= u32::from((x1 & 0x10) >> 4) << (j + half);
    }
    out.extend_from_slice(&qh.to_le_bytes());
    out.extend_from_slice(&qs);
}

fn q4_0(x: &[f32], out: &mut Vec<u8>) {
    let d = signed_max(x) / -8.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
    let half = BLOCK / 2;
    out.extend(
        (0..half).map(|j| level(x[j] * id, 8.5, 15) | (level(x[j + half] * id, 8.5, 15) << 4)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes blocks back to values (ggml's `dequantize_row_*`), for the round-trip tests.
    fn dequantize(q: Quantization, bytes: &[u8]) -> Vec<f32> {
        let mut out = Vec::new();
        for b in bytes.chunks_exact(q.block_bytes()) {
            let d = f16::from_le_bytes([b[0], b[1]]).to_f32();
            match q {
                Quantization::Q8_0 => out.extend(b[2..].iter().map(|&v| d * f32::from(v as i8))),
                Quantization::Q5_0 => {
                    let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
                    let qs = &b[6..];
                    let mut vals = [0.0f32; BLOCK];
                    for j in 0..BLOCK / 2 {
                        let hi0 = ((qh >> j) & 1) << 4;
                        let hi1 = ((qh >> (j + 16)) & 1) << 4;
                        vals[j] = d * ((u32::from(qs[j] & 0x0f) | hi0) as f32 - 16.0);
                        vals[j + 16] = d * ((u32::from(qs[j] >> 4) | hi1) as f32 - 16.0);
                    }
                    out.extend(vals);
                }
                Quantization::Q4_0 => {
                    let mut vals = [0.0f32; BLOCK];
                    for j in 0..BLOCK / 2 {
                        vals[j] = d * (f32::from(b[2 + j] & 0x0f) - 8.0);
                        vals[j + 16] = d * (f32::from(b[2 + j] >> 4) - 8.0);
                    }
                    out.extend(vals);
                }
            }
        }
        out
    }

    fn ramp() -> Vec<f32> {
        // Two blocks: a signed ramp, then a block whose extreme is negative.
        let mut v: Vec<f32> = (0..BLOCK).map(|i| (i as f32 - 15.5) / 10.0).collect();
        v.extend((0..BLOCK).map(|i| ((i * 7 % 13) as f32 - 9.0) * 0.03));
        v
    }

    #[test]
    fn q8_0_block_layout_matches_ggml() {
        let x: Vec<f32> = (0..BLOCK).map(|i| i as f32 - 16.0).collect();
        let mut out = Vec::new();
        Quantization::Q8_0.quantize(&x, &mut out);
        assert_eq!(out.len(), 34);
        let d = f16::from_le_bytes([out[0], out[1]]).to_f32();
        assert_eq!(d, f16::from_f32(16.0 / 127.0).to_f32());
        // -16 is the extreme: -127; 0 stays 0; 15 → round(15 · 127 / 16) = 119.
        assert_eq!(out[2] as i8, -127);
        assert_eq!(out[2 + 16] as i8, 0);
        assert_eq!(out[2 + 31] as i8, 119);
    }

    #[test]
    fn q4_0_and_q5_0_pack_low_and_high_halves() {
        // Extreme +8 → d = -1: q = 8 - x, so x = 8 gives level 0 and x = -7 gives 15.
        let mut x = vec![0.0f32; BLOCK];
        x[0] = 8.0;
        x[16] = -7.0;
        let mut out = Vec::new();
        Quantization::Q4_0.quantize(&x, &mut out);
        assert_eq!(out.len(), 18);
        assert_eq!(f16::from_le_bytes([out[0], out[1]]).to_f32(), -1.0);
        assert_eq!(
            out[2], 0xf0,
            "value 0 in the low nibble, value 16 in the high one"
        );
        assert_eq!(out[3], 0x88, "zeros are level 8");
        // q5_0: d = -0.5, x = 8 → 0; x = -7 → 16 + 14 = 30 (fifth bit set at bit 16).
        let mut out = Vec::new();
        Quantization::Q5_0.quantize(&x, &mut out);
        assert_eq!(out.len(), 22);
        assert_eq!(f16::from_le_bytes([out[0], out[1]]).to_f32(), -0.5);
        let qh = u32::from_le_bytes([out[2], out[3], out[4], out[5]]);
        assert_eq!(qh & 1, 0);
        assert_eq!((qh >> 16) & 1, 1);
        assert_eq!(out[6], 0xe0);
    }

    #[test]
    fn round_trips_stay_within_one_step() {
        let x = ramp();
        for q in [Quantization::Q8_0, Quantization::Q5_0, Quantization::Q4_0] {
            let mut out = Vec::new();
            q.quantize(&x, &mut out);
            assert_eq!(out.len(), 2 * q.block_bytes());
            let back = dequantize(q, &out);
            for (block, got) in x.chunks(BLOCK).zip(back.chunks(BLOCK)) {
                let amax = block.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                // q8_0 rounds to the nearest of ±127 steps: half a step off at most. q5_0 and
                // q4_0 map the extreme to -16 (-8) steps and clip the other sign at +15 (+7),
                // so a value as large as the extreme but of the other sign is a step off
                // (ggml's reference does the same). Plus the f16 rounding of the scale.
                let (levels, steps) = match q {
                    Quantization::Q8_0 => (127.0, 0.5),
                    Quantization::Q5_0 => (16.0, 1.0),
                    Quantization::Q4_0 => (8.0, 1.0),
                };
                let tol = amax / levels * steps + amax * 2e-3;
                for (a, b) in block.iter().zip(got) {
                    assert!((a - b).abs() <= tol, "{q:?}: {a} → {b} (tol {tol})");
                }
            }
        }
        let mut zeros = Vec::new();
        Quantization::Q8_0.quantize(&[0.0; BLOCK], &mut zeros);
        assert!(zeros.iter().all(|&b| b == 0));
        assert_eq!("Q8_0".parse::<Quantization>(), Ok(Quantization::Q8_0));
        assert!("q3".parse::<Quantization>().is_err());
    }
}
