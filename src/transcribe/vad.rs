//! Voice-activity detection on the phone band: find where a channel has speech, so that silence,
//! tones, DTMF, hold music and noise are never sent to whisper.
//!
//! Whisper always runs a padded 30 s window and invents text on what is not speech ("Thank you
//! for watching.", its own initial prompt said back on a DTMF string), and in a follow-up call
//! each channel is mostly silent while the other side talks. Two steps:
//!
//! 1. A frame is *loud* when its energy stands clearly above the channel's own noise floor (line
//!    hiss differs per call) and above an absolute floor.
//! 2. A loud frame is *speech-like* when its spectrum (see [`spectrum`](super::spectrum)) is
//!    neither a tone (two peaks hold almost all its energy), nor flat (noise), nor the same as
//!    the frame before (a held note or tone). One frame decides nothing (a steady vowel looks
//!    like a note, a fricative like noise), so a loud frame counts as speech when enough of the
//!    loud frames around it (±`density_window_ms`) are speech-like. On espeak-ng speech through
//!    the phone band 50–65 % of loud frames are speech-like, on sox-made tones, DTMF and
//!    ring-back none, on hold music at most 16 % of any half second, on white and pink noise at
//!    most 8 %.
//!
//! Short gaps are bridged and regions padded so words are not clipped.

use std::ops::Range;

use super::audio::SAMPLE_RATE;
use super::spectrum::{Analyzer, FrameFeatures};

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
    /// A frame whose two strongest spectral peaks hold more than this share of the band's
    /// energy is a tone (call progress, DTMF, ring-back), not speech.
    pub max_peak_share: f32,
    /// A frame flatter than this (spectral flatness) is noise, not speech.
    pub max_flatness: f32,
    /// A frame whose spectrum is this similar to the previous one is a held note or tone.
    pub max_similarity: f32,
    /// Loud audio kept before the first and after the last speech frame of a loud stretch
    /// (soft or noise-like onsets: "this is", "s").
    pub lead_ms: u32,
    /// Loud frames within this distance (each side) decide whether a loud frame is speech…
    pub density_window_ms: u32,
    /// …by their share of speech-like frames being at least this.
    pub min_speech_density: f32,
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
            max_peak_share: 0.9,
            max_flatness: 0.3,
            max_similarity: 0.95,
            lead_ms: 600,
            density_window_ms: 250,
            min_speech_density: 0.3,
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
    let loud: Vec<bool> = levels.iter().map(|&l| l >= threshold).collect();
    let speech = speech_frames(samples, frame, &loud, cfg);
    let hangover = (cfg.hangover_ms / cfg.frame_ms.max(1)) as usize;
    let min_voiced = (cfg.min_speech_ms / cfg.frame_ms.max(1)).max(1) as usize;

    let lead = (cfg.lead_ms / cfg.frame_ms.max(1)) as usize;

    // Loud stretches (gaps up to the hangover bridged) that hold enough speech frames, each cut
    // to its speech frames and `lead` of loud audio around them: an onset such as "this is"
    // is noise-like and would be lost at the edge, a DTMF string before the first word is not
    // worth keeping.
    let mut loud_runs: Vec<(usize, usize)> = Vec::new();
    for (i, _) in loud.iter().enumerate().filter(|(_, l)| **l) {
        match loud_runs.last_mut() {
            Some(r) if i - r.1 <= hangover => r.1 = i + 1,
            _ => loud_runs.push((i, i + 1)),
        }
    }
    let mut regions: Vec<(usize, usize, usize)> = Vec::new();
    for (start, end) in loud_runs {
        let seeds: Vec<usize> = (start..end).filter(|&i| speech[i]).collect();
        let (Some(&first), Some(&last)) = (seeds.first(), seeds.last()) else {
            continue;
        };
        regions.push((
            first.saturating_sub(lead).max(start),
            (last + 1 + lead).min(end),
            seeds.len(),
        ));
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

/// Which frames are speech: loud, with enough speech-like loud frames around them.
fn speech_frames(samples: &[f32], frame: usize, loud: &[bool], cfg: &VadConfig) -> Vec<bool> {
    let mut analyzer = Analyzer::new();
    let mut like = vec![false; loud.len()];
    let mut was_loud = false;
    for (i, l) in loud.iter().enumerate() {
        if !l {
            was_loud = false;
            continue;
        }
        let start = i * frame;
        if !was_loud && start >= frame {
            // the similarity is to the frame just before, which the analyzer skipped
            analyzer.frame(&samples[start - frame..]);
        }
        like[i] = speech_like(&analyzer.frame(&samples[start..]), cfg);
        was_loud = true;
    }
    let reach = (cfg.density_window_ms / cfg.frame_ms.max(1)) as usize;
    (0..loud.len())
        .map(|i| {
            if !loud[i] {
                return false;
            }
            let around = i.saturating_sub(reach)..(i + reach + 1).min(loud.len());
            let n_loud = loud[around.clone()].iter().filter(|l| **l).count();
            let n_like = like[around].iter().filter(|l| **l).count();
            n_like as f32 >= cfg.min_speech_density * n_loud as f32
        })
        .collect()
}

fn speech_like(f: &FrameFeatures, cfg: &VadConfig) -> bool {
    f.peak_share <= cfg.max_peak_share
        && f.flatness <= cfg.max_flatness
        && f.similarity <= cfg.max_similarity
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

    /// A "syllable train" of a voice-like sound: harmonics of a pitch gliding 90–150 Hz shaped
    /// by a moving formant, in bursts of 150 ms with 50 ms pauses, like speech rhythm (pure
    /// tone bursts would be tones, not speech, for the detector).
    fn speech_like(secs: f32) -> Vec<f32> {
        use std::f32::consts::PI;
        (0..(secs * SR as f32) as usize)
            .map(|i| {
                let t = i as f32 / SR as f32;
                if (t * 1000.0) as u32 % 200 >= 150 {
                    return 0.0;
                }
                // phase of a pitch 120 + 30 sin(2π 3 t) Hz
                let phase =
                    2.0 * PI * (120.0 * t - 30.0 / (2.0 * PI * 3.0) * (2.0 * PI * 3.0 * t).cos());
                let formant = 700.0 + 300.0 * (2.0 * PI * 5.0 * t).sin();
                let f0 = 120.0 + 30.0 * (2.0 * PI * 3.0 * t).sin();
                (1..30)
                    .map(|h| {
                        let f = f0 * h as f32;
                        let gain = 1.0 / (1.0 + ((f - formant) / 250.0).powi(2)) + 0.1;
                        gain * (h as f32 * phase).sin()
                    })
                    .sum::<f32>()
                    * 0.05
            })
            .collect()
    }

    /// A tone or chord of `freqs` for `secs`.
    fn chord(freqs: &[f32], secs: f32) -> Vec<f32> {
        crate::transcribe::spectrum::tests::sines(freqs, (secs * SR as f32) as usize, 0)
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
    fn tones_dtmf_music_and_noise_bursts_are_not_speech() {
        let cfg = VadConfig::default();
        let mut x = hiss(20 * SR, 0.002);
        // a 1 kHz beep, ring-back (440 + 480 Hz), six DTMF digits
        place(&mut x, 1.0, &chord(&[1000.0], 1.0));
        place(&mut x, 3.0, &chord(&[440.0, 480.0], 2.0));
        let digits = [(697.0, 1209.0), (770.0, 1336.0), (852.0, 1477.0)];
        for (i, (lo, hi)) in digits.iter().chain(&digits).enumerate() {
            place(&mut x, 6.0 + 0.25 * i as f32, &chord(&[*lo, *hi], 0.15));
        }
        // held notes with harmonics (C4 E4 G4 C5 as a melody, 400 ms each)
        for (i, f) in [261.6f32, 329.6, 392.0, 523.3].iter().enumerate() {
            let notes: Vec<f32> = (1..6).map(|h| f * h as f32).collect();
            place(&mut x, 9.0 + 0.4 * i as f32, &chord(&notes, 0.4));
        }
        // a burst of loud white noise
        let burst = hiss(2 * SR, 0.2);
        place(&mut x, 13.0, &burst);
        assert!(
            speech_regions(&x, &cfg).is_empty(),
            "{:?}",
            speech_regions(&x, &cfg)
        );
        // and speech after all that is still found
        place(&mut x, 16.5, &speech_like(2.0));
        let r = speech_regions(&x, &cfg);
        assert_eq!(r.len(), 1, "{r:?}");
        assert!((r[0].start as f32 / SR as f32 - 16.3).abs() < 0.1, "{r:?}");
    }

    #[test]
    fn a_click_is_not_speech() {
        let mut x = hiss(5 * SR, 0.002);
        place(&mut x, 2.0, &speech_like(0.06));
        assert!(speech_regions(&x, &VadConfig::default()).is_empty());
    }
}
