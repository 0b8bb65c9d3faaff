//! Resampling: the one module for every change of sample rate in the server.
//!
//! - [`resample`]: whole buffers of `f32`, any pair of rates (recordings and prompt files to
//!   whisper's 16 kHz, prompts to the line's 8 kHz). Windowed sinc, Blackman window, 16 zero
//!   crossings each side, low-passed at the lower Nyquist frequency.
//! - [`Downsampler`] / [`Upsampler`]: 48 kHz ↔ 8 kHz `i16` streams for the browser leg's Opus
//!   path, 20 ms at a time. A windowed-sinc low-pass (cut-off 3.6 kHz, Hamming window) applied
//!   polyphase: the decimator computes only every 6th output, the interpolator skips the zeros
//!   it stuffs. Both keep their filter history across calls, so frames join without clicks.
//!
//! The two filters differ on purpose: the stream's is short (96 taps, 2 ms of delay on a live
//! call), the batch one long (quality for whisper, no delay to mind).

/// Windowed-sinc resampling (Blackman window, 16 zero crossings each side), low-passed at the
/// lower Nyquist frequency. Quality far beyond what whisper needs from phone audio, and no
/// extra dependency.
///
/// For rates with a small ratio (8 → 16 kHz has 2 phases, 44.1 → 16 kHz 160) the filter taps of
/// each phase are computed once, so an output sample costs about 33 multiply-adds; computing the
/// window and sinc per tap cost more than whisper's encoder on a long 8 kHz call.
pub fn resample(input: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to || input.is_empty() || from == 0 || to == 0 {
        return input.to_vec();
    }
    let k = Kernel::new(from, to);
    let n_out = (input.len() as f64 * k.ratio).round() as usize;
    let g = gcd(from, to);
    let (up, down) = ((to / g) as usize, (from / g) as usize);
    if up > MAX_PHASES {
        return (0..n_out)
            .map(|n| k.direct(input, n as f64 / k.ratio))
            .collect();
    }
    // Output n sits at input position n·down/up: whole part `base`, fraction `p / up`.
    let phases: Vec<(isize, Vec<f32>)> = (0..up)
        .map(|p| {
            let frac = p as f64 / up as f64;
            let lo = (frac - k.half_width).ceil() as isize;
            let hi = (frac + k.half_width).floor() as isize;
            let taps = (lo..=hi).map(|j| k.weight(j as f64 - frac) as f32);
            (lo, taps.collect())
        })
        .collect();
    (0..n_out)
        .map(|n| {
            let pos = n * down;
            let (lo, taps) = &phases[pos % up];
            let start = (pos / up) as isize + lo;
            // Taps before the first or past the last input sample are left out.
            let skip = (-start).max(0) as usize;
            let first = start.max(0) as usize;
            dot(
                input.get(first..).unwrap_or(&[]),
                taps.get(skip..).unwrap_or(&[]),
            )
        })
        .collect()
}

/// Rate ratios with more phases than this are resampled without a table.
const MAX_PHASES: usize = 4096;

/// The resampling filter for one pair of rates.
struct Kernel {
    ratio: f64,
    cutoff: f64,
    half_width: f64,
}

impl Kernel {
    fn new(from: u32, to: u32) -> Kernel {
        const ZEROS: f64 = 16.0;
        let ratio = f64::from(to) / f64::from(from);
        let cutoff = ratio.min(1.0); // in units of the input Nyquist frequency
        Kernel {
            ratio,
            cutoff,
            half_width: ZEROS / cutoff, // in input samples
        }
    }

    /// The filter tap for an input sample `d` input samples away from the output position.
    fn weight(&self, d: f64) -> f64 {
        use std::f64::consts::PI;
        let w = 0.42
            + 0.5 * (PI * d / self.half_width).cos()
            + 0.08 * (2.0 * PI * d / self.half_width).cos();
        w * self.cutoff * sinc(d * self.cutoff)
    }

    /// One output sample at input position `t`, computing every tap.
    fn direct(&self, input: &[f32], t: f64) -> f32 {
        let lo = (t - self.half_width).ceil().max(0.0) as usize;
        let hi = ((t + self.half_width).floor() as usize).min(input.len() - 1);
        (lo..=hi)
            .map(|k| f64::from(input[k]) * self.weight(k as f64 - t))
            .sum::<f64>() as f32
    }
}

/// Σ a·b over the shorter of the two, in eight lanes so that the compiler can vectorize it.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut lanes = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn sinc(x: f64) -> f64 {
    if x.abs() < 1e-9 {
        1.0
    } else {
        let px = std::f64::consts::PI * x;
        px.sin() / px
    }
}

const FACTOR: usize = 6;
const TAPS: usize = 96;

fn lowpass() -> [f32; TAPS] {
    let fc = 3600.0 / 48000.0;
    let mid = (TAPS - 1) as f64 / 2.0;
    let mut h = [0f32; TAPS];
    let mut sum = 0.0;
    for (n, tap) in h.iter_mut().enumerate() {
        let x = n as f64 - mid;
        let sinc = if x == 0.0 {
            2.0 * fc
        } else {
            (2.0 * std::f64::consts::PI * fc * x).sin() / (std::f64::consts::PI * x)
        };
        let window =
            0.54 - 0.46 * (2.0 * std::f64::consts::PI * n as f64 / (TAPS - 1) as f64).cos();
        let v = sinc * window;
        sum += v;
        *tap = v as f32;
    }
    for tap in h.iter_mut() {
        *tap /= sum as f32;
    }
    h
}

fn clamp(v: f32) -> i16 {
    v.round().clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16
}

/// 48 kHz → 8 kHz.
pub(crate) struct Downsampler {
    taps: [f32; TAPS],
    history: Vec<f32>,
}

impl Downsampler {
    pub(crate) fn new() -> Downsampler {
        Downsampler {
            taps: lowpass(),
            history: vec![0.0; TAPS - 1],
        }
    }

    /// Consumes 48 kHz samples (a multiple of 6; Opus frames always are) and appends the
    /// 8 kHz ones to `out`.
    pub(crate) fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        self.history.extend(input.iter().map(|&s| f32::from(s)));
        let usable = self.history.len() - (TAPS - 1);
        let outputs = usable / FACTOR;
        for i in 0..outputs {
            let window = &self.history[i * FACTOR..i * FACTOR + TAPS];
            let acc: f32 = window
                .iter()
                .zip(self.taps.iter().rev())
                .map(|(x, h)| x * h)
                .sum();
            out.push(clamp(acc));
        }
        self.history.drain(..outputs * FACTOR);
    }
}

/// 8 kHz → 48 kHz.
pub(crate) struct Upsampler {
    taps: [f32; TAPS],
    history: Vec<f32>,
}

impl Upsampler {
    pub(crate) fn new() -> Upsampler {
        Upsampler {
            taps: lowpass(),
            history: vec![0.0; TAPS / FACTOR],
        }
    }

    /// Returns six 48 kHz samples per 8 kHz input sample.
    pub(crate) fn process(&mut self, input: &[i16]) -> Vec<i16> {
        let mut out = Vec::with_capacity(input.len() * FACTOR);
        let keep = TAPS / FACTOR;
        for &s in input {
            self.history.push(f32::from(s));
            let newest = self.history.len() - 1;
            for phase in 0..FACTOR {
                // output sample at this phase sees input k samples back through tap phase+6k
                let mut acc = 0.0;
                for k in 0..keep {
                    let tap = phase + FACTOR * k;
                    if tap >= TAPS || k > newest {
                        break;
                    }
                    acc += self.history[newest - k] * self.taps[tap];
                }
                out.push(clamp(acc * FACTOR as f32));
            }
        }
        let excess = self.history.len().saturating_sub(keep);
        self.history.drain(..excess);
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A sine of amplitude 0.5 (also the transcription's decoding tests' signal).
    pub(crate) fn tone(freq: f32, rate: u32, secs: f32) -> Vec<f32> {
        (0..(rate as f32 * secs) as usize)
            .map(|i| 0.5 * (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin())
            .collect()
    }

    pub(crate) fn rms(x: &[f32]) -> f32 {
        (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt()
    }

    #[test]
    fn resample_keeps_tones_and_drops_aliases() {
        let up = resample(&tone(440.0, 8000, 1.0), 8000, 16000);
        assert_eq!(up.len(), 16000);
        let want = tone(440.0, 16000, 1.0);
        let err: f32 = up[200..15800]
            .iter()
            .zip(&want[200..15800])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(err < 0.01, "max error {err}");
        // 12 kHz cannot exist at 16 kHz: it must be filtered, not folded to 4 kHz.
        let down = resample(&tone(12_000.0, 48_000, 0.5), 48_000, 16_000);
        assert_eq!(down.len(), 8000);
        assert!(rms(&down[500..7500]) < 0.01, "{}", rms(&down));
    }

    #[test]
    fn phase_tables_give_the_direct_filter() {
        // 8 → 16 kHz, 44.1 → 16 kHz (160 phases) and 16 → 8 kHz through the tables, against the
        // filter computed tap by tap, including the edges where taps fall outside the input.
        for (from, to) in [(8000, 16_000), (44_100, 16_000), (16_000, 8000)] {
            let x: Vec<f32> = tone(300.0, from, 0.05)
                .iter()
                .zip(tone(2900.0, from, 0.05))
                .map(|(a, b)| a + 0.5 * b)
                .collect();
            let fast = resample(&x, from, to);
            let k = Kernel::new(from, to);
            assert_eq!(fast.len(), (x.len() as f64 * k.ratio).round() as usize);
            for (n, got) in fast.iter().enumerate() {
                let want = k.direct(&x, n as f64 / k.ratio);
                assert!(
                    (got - want).abs() < 1e-4,
                    "{from}→{to} sample {n}: {got} vs {want}"
                );
            }
        }
        assert_eq!(gcd(44_100, 16_000), 100);
    }

    /// The browser leg's 48 ↔ 8 kHz streams.
    mod stream {
        use super::super::*;

        fn sine(rate: f64, hz: f64, n: usize, amp: f64) -> Vec<i16> {
            (0..n)
                .map(|i| (amp * (2.0 * std::f64::consts::PI * hz * i as f64 / rate).sin()) as i16)
                .collect()
        }

        fn rms(x: &[i16]) -> f64 {
            (x.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
        }

        #[test]
        fn passband_keeps_its_level_both_ways() {
            let mut down = Downsampler::new();
            let mut low = Vec::new();
            for chunk in sine(48000.0, 1000.0, 48000, 10000.0).chunks(960) {
                down.process(chunk, &mut low);
            }
            assert_eq!(low.len(), 8000);
            assert!(
                (rms(&low[800..]) - 7071.0).abs() < 300.0,
                "{}",
                rms(&low[800..])
            );
            let mut up = Upsampler::new();
            let mut high = Vec::new();
            for chunk in low.chunks(160) {
                high.extend(up.process(chunk));
            }
            assert_eq!(high.len(), 48000);
            assert!(
                (rms(&high[4800..]) - 7071.0).abs() < 400.0,
                "{}",
                rms(&high[4800..])
            );
        }

        #[test]
        fn downsampling_rejects_what_8khz_cannot_hold() {
            let mut down = Downsampler::new();
            let mut low = Vec::new();
            down.process(&sine(48000.0, 9000.0, 48000, 10000.0), &mut low);
            assert!(
                rms(&low[800..]) < 300.0,
                "9 kHz leaked: {}",
                rms(&low[800..])
            );
        }
    }
}
