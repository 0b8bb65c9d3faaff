//! 48 kHz ↔ 8 kHz for the Opus path (Opus runs at 48 kHz, the rest of the server at 8 kHz).
//!
//! A windowed-sinc low-pass (cut-off 3.6 kHz, Hamming window) applied polyphase: the
//! decimator computes only every 6th output, the interpolator skips the zeros it stuffs.
//! Both keep their filter history across calls, so 20 ms frames join without clicks.

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
mod tests {
    use super::*;

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
