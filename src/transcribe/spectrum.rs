//! What a frame of phone audio sounds like, from its spectrum: the features the voice-activity
//! step uses to tell speech from the other loud things on a call line.
//!
//! Energy alone calls every loud sound speech. On a follow-up call the loud non-speech is known:
//! call-progress tones and DTMF (one or two pure sines), ring-back (two sines), hold music
//! (notes held steady for hundreds of milliseconds), and line noise or crackle (a flat
//! spectrum). Speech differs from each: its energy spreads over many harmonics and formants, its
//! spectrum changes from one 20 ms frame to the next, and voiced speech is far from flat.
//! Measured on espeak-ng speech through the phone band and on sox-made tones, DTMF, music and
//! noise (the thresholds in [`vad`](super::vad) come from those figures).
//!
//! A small radix-2 FFT is enough here (512 points, 50 frames a second); no crate for it.

use std::f32::consts::PI;

use super::audio::SAMPLE_RATE;

/// FFT length: 32 ms at 16 kHz, 31.25 Hz per bin (two DTMF tones are at least 3 bins apart).
pub(crate) const FFT_LEN: usize = 512;

/// The telephone band (ITU-T G.712); what lies outside it on a call is filter residue.
const BAND_HZ: (f32, f32) = (300.0, 3400.0);

/// Bins on either side of a peak counted as that peak (a Hann window spreads a sine over ±2).
const PEAK_HALF_WIDTH: usize = 2;

/// Features of one frame, all computed within the telephone band.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameFeatures {
    /// Share of the band's energy in its two strongest peaks (±2 bins): near 1 for a tone, DTMF
    /// or ring-back, 0.4–0.7 for voiced speech.
    pub peak_share: f32,
    /// Spectral flatness (geometric over arithmetic mean of the power): near 0.5 for white or
    /// pink noise, below 0.1 for voiced speech and tones.
    pub flatness: f32,
    /// Cosine similarity of this frame's magnitude spectrum with the previous frame's: above
    /// 0.95 for a held note or tone, lower for speech, whose spectrum moves.
    pub similarity: f32,
}

/// Computes the features of successive frames: frame `i` is the `FFT_LEN` samples from
/// `i * hop` (zero-padded at the end), compared with frame `i - 1`.
pub struct Analyzer {
    window: Vec<f32>,
    twiddles: Vec<(f32, f32)>,
    band: std::ops::Range<usize>,
    previous: Vec<f32>,
}

impl Default for Analyzer {
    fn default() -> Self {
        Self::new()
    }
}

impl Analyzer {
    /// An analyzer for 16 kHz audio.
    pub fn new() -> Analyzer {
        let window = (0..FFT_LEN)
            .map(|i| 0.5 - 0.5 * (2.0 * PI * i as f32 / FFT_LEN as f32).cos())
            .collect();
        let twiddles = (0..FFT_LEN / 2)
            .map(|k| {
                let a = -2.0 * PI * k as f32 / FFT_LEN as f32;
                (a.cos(), a.sin())
            })
            .collect();
        let bin_hz = SAMPLE_RATE as f32 / FFT_LEN as f32;
        let band = (BAND_HZ.0 / bin_hz).ceil() as usize..(BAND_HZ.1 / bin_hz).floor() as usize + 1;
        Analyzer {
            window,
            twiddles,
            band,
            previous: Vec::new(),
        }
    }

    /// The features of the frame starting at `samples[0]` (at most `FFT_LEN` are used).
    pub fn frame(&mut self, samples: &[f32]) -> FrameFeatures {
        let mut re = vec![0.0f32; FFT_LEN];
        let mut im = vec![0.0f32; FFT_LEN];
        for (i, (r, s)) in re.iter_mut().zip(samples).enumerate() {
            *r = s * self.window[i];
        }
        fft(&mut re, &mut im, &self.twiddles);
        let power: Vec<f32> = self
            .band
            .clone()
            .map(|k| re[k] * re[k] + im[k] * im[k] + 1e-12)
            .collect();
        let magnitude: Vec<f32> = power.iter().map(|p| p.sqrt()).collect();
        let similarity = cosine(&magnitude, &self.previous);
        self.previous = magnitude;
        FrameFeatures {
            peak_share: peak_share(&power),
            flatness: flatness(&power),
            similarity,
        }
    }
}

/// Share of the total in the two strongest peaks, each taken with its neighbours.
fn peak_share(power: &[f32]) -> f32 {
    let total: f32 = power.iter().sum();
    let mut rest = power.to_vec();
    let mut peaks = 0.0;
    for _ in 0..2 {
        let Some(k) = rest
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(k, _)| k)
        else {
            break;
        };
        let span = k.saturating_sub(PEAK_HALF_WIDTH)..(k + PEAK_HALF_WIDTH + 1).min(rest.len());
        for v in &mut rest[span] {
            peaks += *v;
            *v = 0.0;
        }
    }
    peaks / total.max(1e-12)
}

fn flatness(power: &[f32]) -> f32 {
    if power.is_empty() {
        return 0.0;
    }
    let n = power.len() as f32;
    let log_mean = power.iter().map(|p| p.ln()).sum::<f32>() / n;
    let mean = power.iter().sum::<f32>() / n;
    log_mean.exp() / mean.max(1e-12)
}

/// Cosine similarity; 0 when either side is missing (the first frame).
fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb).max(1e-12)
}

/// In-place iterative radix-2 FFT of length `FFT_LEN`.
fn fft(re: &mut [f32], im: &mut [f32], twiddles: &[(f32, f32)]) {
    let n = re.len();
    let mut j = 0;
    for i in 1..n {
        let mut bit = n >> 1;
        while j & bit != 0 {
            j ^= bit;
            bit >>= 1;
        }
        j |= bit;
        if i < j {
            re.swap(i, j);
            im.swap(i, j);
        }
    }
    let mut len = 2;
    while len <= n {
        let step = n / len;
        for start in (0..n).step_by(len) {
            for k in 0..len / 2 {
                let (wr, wi) = twiddles[k * step];
                let (a, b) = (start + k, start + k + len / 2);
                let tr = re[b] * wr - im[b] * wi;
                let ti = re[b] * wi + im[b] * wr;
                re[b] = re[a] - tr;
                im[b] = im[a] - ti;
                re[a] += tr;
                im[a] += ti;
            }
        }
        len <<= 1;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const SR: f32 = SAMPLE_RATE as f32;

    pub(crate) fn sines(freqs: &[f32], n: usize, offset: usize) -> Vec<f32> {
        (offset..offset + n)
            .map(|i| {
                freqs
                    .iter()
                    .map(|f| 0.3 * (2.0 * PI * f * i as f32 / SR).sin())
                    .sum()
            })
            .collect()
    }

    #[test]
    fn the_fft_finds_a_sine_in_its_bin() {
        let twiddles: Vec<(f32, f32)> = Analyzer::new().twiddles;
        let mut re = sines(&[1000.0], FFT_LEN, 0);
        let mut im = vec![0.0; FFT_LEN];
        fft(&mut re, &mut im, &twiddles);
        let peak = (0..FFT_LEN / 2)
            .max_by(|&a, &b| (re[a].hypot(im[a])).total_cmp(&re[b].hypot(im[b])))
            .unwrap();
        assert_eq!(peak, 32, "1000 Hz / 31.25 Hz per bin");
    }

    #[test]
    fn tones_and_dtmf_are_peaked_and_steady_noise_is_flat() {
        let mut a = Analyzer::new();
        a.frame(&sines(&[697.0, 1209.0], FFT_LEN, 0));
        let dtmf = a.frame(&sines(&[697.0, 1209.0], FFT_LEN, 320));
        assert!(dtmf.peak_share > 0.95, "{dtmf:?}");
        assert!(dtmf.similarity > 0.99, "{dtmf:?}");
        assert!(dtmf.flatness < 0.05, "{dtmf:?}");
        let mut x = 0x2545_f491u32;
        let noise: Vec<f32> = (0..FFT_LEN)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as f32 / u32::MAX as f32 - 0.5
            })
            .collect();
        let n = Analyzer::new().frame(&noise);
        assert!(n.flatness > 0.3, "{n:?}");
        assert!(n.peak_share < 0.3, "{n:?}");
        // A harmonic-rich vowel-like sound (120 Hz and its harmonics) spreads its energy.
        let harmonics: Vec<f32> = (3..28).map(|h| 120.0 * h as f32).collect();
        let v = Analyzer::new().frame(&sines(&harmonics, FFT_LEN, 0));
        assert!(v.peak_share < 0.5, "{v:?}");
    }
}
