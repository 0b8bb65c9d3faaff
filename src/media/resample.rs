//! A small streaming resampler for speech between 8, 16 and 48 kHz.
//!
//! Telephony needs only integer ratios (8k SIP ↔ 16k whisper ↔ 48k WebRTC), so this is a plain
//! windowed-sinc FIR: upsampling stuffs zeros and filters (polyphase, so no multiplications by
//! zero), downsampling filters and keeps every M-th sample. The filter cuts at 0.45 of the lower
//! Nyquist, which keeps the 300–3400 Hz speech band and suppresses aliases by > 40 dB — good
//! enough for recordings and transcription, far simpler than a general rational resampler.

use super::MediaError;

/// Filter taps per polyphase branch (or per output sample when decimating).
const TAPS_PER_PHASE: usize = 16;

/// Direction and integer factor of a conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ratio {
    Same,
    Up(usize),
    Down(usize),
}

/// Streaming resampler: feed any number of samples, get the converted ones; filter state is
/// kept between calls so 20 ms frames join without clicks.
#[derive(Debug, Clone)]
pub struct Resampler {
    ratio: Ratio,
    taps: Vec<f32>,
    /// Most recent input samples, newest last (length = taps needed).
    history: Vec<f32>,
    /// Input samples seen modulo the decimation factor.
    phase: usize,
}

impl Resampler {
    /// Creates a resampler from `from` Hz to `to` Hz; only integer ratios are supported.
    pub fn new(from: u32, to: u32) -> Result<Self, MediaError> {
        let err = MediaError::UnsupportedRate { from, to };
        if from == 0 || to == 0 {
            return Err(err);
        }
        let ratio = if from == to {
            Ratio::Same
        } else if to % from == 0 {
            Ratio::Up((to / from) as usize)
        } else if from % to == 0 {
            Ratio::Down((from / to) as usize)
        } else {
            return Err(err);
        };
        let factor = match ratio {
            Ratio::Same => 1,
            Ratio::Up(l) | Ratio::Down(l) => l,
        };
        let len = TAPS_PER_PHASE * factor;
        let taps = design_lowpass(len, 0.45 / factor as f32);
        let history_len = match ratio {
            Ratio::Same => 0,
            Ratio::Up(_) => TAPS_PER_PHASE,
            Ratio::Down(_) => len,
        };
        Ok(Self {
            ratio,
            taps,
            history: vec![0.0; history_len],
            phase: 0,
        })
    }

    /// Converts `input`, appending to `out`.
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        match self.ratio {
            Ratio::Same => out.extend_from_slice(input),
            Ratio::Up(l) => {
                for &s in input {
                    self.push(f32::from(s));
                    // Output phase p uses taps p, p+L, p+2L… against the newest inputs.
                    for p in 0..l {
                        let mut acc = 0.0f32;
                        for (k, x) in self.history.iter().rev().enumerate() {
                            if let Some(h) = self.taps.get(p + k * l) {
                                acc += h * x;
                            }
                        }
                        out.push(to_i16(acc * l as f32));
                    }
                }
            }
            Ratio::Down(m) => {
                for &s in input {
                    self.push(f32::from(s));
                    self.phase += 1;
                    if self.phase == m {
                        self.phase = 0;
                        let acc: f32 = self
                            .taps
                            .iter()
                            .zip(self.history.iter().rev())
                            .map(|(h, x)| h * x)
                            .sum();
                        out.push(to_i16(acc));
                    }
                }
            }
        }
    }

    /// Convenience: converts a whole buffer (e.g. a prompt decoded once at start-up).
    pub fn convert(from: u32, to: u32, input: &[i16]) -> Result<Vec<i16>, MediaError> {
        let mut r = Self::new(from, to)?;
        let mut out = Vec::with_capacity(input.len() * to as usize / from as usize + 1);
        r.process(input, &mut out);
        Ok(out)
    }

    fn push(&mut self, x: f32) {
        if !self.history.is_empty() {
            self.history.remove(0);
            self.history.push(x);
        }
    }
}

fn to_i16(x: f32) -> i16 {
    x.round().clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16
}

/// Hann-windowed sinc low-pass with cutoff `fc` (fraction of the high sample rate), unity DC gain.
fn design_lowpass(len: usize, fc: f32) -> Vec<f32> {
    let mid = (len as f32 - 1.0) / 2.0;
    let mut taps: Vec<f32> = (0..len)
        .map(|n| {
            let t = n as f32 - mid;
            let sinc = if t == 0.0 {
                2.0 * fc
            } else {
                (2.0 * std::f32::consts::PI * fc * t).sin() / (std::f32::consts::PI * t)
            };
            let w = 0.5 - 0.5 * (2.0 * std::f32::consts::PI * n as f32 / (len as f32 - 1.0)).cos();
            sinc * w
        })
        .collect();
    let sum: f32 = taps.iter().sum();
    if sum != 0.0 {
        for t in &mut taps {
            *t /= sum;
        }
    }
    taps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f32, rate: u32, secs: f32, amp: f32) -> Vec<i16> {
        let n = (rate as f32 * secs) as usize;
        (0..n)
            .map(|i| {
                (amp * (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin()) as i16
            })
            .collect()
    }

    fn rms(x: &[i16]) -> f32 {
        let s: f64 = x.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
        (s / x.len().max(1) as f64).sqrt() as f32
    }

    /// Zero crossings per second ≈ 2 × frequency.
    fn freq_estimate(x: &[i16], rate: u32) -> f32 {
        let crossings = x.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
        crossings as f32 * rate as f32 / (2.0 * x.len() as f32)
    }

    #[test]
    fn rejects_non_integer_ratios() {
        assert!(Resampler::new(8000, 11025).is_err());
        assert!(Resampler::new(0, 8000).is_err());
        assert!(Resampler::new(48000, 16000).is_ok());
    }

    #[test]
    fn lengths_scale_with_ratio() {
        let input = vec![0i16; 160];
        for (from, to, want) in [
            (8000, 16000, 320),
            (8000, 48000, 960),
            (16000, 8000, 80),
            (48000, 8000, 26),
            (8000, 8000, 160),
        ] {
            let out = Resampler::convert(from, to, &input).expect("supported");
            assert_eq!(out.len(), want, "{from}->{to}");
        }
    }

    /// A 1 kHz speech-band tone keeps its frequency and level through every conversion.
    #[test]
    fn preserves_in_band_tone() {
        for (from, to) in [(8000, 16000), (8000, 48000), (48000, 8000), (16000, 8000)] {
            let input = tone(1000.0, from, 0.5, 10000.0);
            let out = Resampler::convert(from, to, &input).expect("supported");
            let settled = &out[out.len() / 4..];
            let f = freq_estimate(settled, to);
            assert!((f - 1000.0).abs() < 30.0, "{from}->{to}: freq {f}");
            let level = rms(settled) / rms(&input);
            assert!((0.9..1.1).contains(&level), "{from}->{to}: level {level}");
        }
    }

    /// Content above the new Nyquist is filtered out instead of aliasing into speech.
    #[test]
    fn suppresses_aliases_when_downsampling() {
        let input = tone(6000.0, 48000, 0.5, 10000.0);
        let out = Resampler::convert(48000, 8000, &input).expect("supported");
        let settled = &out[out.len() / 4..];
        assert!(
            rms(settled) < 0.05 * rms(&input),
            "alias rms {}",
            rms(settled)
        );
    }

    /// Streaming in 20 ms frames gives exactly the same samples as one big call.
    #[test]
    fn streaming_equals_batch() {
        let input = tone(440.0, 8000, 0.2, 8000.0);
        let batch = Resampler::convert(8000, 48000, &input).expect("supported");
        let mut r = Resampler::new(8000, 48000).expect("supported");
        let mut streamed = Vec::new();
        for frame in input.chunks(160) {
            r.process(frame, &mut streamed);
        }
        assert_eq!(batch, streamed);
    }
}
