//! Real-call conditions for `bench transcribe --loss`: a bench recording sent through G.711
//! μ-law in 20 ms RTP packets, some of which never arrive.
//!
//! Each channel is its own RTP stream (a call's two legs), cut into 20 ms packets of 160
//! samples at 8 kHz; each packet is lost with probability `loss` (a seeded generator, so a run
//! is repeatable and both engines get the same losses); a lost packet is 20 ms of silence in
//! the recording, as suifang's recorder writes a gap it has no packet for. The result is written
//! next to the clean file with the same reference sidecar, so it is scored the same way.

use std::path::{Path, PathBuf};

use crate::media::g711::{linear_to_ulaw, ulaw_to_linear};
use crate::media::resample::resample;

use super::audio::{decode_file, AudioError, SAMPLE_RATE};

/// Samples per 20 ms packet at 8 kHz.
const PACKET: usize = 160;

/// Why an impaired copy could not be made.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// The clean recording could not be read.
    #[error(transparent)]
    Audio(#[from] AudioError),
    /// Writing the copy failed.
    #[error("{path}: {source}")]
    Write {
        /// The file being written.
        path: PathBuf,
        /// hound's or the file system's error.
        #[source]
        source: hound::Error,
    },
    /// The loss rate is not a probability.
    #[error("packet loss must be between 0 and 100 %, not {0} %")]
    Loss(f64),
}

/// Packets lost of each channel and in all.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LossReport {
    /// Packets sent.
    pub packets: usize,
    /// Packets lost.
    pub lost: usize,
}

/// A small deterministic generator (xorshift64*): the same seed loses the same packets.
struct Rng(u64);

impl Rng {
    fn next_unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One channel (8 kHz, -1..=1) through μ-law in 20 ms packets, each lost with probability
/// `loss`; lost packets become silence.
pub fn through_lossy_line(samples: &[f32], loss: f64, seed: u64) -> (Vec<f32>, LossReport) {
    let mut rng = Rng(seed.max(1));
    let mut report = LossReport::default();
    let mut out = Vec::with_capacity(samples.len());
    for packet in samples.chunks(PACKET) {
        report.packets += 1;
        if rng.next_unit() < loss {
            report.lost += 1;
            out.extend(std::iter::repeat_n(0.0, packet.len()));
            continue;
        }
        out.extend(packet.iter().map(|s| {
            let pcm = (s.clamp(-1.0, 1.0) * 32767.0) as i16;
            f32::from(ulaw_to_linear(linear_to_ulaw(pcm))) / 32768.0
        }));
    }
    (out, report)
}

/// Writes `clean` (a stereo bench recording) through a lossy line as `out_dir/NAME.lossP.wav`
/// (8 kHz 16-bit stereo), with a copy of its `.ref` or `.turns` sidecar. Returns the path and
/// the packets lost over both channels.
pub fn impaired_copy(
    clean: &Path,
    out_dir: &Path,
    loss_percent: f64,
) -> Result<(PathBuf, LossReport), LineError> {
    if !(0.0..=100.0).contains(&loss_percent) {
        return Err(LineError::Loss(loss_percent));
    }
    let audio = decode_file(clean)?;
    let stem = clean
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let out = out_dir.join(format!("{stem}.loss{loss_percent}.wav"));
    let write_err = |source| LineError::Write {
        path: out.clone(),
        source,
    };
    std::fs::create_dir_all(out_dir).map_err(|e| write_err(hound::Error::IoError(e)))?;
    let mut channels = Vec::new();
    let mut total = LossReport::default();
    for (i, ch) in audio.channels.iter().enumerate() {
        let narrow = resample(ch, SAMPLE_RATE, 8000);
        let (line, r) = through_lossy_line(&narrow, loss_percent / 100.0, 0x5eed + i as u64);
        total.packets += r.packets;
        total.lost += r.lost;
        channels.push(line);
    }
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&out, spec).map_err(write_err)?;
    let n = channels.iter().map(Vec::len).max().unwrap_or(0);
    for i in 0..n {
        for c in &channels {
            let s = c.get(i).copied().unwrap_or(0.0);
            w.write_sample((s.clamp(-1.0, 1.0) * 32767.0) as i16)
                .map_err(write_err)?;
        }
    }
    w.finalize().map_err(write_err)?;
    for ext in ["ref", "turns"] {
        let side = clean.with_extension(ext);
        if side.is_file() {
            std::fs::copy(&side, out.with_extension(ext))
                .map_err(|e| write_err(hound::Error::IoError(e)))?;
        }
    }
    Ok((out, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn losses_follow_the_rate_are_repeatable_and_leave_silence() {
        let tone: Vec<f32> = (0..8000 * 60)
            .map(|i| 0.3 * (i as f32 * 0.3).sin())
            .collect();
        let (a, r) = through_lossy_line(&tone, 0.03, 7);
        assert_eq!(r.packets, 3000);
        assert!((60..=120).contains(&r.lost), "{r:?}");
        let silent_packets = a
            .chunks(PACKET)
            .filter(|p| p.iter().all(|s| *s == 0.0))
            .count();
        assert_eq!(silent_packets, r.lost);
        let (b, r2) = through_lossy_line(&tone, 0.03, 7);
        assert_eq!((a, r), (b, r2));
        let (clean, r0) = through_lossy_line(&tone, 0.0, 7);
        assert_eq!(r0.lost, 0);
        // μ-law keeps the tone within its quantisation error
        let err = clean
            .iter()
            .zip(&tone)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(err < 0.01, "{err}");
    }

    #[test]
    fn an_impossible_rate_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = impaired_copy(Path::new("x.wav"), dir.path(), 150.0).unwrap_err();
        assert!(matches!(e, LineError::Loss(_)), "{e}");
    }
}
