//! The per-call stereo WAV recorder: left = agent (nurse), right = patient.
//!
//! Recordings are clinical records, so the writer is built to survive a crash: samples are
//! written incrementally and the header is rewritten (`hound::WavWriter::flush`) after every
//! second of audio, so a `kill -9` loses at most about one second; [`super::wav_repair`] fixes
//! the header of whatever the crash left. Separate channels let transcription label speakers
//! without diarisation.

use std::fs::File;
use std::io::{BufWriter, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{Datelike, NaiveDate};
use sha2::{Digest, Sha256};

use super::MediaError;

/// What a finished recording is, for the `recordings` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingInfo {
    /// Where the file is.
    pub path: PathBuf,
    /// Stereo frames (samples per channel) written.
    pub frames: u64,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Length of the recording.
    pub duration: Duration,
    /// Lower-case hex SHA-256 of the whole file, to prove it was not altered later.
    pub sha256: String,
}

/// `root/YYYY/MM/DD/<call-id>.wav`: one directory per day keeps listings and retention sweeps
/// cheap. The call id must be a plain file name (no separators, no `..`). Call ids begin with
/// the hospital-local date they were made (`20261206T213000-…`), and that date names the
/// folder, so a call's id and its folder always agree; an id without one goes under `today`.
pub fn recording_path(root: &Path, call_id: &str, today: NaiveDate) -> Result<PathBuf, MediaError> {
    let ok = !call_id.is_empty()
        && call_id.len() <= 128
        && !call_id.starts_with('.')
        && call_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        return Err(MediaError::BadCallId(call_id.to_owned()));
    }
    let date = call_id
        .get(..8)
        .and_then(|ymd| NaiveDate::parse_from_str(ymd, "%Y%m%d").ok())
        .unwrap_or(today);
    Ok(root
        .join(format!("{:04}", date.year()))
        .join(format!("{:02}", date.month()))
        .join(format!("{:02}", date.day()))
        .join(format!("{call_id}.wav")))
}

/// Lower-case hex SHA-256 of a file, streamed.
pub fn file_sha256(path: &Path) -> Result<String, MediaError> {
    let io = |source| MediaError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(buf.get(..n).unwrap_or(&[]));
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Incremental stereo 16-bit PCM writer. Not `Clone`: one owner (the call's media task).
pub struct StereoRecorder {
    writer: hound::WavWriter<BufWriter<File>>,
    path: PathBuf,
    sample_rate: u32,
    frames: u64,
    frames_since_flush: u64,
}

impl std::fmt::Debug for StereoRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StereoRecorder")
            .field("path", &self.path)
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

impl StereoRecorder {
    /// Creates the file (and its day directory) and writes a valid, empty WAV header.
    pub fn create(path: &Path, sample_rate: u32) -> Result<Self, MediaError> {
        if let Some(dir) = path.parent() {
            crate::private_fs::create_dir_all(dir).map_err(|source| MediaError::Io {
                path: dir.to_owned(),
                source,
            })?;
        }
        // a patient's voice: owner-only, whatever the umask
        let file = crate::private_fs::create_file(path).map_err(|source| MediaError::Io {
            path: path.to_owned(),
            source,
        })?;
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let writer =
            hound::WavWriter::new(std::io::BufWriter::new(file), spec).map_err(|source| {
                MediaError::Wav {
                    path: path.to_owned(),
                    source,
                }
            })?;
        Ok(Self {
            writer,
            path: path.to_owned(),
            sample_rate,
            frames: 0,
            frames_since_flush: 0,
        })
    }

    /// Appends one block of audio: `agent` to the left channel, `patient` to the right. The
    /// shorter side is padded with silence so the channels never drift apart in time.
    pub fn write(&mut self, agent: &[i16], patient: &[i16]) -> Result<(), MediaError> {
        let n = agent.len().max(patient.len());
        for i in 0..n {
            let l = agent.get(i).copied().unwrap_or(0);
            let r = patient.get(i).copied().unwrap_or(0);
            self.writer.write_sample(l).map_err(|e| self.wav_err(e))?;
            self.writer.write_sample(r).map_err(|e| self.wav_err(e))?;
        }
        self.frames += n as u64;
        self.frames_since_flush += n as u64;
        if self.frames_since_flush >= u64::from(self.sample_rate) {
            self.flush()?;
        }
        Ok(())
    }

    /// Pushes buffered samples to the file and rewrites the header sizes so the file is a
    /// valid WAV of everything written so far.
    pub fn flush(&mut self) -> Result<(), MediaError> {
        self.writer.flush().map_err(|e| self.wav_err(e))?;
        self.frames_since_flush = 0;
        Ok(())
    }

    /// Frames (samples per channel) written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Where the recording is being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes the file and returns its length and checksum.
    pub fn finalize(self) -> Result<RecordingInfo, MediaError> {
        let Self {
            writer,
            path,
            sample_rate,
            frames,
            ..
        } = self;
        writer.finalize().map_err(|source| MediaError::Wav {
            path: path.clone(),
            source,
        })?;
        let sha256 = file_sha256(&path)?;
        Ok(RecordingInfo {
            duration: Duration::from_secs_f64(frames as f64 / f64::from(sample_rate.max(1))),
            path,
            frames,
            sample_rate,
            sha256,
        })
    }

    fn wav_err(&self, source: hound::Error) -> MediaError {
        MediaError::Wav {
            path: self.path.clone(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_layout_is_by_day() {
        let date = NaiveDate::from_ymd_opt(2026, 3, 7).expect("valid date");
        let p = recording_path(Path::new("recordings"), "c-42_x.1", date).expect("valid id");
        assert_eq!(p, Path::new("recordings/2026/03/07/c-42_x.1.wav"));
        // an id made at 00:30 in Shanghai on the 8th (16:30 UTC on the 7th) is filed on the 8th
        let p = recording_path(Path::new("r"), "20260308T003000-0badcafe", date).unwrap();
        assert_eq!(p, Path::new("r/2026/03/08/20260308T003000-0badcafe.wav"));
        for bad in ["", "../etc", "a/b", ".hidden", "a b", "x\\y"] {
            assert!(
                recording_path(Path::new("r"), bad, date).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn writes_left_agent_right_patient_and_checksums() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("2026/01/02/call.wav");
        let mut rec = StereoRecorder::create(&path, 8000).expect("create");
        rec.write(&[100, 200, 300], &[-1, -2]).expect("write");
        let info = rec.finalize().expect("finalize");
        assert_eq!(info.frames, 3);
        assert_eq!(info.sha256, file_sha256(&path).expect("hash"));
        assert_eq!(info.sha256.len(), 64);
        let mut r = hound::WavReader::open(&path).expect("open");
        assert_eq!(r.spec().channels, 2);
        let samples: Vec<i16> = r.samples::<i16>().map(|s| s.expect("sample")).collect();
        assert_eq!(samples, vec![100, -1, 200, -2, 300, 0]);
    }

    /// After each second of audio the header on disk already describes the data, even though
    /// the writer is still open.
    #[test]
    fn header_is_valid_while_recording() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("live.wav");
        let mut rec = StereoRecorder::create(&path, 8000).expect("create");
        let frame = vec![1000i16; 160];
        for _ in 0..(50 * 2 + 10) {
            rec.write(&frame, &frame).expect("write");
        }
        let r = hound::WavReader::open(&path).expect("open live file");
        assert!(r.duration() >= 16000, "on-disk frames {}", r.duration());
        drop(rec);
    }

    #[cfg(unix)]
    #[test]
    fn recordings_and_their_day_folders_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let root = tempfile::tempdir().unwrap();
        let date = NaiveDate::from_ymd_opt(2026, 3, 7).expect("valid date");
        let path = recording_path(&root.path().join("recordings"), "c-1", date).unwrap();
        let mut rec = StereoRecorder::create(&path, 8000).unwrap();
        rec.write(&[1, 2], &[3, 4]).unwrap();
        assert_eq!(mode(&path), 0o600);
        for folder in ["recordings", "recordings/2026", "recordings/2026/03/07"] {
            assert_eq!(mode(&root.path().join(folder)), 0o700, "{folder}");
        }
    }
}
