//! Loudness-envelope correlation: does a recording contain a given piece of speech?
//!
//! Used by tests (and usable for monitoring) instead of asserting that a file merely exists.
//! Both signals are reduced to 20 ms RMS envelopes and the Pearson correlation is taken at the
//! best lag within ±2 s — the same method as `peers/tools/envcorr.py`, where the same speech
//! scored 0.73–1.0 and different speech 0.17–0.26 across G.711 and resampling.

/// RMS of consecutive `frame_ms` windows of `samples` at `rate` Hz (incomplete tail dropped).
pub fn rms_envelope(samples: &[i16], rate: u32, frame_ms: u32) -> Vec<f64> {
    let step = (rate as usize * frame_ms as usize) / 1000;
    if step == 0 {
        return Vec::new();
    }
    samples
        .chunks_exact(step)
        .map(|w| {
            let sum: f64 = w.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
            (sum / step as f64).sqrt()
        })
        .collect()
}

/// Pearson correlation of the common prefix of two series; 0 when too short or flat.
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    if n < 10 {
        return 0.0;
    }
    let (a, b) = (&a[..n], &b[..n]);
    let ma = a.iter().sum::<f64>() / n as f64;
    let mb = b.iter().sum::<f64>() / n as f64;
    let mut num = 0.0;
    let mut da = 0.0;
    let mut db = 0.0;
    for (x, y) in a.iter().zip(b) {
        num += (x - ma) * (y - mb);
        da += (x - ma) * (x - ma);
        db += (y - mb) * (y - mb);
    }
    let den = (da * db).sqrt();
    if den == 0.0 {
        0.0
    } else {
        num / den
    }
}

/// Result of [`best_lag_correlation`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnvelopeMatch {
    /// Best correlation found (−1..1; > 0.6 means "same speech").
    pub corr: f64,
    /// Lag in frames of `rec` relative to `reference` (positive: speech starts later in `rec`).
    pub lag_frames: i64,
}

/// Correlates two envelopes at every lag within ±`max_lag_frames` and returns the best.
pub fn best_lag_correlation(reference: &[f64], rec: &[f64], max_lag_frames: i64) -> EnvelopeMatch {
    let mut best = EnvelopeMatch {
        corr: f64::NEG_INFINITY,
        lag_frames: 0,
    };
    for lag in -max_lag_frames..=max_lag_frames {
        let ra = reference.get((-lag).max(0) as usize..).unwrap_or(&[]);
        let rb = rec.get(lag.max(0) as usize..).unwrap_or(&[]);
        let c = pearson(ra, rb);
        if c > best.corr {
            best = EnvelopeMatch {
                corr: c,
                lag_frames: lag,
            };
        }
    }
    best
}

/// One-call check: 20 ms envelopes at their own rates, best lag within ±2 s.
pub fn speech_match(reference: &[i16], ref_rate: u32, rec: &[i16], rec_rate: u32) -> EnvelopeMatch {
    let a = rms_envelope(reference, ref_rate, 20);
    let b = rms_envelope(rec, rec_rate, 20);
    best_lag_correlation(&a, &b, 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic "speech-like" signal: noise bursts with a syllable-rate envelope.
    fn bursts(seed: u32, secs: usize) -> Vec<i16> {
        let mut x = seed;
        let mut out = Vec::with_capacity(8000 * secs);
        for i in 0..8000 * secs {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let noise = ((x >> 16) as i16) as f32 / 32768.0;
            let syll = ((i / 1600) as u32)
                .wrapping_mul(seed | 1)
                .wrapping_mul(2_654_435_761)
                >> 29;
            let amp = (syll as f32) * 2000.0;
            out.push((noise * amp) as i16);
        }
        out
    }

    #[test]
    fn same_signal_delayed_matches_with_lag() {
        let a = bursts(7, 6);
        let mut b = vec![0i16; 8000 / 2]; // 500 ms of silence first
        b.extend_from_slice(&a);
        let m = speech_match(&a, 8000, &b, 8000);
        assert!(m.corr > 0.95, "corr {}", m.corr);
        assert_eq!(m.lag_frames, 25);
    }

    #[test]
    fn different_signals_do_not_match() {
        let a = bursts(7, 6);
        let b = bursts(12345, 6);
        let m = speech_match(&a, 8000, &b, 8000);
        assert!(m.corr < 0.6, "corr {}", m.corr);
    }

    #[test]
    fn flat_or_short_inputs_give_zero() {
        assert_eq!(pearson(&[1.0; 20], &[2.0; 20]), 0.0);
        assert_eq!(pearson(&[1.0, 2.0], &[1.0, 2.0]), 0.0);
        assert!(rms_envelope(&[1, 2, 3], 8000, 20).is_empty());
    }
}
