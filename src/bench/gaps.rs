//! Recorded gaps: 20 ms of digital silence inside a channel that should carry a continuous
//! signal. The bench peers stream tones, which never hold 160 zero samples in a row, so every
//! such run between the first and the last audio of a channel is a frame the recorder did not
//! get (a lost or late packet, or a bridged frame that arrived too late).

use std::path::{Path, PathBuf};

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

/// One silent run: where it starts (samples from the start of the file) and its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GapRun {
    pub at_sample: usize,
    pub frames: u64,
}

/// Gaps of one channel's samples.
pub fn channel_gaps(samples: &[i16]) -> ChannelGaps {
    channel_scan(samples).gaps
}

/// Gaps of one channel's samples, with each run and where the channel's audio begins, so a
/// benchmark can tell when in a call the frames went missing.
pub fn channel_scan(samples: &[i16]) -> ChannelScan {
    let (Some(first), Some(last)) = (
        samples.iter().position(|&s| s != 0),
        samples.iter().rposition(|&s| s != 0),
    ) else {
        return ChannelScan::default();
    };
    let mut gaps = ChannelGaps {
        audio_frames: ((last - first + 1) / FRAME_SAMPLES) as u64,
        ..ChannelGaps::default()
    };
    let mut runs = Vec::new();
    let mut run = 0usize;
    for (i, &s) in samples.iter().enumerate().take(last + 1).skip(first) {
        if s == 0 {
            run += 1;
            continue;
        }
        if run >= FRAME_SAMPLES {
            let frames = (run / FRAME_SAMPLES) as u64;
            gaps.frames += frames;
            gaps.runs += 1;
            runs.push(GapRun {
                at_sample: i - run,
                frames,
            });
        }
        run = 0;
    }
    ChannelScan {
        gaps,
        runs,
        first_audio: first,
    }
}

/// One channel of a scanned recording.
#[derive(Debug, Clone, Default)]
pub struct ChannelScan {
    pub gaps: ChannelGaps,
    pub runs: Vec<GapRun>,
    /// Sample where the channel's audio begins.
    pub first_audio: usize,
}

/// A scanned stereo recording.
#[derive(Debug, Clone, Default)]
pub struct WavScan {
    /// What the recorded leg was sent (the bridged agent audio in `bench calls`).
    pub left: ChannelScan,
    /// What it received.
    pub right: ChannelScan,
    /// Samples per channel.
    pub samples: usize,
}

/// Gaps of a stereo recording.
pub fn wav_gaps(path: &Path) -> Result<WavScan, hound::Error> {
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
    Ok(WavScan {
        left: channel_scan(&left),
        right: channel_scan(&right),
        samples: left.len(),
    })
}

/// Gap runs of one channel by when they happened in the benchmark, which tells a stall of the
/// ramp-up (SIP bursts) from one of steady streaming or of the hang-ups.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GapPhases {
    /// Runs within the first second of the channel's audio (the bridge starting).
    pub first_second: u64,
    /// Other runs before the measured window (calls still being placed).
    pub ramp: u64,
    /// Runs inside the measured window.
    pub window: u64,
    /// Runs after it (calls being hung up).
    pub hang_up: u64,
}

impl GapPhases {
    /// Adds the runs of `channel`, from a recording that closed `closed_at` seconds after the
    /// window opened (negative: before) and held `samples` samples per channel; the window
    /// lasted `window` seconds. A run's time is counted back from the close, which is when
    /// the recorder wrote the last sample.
    pub fn add(&mut self, channel: &ChannelScan, samples: usize, closed_at: f64, window: f64) {
        let rate = 8000.0;
        for run in &channel.runs {
            let at = closed_at - samples.saturating_sub(run.at_sample) as f64 / rate;
            if run.at_sample < channel.first_audio + rate as usize {
                self.first_second += 1;
            } else if at < 0.0 {
                self.ramp += 1;
            } else if at <= window {
                self.window += 1;
            } else {
                self.hang_up += 1;
            }
        }
    }
}

/// What a benchmark's recordings hold.
#[derive(Debug, Default)]
pub struct Scanned {
    pub left: ChannelGaps,
    pub right: ChannelGaps,
    pub left_phases: GapPhases,
    pub right_phases: GapPhases,
    pub unreadable: usize,
}

/// Scans `recordings` (each with when it closed, in seconds after the measured window of
/// `window` seconds opened).
pub fn scan_recordings(recordings: &[(PathBuf, f64)], window: f64) -> Scanned {
    let mut out = Scanned::default();
    for (path, closed_at) in recordings {
        let Ok(scan) = wav_gaps(path) else {
            out.unreadable += 1;
            continue;
        };
        out.left.add(scan.left.gaps);
        out.right.add(scan.right.gaps);
        out.left_phases
            .add(&scan.left, scan.samples, *closed_at, window);
        out.right_phases
            .add(&scan.right, scan.samples, *closed_at, window);
    }
    out
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
        let scan = channel_scan(&t);
        assert_eq!(scan.first_audio, 801, "the tone starts at a zero crossing");
        assert_eq!(
            scan.runs,
            vec![
                GapRun {
                    at_sample: 2000,
                    frames: 1
                },
                GapRun {
                    at_sample: 4000,
                    frames: 2
                }
            ]
        );
    }

    #[test]
    fn gap_runs_are_placed_in_the_phase_they_happened() {
        let mut t = tone(425.0, 40, 8000.0);
        t[4000..4160].fill(0); // 0.5 s in: the bridge starting
        t[40_000..40_160].fill(0); // 5 s in: 35 s before the close, before the window
        t[200_000..200_320].fill(0); // 25 s in: 15 s before the close, inside it
        t[312_000..312_160].fill(0); // 39 s in: after the window
        let scan = channel_scan(&t);
        let mut phases = GapPhases::default();
        // closed 30 s after a 20 s window opened
        phases.add(&scan, t.len(), 30.0, 20.0);
        assert_eq!(
            phases,
            GapPhases {
                first_second: 1,
                ramp: 1,
                window: 1,
                hang_up: 1
            }
        );
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
