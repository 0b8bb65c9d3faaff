//! Recorded gaps: 20 ms of digital silence inside a channel that should carry a continuous
//! signal. The bench peers stream tones, which never hold 160 zero samples in a row, so every
//! such run between the first and the last audio of a channel is a frame the recorder did not
//! get (a lost or late packet, or a bridged frame that arrived too late).

use std::path::Path;

use crate::calls::FRAME_SAMPLES;

/// Gaps found in one channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelGaps {
    /// 20 ms frames of silence (a run of 400 zero samples counts 2).
    pub frames: u64,
    /// Separate silent runs of at least one frame.
    pub runs: u64,
    /// Frames between the first and the last non-zero sample (what was checked).
    pub audio_frames: u64,
}

impl ChannelGaps {
    /// Adds another channel's figures.
    pub fn add(&mut self, other: ChannelGaps) {
        self.frames += other.frames;
        self.runs += other.runs;
        self.audio_frames += other.audio_frames;
    }
}

/// Gaps of one channel's samples.
pub fn channel_gaps(samples: &[i16]) -> ChannelGaps {
    let (Some(first), Some(last)) = (
        samples.iter().position(|&s| s != 0),
        samples.iter().rposition(|&s| s != 0),
    ) else {
        return ChannelGaps::default();
    };
    let mut gaps = ChannelGaps {
        audio_frames: ((last - first + 1) / FRAME_SAMPLES) as u64,
        ..ChannelGaps::default()
    };
    let mut run = 0usize;
    for &s in &samples[first..=last] {
        if s == 0 {
            run += 1;
            continue;
        }
        if run >= FRAME_SAMPLES {
            gaps.frames += (run / FRAME_SAMPLES) as u64;
            gaps.runs += 1;
        }
        run = 0;
    }
    gaps
}

/// Gaps of a stereo recording: (left = sent, right = received).
pub fn wav_gaps(path: &Path) -> Result<(ChannelGaps, ChannelGaps), hound::Error> {
    let mut reader = hound::WavReader::open(path)?;
    let channels = reader.spec().channels.max(1) as usize;
    let (mut left, mut right) = (Vec::new(), Vec::new());
    for (i, s) in reader.samples::<i16>().enumerate() {
        let s = s?;
        match i % channels {
            0 => left.push(s),
            1 => right.push(s),
            _ => {}
        }
    }
    Ok((channel_gaps(&left), channel_gaps(&right)))
}

/// A tone of `freq` Hz at 8 kHz, `seconds` long, with no 20 ms of silence anywhere (the bench
/// peers loop it, so the length is whole frames and the loop point has no click of zeros).
pub fn tone(freq: f64, seconds: usize, amplitude: f64) -> Vec<i16> {
    (0..seconds * 8000)
        .map(|n| {
            let t = n as f64 / 8000.0;
            (amplitude * (2.0 * std::f64::consts::PI * freq * t).sin()).round() as i16
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_continuous_tone_has_no_gaps() {
        let t = tone(425.0, 2, 8000.0);
        let g = channel_gaps(&t);
        assert_eq!((g.frames, g.runs), (0, 0));
        assert_eq!(g.audio_frames, 99); // first and last zero crossings trimmed
    }

    #[test]
    fn a_lost_frame_inside_is_counted_and_silence_outside_is_not() {
        let mut t = vec![0i16; 800]; // before the first audio: not a gap
        t.extend(tone(697.0, 1, 8000.0));
        t[2000..2160].fill(0); // one lost frame
        t[4000..4400].fill(0); // two and a half frames
        t.extend(vec![0i16; 1600]); // after hang-up: not a gap
        let g = channel_gaps(&t);
        assert_eq!((g.frames, g.runs), (3, 2));
    }

    #[test]
    fn short_zero_runs_are_not_gaps_and_silence_is_no_audio() {
        let mut t = tone(425.0, 1, 8000.0);
        t[100..250].fill(0);
        assert_eq!(channel_gaps(&t).frames, 0);
        assert_eq!(channel_gaps(&[0; 4000]), ChannelGaps::default());
    }

    #[test]
    fn the_tone_survives_mu_law() {
        let t = tone(425.0, 1, 8000.0);
        let coded = crate::media::g711::G711::Pcmu.encode(&t);
        let mut back = Vec::new();
        crate::media::g711::G711::Pcmu.decode_into(&coded, &mut back);
        let mut looped = back.clone();
        looped.extend(&back);
        assert_eq!(channel_gaps(&looped).frames, 0);
    }
}
