//! The start-up sweep after a crash: every recording still marked `recording` gets its WAV
//! header repaired (the audio up to the last flush is on disk; only the sizes are stale), its
//! checksum and length stored, and every call still marked live is ended as interrupted.
//! Runs before the server accepts calls, so nothing else writes these rows meanwhile.

use std::path::Path;

use crate::media::recorder::file_sha256;
use crate::media::wav_repair::repair_wav_header;
use crate::store::recording_files::RecordingsRoot;
use crate::store::{calls, Store, StoreError};

/// What the sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// Recordings whose header was rewritten and checksummed.
    pub repaired: usize,
    /// Recordings whose file could not be found or read.
    pub lost: Vec<String>,
    /// Calls ended as `interrupted_by_server_restart`.
    pub interrupted_calls: Vec<String>,
}

/// Repairs and closes what a previous process left open.
pub async fn sweep(store: &Store, root: &RecordingsRoot, now: i64) -> Result<Recovery, StoreError> {
    let root = root.clone();
    let unfinished = store
        .read(move |c| calls::unfinished_recordings(c, &root))
        .await?;
    let mut recovery = Recovery::default();
    for (id, call_id, path) in unfinished {
        let outcome = tokio::task::spawn_blocking(move || repair(&path))
            .await
            .unwrap_or_else(|e| Err(format!("repair task failed: {e}")));
        match &outcome {
            Ok((_, ms)) => {
                recovery.repaired += 1;
                tracing::warn!(call = %call_id, seconds = ms / 1000, "recording repaired after an unclean stop");
            }
            Err(why) => {
                tracing::error!(call = %call_id, %why, "recording could not be repaired");
                recovery.lost.push(call_id.clone());
            }
        }
        store
            .write(move |tx| {
                let outcome = match &outcome {
                    Ok((sha, ms)) => Ok((sha.as_str(), *ms)),
                    Err(why) => Err(why.as_str()),
                };
                calls::recording_repaired(tx, id, outcome, now)
            })
            .await?;
    }
    recovery.interrupted_calls = store
        .write(move |tx| calls::end_interrupted(tx, now))
        .await?;
    // robot calls a crash cut off: closed, so the dialer calls their tasks again (the answers
    // each saved on its own stay; the task was never marked completed)
    let at = chrono::DateTime::from_timestamp(now, 0).unwrap_or_default();
    let robots = store
        .write(move |tx| crate::store::robot::close_orphans(tx, at))
        .await?;
    if robots > 0 {
        tracing::warn!(
            calls = robots,
            "robot calls cut off by an unclean stop: their tasks will be called again"
        );
    }
    Ok(recovery)
}

/// Rewrites the header and returns (SHA-256, duration in ms).
pub(crate) fn repair(path: &Path) -> Result<(String, i64), String> {
    if !path.is_file() {
        return Err(format!("{} is missing", path.display()));
    }
    let report = repair_wav_header(path).map_err(|e| e.to_string())?;
    let sha = file_sha256(path).map_err(|e| e.to_string())?;
    let rate = hound::WavReader::open(path)
        .map(|r| r.spec().sample_rate)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let ms = report.frames.saturating_mul(1000) / u64::from(rate.max(1));
    Ok((sha, i64::try_from(ms).unwrap_or(i64::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::recorder::StereoRecorder;
    use crate::store::calls::NewCall;

    #[tokio::test]
    async fn a_crashed_call_gets_its_wav_repaired_and_its_row_closed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite"), 0).unwrap();
        let wav = dir.path().join("c1.wav");
        // three seconds written and flushed, never finalised: the header says less
        let mut rec = StereoRecorder::create(&wav, 8000).unwrap();
        for _ in 0..150 {
            rec.write(&[100; 160], &[200; 160]).unwrap();
        }
        rec.flush().unwrap();
        std::mem::forget(rec);
        let path = wav.clone();
        let root = RecordingsRoot::new(dir.path());
        let root_for_row = root.clone();
        store
            .write(move |tx| {
                let new = NewCall {
                    id: "c1",
                    task_id: None,
                    patient_id: None,
                    agent_id: None,
                    direction: "outbound",
                    remote_number: None,
                    contact: None,
                    state: "answered",
                };
                calls::insert(tx, &new, 1)?;
                calls::recording_started(tx, &root_for_row, "c1", &path, 1)?;
                Ok(())
            })
            .await
            .unwrap();
        let r = sweep(&store, &root, 10).await.unwrap();
        assert_eq!(r.repaired, 1);
        assert_eq!(r.interrupted_calls, vec!["c1".to_string()]);
        let call = store.read(|c| calls::get(c, "c1")).await.unwrap().unwrap();
        let recording = call.recording.unwrap();
        assert_eq!(recording.status, "repaired");
        assert_eq!(recording.duration_ms, Some(3000));
        assert_eq!(recording.sha256.unwrap(), file_sha256(&wav).unwrap());
        let reader = hound::WavReader::open(&wav).unwrap();
        assert_eq!(reader.duration(), 24_000);
        // a second sweep finds nothing to do
        assert_eq!(sweep(&store, &root, 11).await.unwrap(), Recovery::default());
    }
}
