//! Slaney-style mel filterbank, as `librosa.filters.mel(sr=16000, n_fft=400, n_mels=N)`.
//!
//! whisper.cpp reads the filterbank from the model file instead of computing it, and CTranslate2
//! models do not carry it, so the importer computes the same matrix openai-whisper ships in
//! `mel_filters.npz` (which was made with exactly this librosa call).

/// Sample rate whisper works at.
const SAMPLE_RATE: f64 = 16_000.0;
/// FFT size of whisper's 25 ms window.
pub(crate) const N_FFT: usize = 400;
/// Frequency bins of a real FFT of `N_FFT` points.
pub(crate) const N_FREQS: usize = N_FFT / 2 + 1;

// Slaney's auditory toolbox scale: linear below 1 kHz, logarithmic above.
const F_SP: f64 = 200.0 / 3.0;
const MIN_LOG_HZ: f64 = 1000.0;
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;

fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

fn hz_to_mel(hz: f64) -> f64 {
    if hz >= MIN_LOG_HZ {
        MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / log_step()
    } else {
        hz / F_SP
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    if mel >= MIN_LOG_MEL {
        MIN_LOG_HZ * (log_step() * (mel - MIN_LOG_MEL)).exp()
    } else {
        F_SP * mel
    }
}

/// The `n_mels × 201` filterbank, row-major, area-normalised ("slaney" norm).
pub(crate) fn mel_filters(n_mels: usize) -> Vec<f32> {
    let fft_freqs: Vec<f64> = (0..N_FREQS)
        .map(|k| k as f64 * SAMPLE_RATE / N_FFT as f64)
        .collect();
    let (lo, hi) = (hz_to_mel(0.0), hz_to_mel(SAMPLE_RATE / 2.0));
    let n_pts = n_mels + 2;
    let mel_f: Vec<f64> = (0..n_pts)
        .map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (n_pts - 1) as f64))
        .collect();
    let mut out = Vec::with_capacity(n_mels * N_FREQS);
    for i in 0..n_mels {
        let (f0, f1, f2) = (mel_f[i], mel_f[i + 1], mel_f[i + 2]);
        let enorm = 2.0 / (f2 - f0);
        for &f in &fft_freqs {
            let lower = (f - f0) / (f1 - f0);
            let upper = (f2 - f) / (f2 - f1);
            out.push((lower.min(upper).max(0.0) * enorm) as f32);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_is_continuous_at_1khz() {
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
        assert!((mel_to_hz(hz_to_mel(3456.0)) - 3456.0).abs() < 1e-9);
        assert!((mel_to_hz(hz_to_mel(123.0)) - 123.0).abs() < 1e-9);
    }

    #[test]
    fn filterbank_matches_openai_values() {
        // Reference values from openai-whisper's mel_filters.npz (mel_80), which librosa made.
        let m = mel_filters(80);
        assert_eq!(m.len(), 80 * N_FREQS);
        // Row 0 is a triangle peaking at bin 1 (40 Hz) with Slaney height 2/(f2-f0).
        assert!((m[1] - 0.024_862_5).abs() < 1e-6, "{}", m[1]);
        assert_eq!(m[0], 0.0);
        // Each row is non-negative and non-empty; the last row reaches the top bins.
        for r in 0..80 {
            let row = &m[r * N_FREQS..(r + 1) * N_FREQS];
            assert!(row.iter().all(|&v| v >= 0.0));
            assert!(row.iter().any(|&v| v > 0.0), "row {r} is empty");
        }
        let m128 = mel_filters(128);
        assert_eq!(m128.len(), 128 * N_FREQS);
    }
}
