//! Energy-based voice-activity detection: find where a channel has speech, so that silence is
//! never sent to whisper.
//!
//! Whisper always runs a padded 30 s window and invents text on silence ("Thank you for
//! watching."), and in a follow-up call each channel is mostly silent while the other side
//! talks. A frame is voiced when its energy stands clearly above the channel's own noise floor
//! (line hiss differs per call) and above an absolute floor; short gaps are bridged and regions
//! padded so words are not clipped.

use std::ops::Range;

use super::audio::SAMPLE_RATE;

/// Tuning of the detector. The defaults suit 8 kHz phone recordings upsampled to 16 kHz.
#[derive(Debug, Clone, PartialEq)]
pub struct VadConfig {
    /// Analysis frame length in milliseconds.
    pub frame_ms: u32,
    /// A frame is voiced if it is this many dB above the noise floor…
    pub margin_db: f32,
    /// …and above this absolute level (dBFS), so a silent channel's dither never counts.
    pub min_level_dbfs: f32,
    /// Gaps of unvoiced frames up to this long stay inside one region.
    pub hangover_ms: u32,
    /// Regions with less voiced time than this are dropped (clicks, breaths).
    pub min_speech_ms: u32,
    /// Added before and after each region so that soft onsets and endings are kept.
    pub pad_ms: u32,
}

impl Default for VadConfig {
    fn default() -> Self {
        VadConfig {
            frame_ms: 20,
            margin_db: 12.0,
            min_level_dbfs: -45.0,
            hangover_ms: 400,
            min_speech_ms: 200,
            pad_ms: 200,
        }
    }
}

/// Speech regions of `samples` (16 kHz), as sample ranges in increasing order, not overlapping.
pub fn speech_regions(samples: &[f32], cfg: &VadConfig) -> Vec<Range<usize>> {
    let frame = (SAMPLE_RATE * cfg.frame_ms / 1000).max(1) as usize;
    let levels: Vec<f32> = samples.chunks(frame).map(level_dbfs).collect();
    if levels.is_empty() {
        return Vec::new();
    }
    let threshold = (noise_floor(&levels) + cfg.margin_db).max(cfg.min_level_dbfs);
    let hangover = (cfg.hangover_ms / cfg.frame_ms.max(1)) as usize;
    let min_voiced = (cfg.min_speech_ms / cfg.frame_ms.max(1)).max(1) as usize;

    // Frame-level regions: (first frame, last voiced frame + 1, voiced frame count).
    let mut regions: Vec<(usize, usize, usize)> = Vec::new();
    for (i, &l) in levels.iter().enumerate() {
        if l < threshold {
            continue;
        }
        match regions.last_mut() {
            Some(r) if i - r.1 <= hangover => {
                r.1 = i + 1;
                r.2 += 1;
            }
            _ => regions.push((i, i + 1, 1)),
        }
    }
    let pad = (SAMPLE_RATE * cfg.pad_ms / 1000) as usize;
    let mut out: Vec<Range<usize>> = Vec::new();
    for (start, end, voiced) in regions {
        if voiced < min_voiced {
            continue;
        }
        let s = (start * frame).saturating_sub(pad);
        let e = (end * frame + pad).min(samples.len());
        match out.last_mut() {
            Some(prev) if s <= prev.end => prev.end = e,
            _ => out.push(s..e),
        }
    }
    out
}

/// RMS level of a frame in dBFS (-120 for digital silence).
fn level_dbfs(frame: &[f32]) -> f32 {
    let ms = frame.iter().map(|v| v * v).sum::<f32>() / frame.len().max(1) as f32;
    (10.0 * ms.max(1e-12).log10()).max(-120.0)
}

/// The channel's noise floor: the 10th percentile of frame levels. A call channel is silent most
/// of the time, so this is the line hiss, not the speech.
fn noise_floor(levels: &[f32]) -> f32 {
    let mut sorted = levels.to_vec();
    sorted.sort_by(f32::total_cmp);
    sorted[sorted.len() / 10]
}

#[cfg(test)]
mod tests {
    use super::*;

    const SR: usize = SAMPLE_RATE as usize;

    /// Deterministic pseudo-random hiss at amplitude `amp`.
    fn hiss(n: usize, amp: f32) -> Vec<f32> {
        let mut x = 0x1234_5678u32;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x as f32 / u32::MAX as f32 * 2.0 - 1.0) * amp
            })
            .collect()
    }

    /// A "syllable train": 200 Hz tone bursts of 150 ms with 50 ms pauses, like speech rhythm.
    fn speech_like(secs: f32) -> Vec<f32> {
        (0..(secs * SR as f32) as usize)
            .map(|i| {
                let t = i as f32 / SR as f32;
                let on = (t * 1000.0) as u32 % 200 < 150;
                if on {
                    0.3 * (2.0 * std::f32::consts::PI * 200.0 * t).sin()
                } else {
                    0.0
                }
            })
            .collect()
    }

    fn place(base: &mut [f32], at_s: f32, what: &[f32]) {
        let at = (at_s * SR as f32) as usize;
        for (b, w) in base[at..].iter_mut().zip(what) {
            *b += w;
        }
    }

    #[test]
    fn hiss_and_digital_silence_have_no_speech() {
        let cfg = VadConfig::default();
        assert!(speech_regions(&vec![0.0; 10 * SR], &cfg).is_empty());
        assert!(speech_regions(&hiss(10 * SR, 0.002), &cfg).is_empty());
        assert!(speech_regions(&hiss(10 * SR, 0.02), &cfg).is_empty());
        assert!(speech_regions(&[], &cfg).is_empty());
    }

    #[test]
    fn finds_two_utterances_with_padding_and_bridges_syllable_gaps() {
        let mut x = hiss(12 * SR, 0.002);
        place(&mut x, 1.0, &speech_like(2.0));
        place(&mut x, 7.0, &speech_like(1.5));
        let r = speech_regions(&x, &VadConfig::default());
        assert_eq!(r.len(), 2, "{r:?}");
        let secs = |s: usize| s as f32 / SR as f32;
        assert!((secs(r[0].start) - 0.8).abs() < 0.05, "{r:?}");
        assert!((secs(r[0].end) - 3.2).abs() < 0.1, "{r:?}");
        assert!((secs(r[1].start) - 6.8).abs() < 0.05, "{r:?}");
        assert!((secs(r[1].end) - 8.7).abs() < 0.1, "{r:?}");
    }

    #[test]
    fn a_click_is_not_speech() {
        let mut x = hiss(5 * SR, 0.002);
        place(&mut x, 2.0, &speech_like(0.06));
        assert!(speech_regions(&x, &VadConfig::default()).is_empty());
    }
}
