//! Decoding recordings into what whisper wants: one 16 kHz mono f32 buffer per channel.
//!
//! suifang records calls as stereo WAV (left = agent, right = patient), so each channel is kept
//! apart: transcribing them separately gives speaker labels for free. WAV goes through hound;
//! anything else (and WAV codecs hound does not read, such as mu-law) through symphonia.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use crate::media::resample::resample;

/// The sample rate whisper works at.
pub const SAMPLE_RATE: u32 = 16_000;

/// A decoded recording: each channel resampled to [`SAMPLE_RATE`].
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    /// One buffer per channel, samples in -1.0..=1.0.
    pub channels: Vec<Vec<f32>>,
    /// The file's own sample rate (8000 for SIP recordings).
    pub source_rate: u32,
}

impl Audio {
    /// Length in milliseconds (of the longest channel).
    pub fn duration_ms(&self) -> u64 {
        let n = self.channels.iter().map(Vec::len).max().unwrap_or(0) as u64;
        n * 1000 / u64::from(SAMPLE_RATE)
    }
}

/// Why a recording could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The recording.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file is damaged or not audio in a format suifang decodes.
    #[error("{path}: cannot decode audio: {reason}")]
    Decode {
        /// The recording.
        path: PathBuf,
        /// The decoder's explanation.
        reason: String,
    },
    /// The file decodes but holds no samples.
    #[error("{path}: no audio samples")]
    Empty {
        /// The recording.
        path: PathBuf,
    },
}

/// Decodes `path` into per-channel 16 kHz f32 audio.
pub fn decode_file(path: &Path) -> Result<Audio, AudioError> {
    let is_wav = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("wav"));
    // Open once up front so that a missing or unreadable file is an I/O error, and every
    // error after this one is about the content.
    File::open(path).map_err(|source| AudioError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let (channels, rate) = if is_wav {
        match decode_wav(path) {
            Ok(decoded) => decoded,
            // hound reads only PCM and float WAVs: let symphonia try G.711 and ADPCM ones.
            Err(hound::Error::Unsupported) => decode_symphonia(path)?,
            Err(e) => {
                return Err(AudioError::Decode {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                })
            }
        }
    } else {
        decode_symphonia(path)?
    };
    if channels.iter().all(Vec::is_empty) {
        return Err(AudioError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(Audio {
        channels: channels
            .iter()
            .map(|c| resample(c, rate, SAMPLE_RATE))
            .collect(),
        source_rate: rate,
    })
}

type Planar = (Vec<Vec<f32>>, u32);

fn decode_wav(path: &Path) -> Result<Planar, hound::Error> {
    let reader = hound::WavReader::new(BufReader::new(File::open(path)?))?;
    let spec = reader.spec();
    let n_ch = usize::from(spec.channels.max(1));
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader.into_samples::<f32>().collect::<Result<_, _>>()?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            reader
                .into_samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()?
        }
    };
    Ok((deinterleave(&interleaved, n_ch), spec.sample_rate))
}

fn deinterleave(interleaved: &[f32], n_ch: usize) -> Vec<Vec<f32>> {
    (0..n_ch)
        .map(|c| interleaved.iter().skip(c).step_by(n_ch).copied().collect())
        .collect()
}

fn decode_symphonia(path: &Path) -> Result<Planar, AudioError> {
    let bad = |reason: String| AudioError::Decode {
        path: path.to_path_buf(),
        reason,
    };
    let file = File::open(path).map_err(|source| AudioError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            mss,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|e| bad(e.to_string()))?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| bad("no audio track".into()))?;
    let track_id = track.id;
    let mut rate = track.codec_params.sample_rate.unwrap_or(0);
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(|e| bad(e.to_string()))?;
    let mut channels: Vec<Vec<f32>> = Vec::new();
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break
            }
            Err(e) => return Err(bad(e.to_string())),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(d) => d,
            // A damaged packet loses a few milliseconds, not the whole recording.
            Err(SymphoniaError::DecodeError(_)) => continue,
            Err(e) => return Err(bad(e.to_string())),
        };
        let spec = *decoded.spec();
        rate = spec.rate;
        let n_ch = spec.channels.count().max(1);
        let mut buf = SampleBuffer::<f32>::new(decoded.capacity() as u64, spec);
        buf.copy_interleaved_ref(decoded);
        if channels.len() < n_ch {
            channels.resize(n_ch, Vec::new());
        }
        for (c, samples) in deinterleave(buf.samples(), n_ch).into_iter().enumerate() {
            channels[c].extend(samples);
        }
    }
    if rate == 0 {
        return Err(bad("unknown sample rate".into()));
    }
    Ok((channels, rate))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::resample::tests::{rms, tone};

    #[test]
    fn stereo_wav_keeps_channels_apart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("call.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for s in tone(300.0, 8000, 0.5) {
            w.write_sample((s * 32767.0) as i16).unwrap();
            w.write_sample(0i16).unwrap();
        }
        w.finalize().unwrap();
        let audio = decode_file(&path).unwrap();
        assert_eq!(audio.source_rate, 8000);
        assert_eq!(audio.channels.len(), 2);
        assert_eq!(audio.channels[0].len(), 8000);
        assert_eq!(audio.duration_ms(), 500);
        assert!((rms(&audio.channels[0][100..7900]) - 0.3535).abs() < 0.01);
        assert_eq!(rms(&audio.channels[1]), 0.0);
    }

    #[test]
    fn corrupt_and_foreign_files_are_decode_errors() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.wav");
        std::fs::write(&bad, b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk").unwrap();
        let e = decode_file(&bad).unwrap_err();
        assert!(matches!(e, AudioError::Decode { .. }), "{e}");
        let txt = dir.path().join("notes.txt");
        std::fs::write(&txt, "not audio").unwrap();
        assert!(matches!(decode_file(&txt), Err(AudioError::Decode { .. })));
        let missing = decode_file(&dir.path().join("missing.wav")).unwrap_err();
        assert!(matches!(missing, AudioError::Io { .. }), "{missing}");
    }
}
