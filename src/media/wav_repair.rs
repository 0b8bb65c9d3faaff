//! Repair of WAV headers left unfinished by a crash.
//!
//! A RIFF file stores its own length and the data chunk's length in the header (RIFF spec,
//! "WAVE" form); a process killed mid-call leaves them describing only what was there at the
//! last flush, or 0. Audio bytes after that are still on disk, so recovery recomputes both
//! sizes from the file length (rounded down to whole frames) and rewrites them in place.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::MediaError;

/// What [`repair_wav_header`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepairReport {
    /// Bytes of audio now described by the header.
    pub data_bytes: u64,
    /// Whole frames (samples per channel) in the data chunk.
    pub frames: u64,
    /// Whether the header had to be changed.
    pub changed: bool,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Rewrites the RIFF and data chunk sizes of `path` to match the audio actually on disk and
/// trims a trailing partial frame. Safe to call on a healthy file (it reports `changed: false`).
pub fn repair_wav_header(path: &Path) -> Result<RepairReport, MediaError> {
    let io = |source| MediaError::Io {
        path: path.to_owned(),
        source,
    };
    let not_wav = |reason| MediaError::NotWav {
        path: path.to_owned(),
        reason,
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io)?;
    let file_len = file.metadata().map_err(io)?.len();
    // Headers written by hound (and most writers) fit in the first 4 KiB.
    let mut head = vec![0u8; file_len.min(4096) as usize];
    file.read_exact(&mut head).map_err(io)?;
    if head.get(0..4) != Some(b"RIFF") || head.get(8..12) != Some(b"WAVE") {
        return Err(not_wav("missing RIFF/WAVE signature"));
    }
    // Walk the chunks: fmt gives the frame size, data is what we fix.
    let mut at = 12usize;
    let mut block_align: Option<u16> = None;
    let data_header = loop {
        let (Some(id), Some(size)) = (head.get(at..at + 4), u32_at(&head, at + 4)) else {
            return Err(not_wav("no data chunk in the first 4 KiB"));
        };
        if id == b"fmt " {
            block_align = u16_at(&head, at + 8 + 12);
        }
        if id == b"data" {
            break at;
        }
        // Chunks are word-aligned (RIFF pad byte).
        at = at + 8 + size as usize + (size as usize & 1);
    };
    let align = u64::from(
        block_align
            .filter(|&a| a > 0)
            .ok_or(not_wav("no fmt chunk"))?,
    );
    let data_start = data_header as u64 + 8;
    let available = file_len.saturating_sub(data_start);
    let data_bytes = (available / align * align).min(u64::from(u32::MAX) - data_start);
    let riff_size = (data_start + data_bytes - 8) as u32;
    let old_riff = u32_at(&head, 4).unwrap_or(0);
    let old_data = u32_at(&head, data_header + 4).unwrap_or(0);
    let changed = old_riff != riff_size
        || u64::from(old_data) != data_bytes
        || file_len != data_start + data_bytes;
    if changed {
        file.set_len(data_start + data_bytes).map_err(io)?;
        file.seek(SeekFrom::Start(4)).map_err(io)?;
        file.write_all(&riff_size.to_le_bytes()).map_err(io)?;
        file.seek(SeekFrom::Start(data_header as u64 + 4))
            .map_err(io)?;
        file.write_all(&(data_bytes as u32).to_le_bytes())
            .map_err(io)?;
        file.sync_all().map_err(io)?;
    }
    Ok(RepairReport {
        data_bytes,
        frames: data_bytes / align,
        changed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::recorder::StereoRecorder;

    const RATE: u32 = 8000;

    fn write_seconds(rec: &mut StereoRecorder, secs_x10: usize) {
        let frame: Vec<i16> = (0..160).map(|i| (i * 50) as i16).collect();
        for _ in 0..secs_x10 * 5 {
            rec.write(&frame, &frame).expect("write");
        }
    }

    /// A crash (the writer is never dropped or finalized) loses only what was not flushed:
    /// after repair the file opens and holds at least the written length minus one second.
    #[test]
    fn repairs_file_of_crashed_recorder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("crash.wav");
        let mut rec = StereoRecorder::create(&path, RATE).expect("create");
        write_seconds(&mut rec, 35); // 3.5 s
        let written = rec.frames();
        std::mem::forget(rec); // simulate kill -9: no Drop, no final header
        let report = repair_wav_header(&path).expect("repair");
        let r = hound::WavReader::open(&path).expect("repaired file opens");
        assert_eq!(u64::from(r.duration()), report.frames);
        assert!(
            u64::from(r.duration()) + u64::from(RATE) >= written,
            "kept {} of {written}",
            r.duration()
        );
    }

    /// Data written after a stale header (sizes 0, partial last frame) is recovered.
    #[test]
    fn recovers_data_beyond_stale_header() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("stale.wav");
        let rec = StereoRecorder::create(&path, RATE).expect("create");
        rec.finalize().expect("finalize empty");
        // Append 1000 frames of raw stereo audio plus 3 stray bytes, as an unflushed writer
        // whose OS buffers reached the disk would leave.
        let mut f = OpenOptions::new().append(true).open(&path).expect("open");
        let raw: Vec<u8> = (0..1000u32 * 4).map(|i| (i % 251) as u8).collect();
        f.write_all(&raw).expect("append");
        f.write_all(&[1, 2, 3]).expect("append partial");
        drop(f);
        assert!(hound::WavReader::open(&path).expect("open").duration() == 0);
        let report = repair_wav_header(&path).expect("repair");
        assert!(report.changed);
        assert_eq!(report.frames, 1000);
        let r = hound::WavReader::open(&path).expect("open");
        assert_eq!(r.duration(), 1000);
        // Idempotent on a healthy file.
        assert!(!repair_wav_header(&path).expect("repair again").changed);
    }

    #[test]
    fn rejects_non_wav() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("junk.wav");
        std::fs::write(&path, b"not a wav file at all, just text").expect("write");
        assert!(matches!(
            repair_wav_header(&path),
            Err(MediaError::NotWav { .. })
        ));
        std::fs::write(&path, b"RIFF\0\0\0\0WAVEjunk").expect("write");
        assert!(matches!(
            repair_wav_header(&path),
            Err(MediaError::NotWav { .. })
        ));
    }
}
