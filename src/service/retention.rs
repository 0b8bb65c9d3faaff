//! Recording retention: deletes the audio of recordings older than `[recordings]
//! retention_days` (0 keeps everything, the default) at start-up and then every sweep interval.
//!
//! Each recording is first marked deleted in the database with its audit row, and only then is
//! its file removed: a crash in between leaves a file that the next sweep removes, never a
//! deletion without a trace. What may not be deleted (holds, open escalations, pending
//! transcription) is decided in `store::retention`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::watch;

use crate::clock::Clock;
use crate::store::recording_files::RecordingsRoot;
use crate::store::retention::{expired, mark_purged, recently_purged};
use crate::store::{Store, StoreError};

/// Recordings handled per database transaction, so a first sweep over years of audio does not
/// hold the writer for long.
const BATCH: i64 = 200;

/// Files of recordings marked deleted within this window are checked again for leftovers.
const LEFTOVER_WINDOW_SECONDS: i64 = 7 * 86_400;

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Recordings whose audio was deleted now.
    pub purged: usize,
    /// Bytes of audio freed.
    pub bytes_freed: u64,
    /// Files left behind by an earlier, interrupted sweep and deleted now.
    pub leftovers: usize,
    /// Files that could not be deleted (the row is marked; the next sweep tries again).
    pub failed: Vec<(PathBuf, String)>,
}

/// Deletes the audio of every recording created more than `days` days before `now` (Unix
/// seconds) that may go. `days == 0` does nothing.
pub async fn sweep(
    store: &Store,
    root: &RecordingsRoot,
    days: u32,
    now: i64,
) -> Result<SweepReport, StoreError> {
    let mut report = SweepReport::default();
    if days == 0 {
        return Ok(report);
    }
    let cutoff = now - i64::from(days) * 86_400;
    for (_, stored) in store
        .read(move |c| recently_purged(c, now - LEFTOVER_WINDOW_SECONDS))
        .await?
    {
        let path = root.resolve(&stored);
        if tokio::fs::try_exists(&path).await.unwrap_or(false)
            && remove(&path, &mut report).await.is_some()
        {
            report.leftovers += 1;
        }
    }
    loop {
        let batch = store.read(move |c| expired(c, cutoff, BATCH)).await?;
        if batch.is_empty() {
            break;
        }
        let marked = {
            let batch = batch.clone();
            store
                .write(move |tx| {
                    let mut marked = Vec::with_capacity(batch.len());
                    for rec in &batch {
                        if mark_purged(tx, rec, days, now)? {
                            marked.push(rec.path.clone());
                        }
                    }
                    Ok(marked)
                })
                .await?
        };
        for stored in &marked {
            let path = root.resolve(stored);
            report.bytes_freed += remove(&path, &mut report).await.unwrap_or(0);
            report.purged += 1;
        }
        if (batch.len() as i64) < BATCH {
            break;
        }
    }
    Ok(report)
}

/// Removes one file; returns its size, or `None` if it could not be removed (recorded in the
/// report). A file that is already gone counts as removed.
async fn remove(path: &Path, report: &mut SweepReport) -> Option<u64> {
    let size = tokio::fs::metadata(path)
        .await
        .map(|m| m.len())
        .unwrap_or(0);
    match tokio::fs::remove_file(path).await {
        Ok(()) => Some(size),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(0),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "retention: cannot delete recording");
            report.failed.push((path.to_path_buf(), e.to_string()));
            None
        }
    }
}

/// Sweeps at start-up and then every `every` until `stop` changes.
pub async fn worker(
    store: Store,
    root: RecordingsRoot,
    clock: Clock,
    days: u32,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    if days == 0 {
        // kept forever: nothing to sweep, but a worker runs until shutdown
        let _ = stop.wait_for(|s| *s).await;
        return;
    }
    loop {
        match sweep(&store, &root, days, clock.now().timestamp()).await {
            Ok(r) if r.purged > 0 || r.leftovers > 0 || !r.failed.is_empty() => {
                tracing::info!(
                    purged = r.purged,
                    mib_freed = r.bytes_freed / (1 << 20),
                    leftovers = r.leftovers,
                    failed = r.failed.len(),
                    "retention: deleted the audio of {} recording(s) older than {days} days",
                    r.purged
                );
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "retention sweep failed; retrying next interval"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    /// With retention off the worker has nothing to do but must not end (a worker that ends
    /// while the server runs is taken for dead): a simulated week passes, it is still there,
    /// and the stop signal ends it.
    #[tokio::test(start_paused = true)]
    async fn with_retention_off_the_worker_waits_for_the_stop_signal() {
        let (dir, store, recordings) = seeded().await;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(worker(
            store,
            RecordingsRoot::new(&recordings),
            Clock::default(),
            0,
            Duration::from_secs(60),
            stopped,
        ));
        tokio::time::advance(Duration::from_secs(7 * DAY as u64)).await;
        tokio::task::yield_now().await;
        assert!(
            !task.is_finished(),
            "the worker ended with nothing to stop it"
        );
        stop.send_replace(true);
        task.await.expect("the worker ends cleanly when told");
        // and it touched nothing
        assert!(recordings.join("old/c1.wav").exists());
        drop(dir);
    }

    /// A store with two ended calls recorded at day 0 and day 20, files in `recordings/`.
    async fn seeded() -> (tempfile::TempDir, Store, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let recordings = dir.path().join("recordings");
        std::fs::create_dir_all(recordings.join("old")).expect("mkdir");
        std::fs::write(recordings.join("old/c1.wav"), vec![0u8; 4096]).expect("write");
        std::fs::write(recordings.join("old/c2.wav"), vec![0u8; 100]).expect("write");
        let store = Store::open(&dir.path().join("t.db"), 0).expect("open");
        store
            .write(|tx| {
                tx.execute_batch(
                    "INSERT INTO calls (id, direction, state, started_at, ended_at)
                       VALUES ('c1', 'inbound', 'ended', 0, 10), ('c2', 'inbound', 'ended', 1728000, 1728010);
                     INSERT INTO recordings (id, call_id, path, status, sha256, duration_ms, created_at)
                       VALUES (1, 'c1', 'old/c1.wav', 'complete', 'aa', 10000, 0),
                              (2, 'c2', 'old/c2.wav', 'repaired', 'bb', 10000, 1728000);",
                )?;
                Ok(())
            })
            .await
            .expect("seed");
        (dir, store, recordings)
    }

    #[tokio::test]
    async fn old_audio_is_deleted_once_and_the_row_and_checksum_stay() {
        let (_dir, store, recordings) = seeded().await;
        let now = 31 * DAY;
        assert_eq!(
            sweep(&store, &RecordingsRoot::new(&recordings), 0, now)
                .await
                .expect("sweep"),
            SweepReport::default(),
            "0 days keeps everything"
        );
        let r = sweep(&store, &RecordingsRoot::new(&recordings), 30, now)
            .await
            .expect("sweep");
        assert_eq!(
            (r.purged, r.bytes_freed, r.leftovers),
            (1, 4096, 0),
            "{r:?}"
        );
        assert!(!recordings.join("old/c1.wav").exists());
        assert!(recordings.join("old/c2.wav").exists(), "11 days old: kept");
        let sha: String = store
            .read(|c| {
                Ok(
                    c.query_row("SELECT sha256 FROM recordings WHERE id = 1", [], |r| {
                        r.get(0)
                    })?,
                )
            })
            .await
            .expect("row");
        assert_eq!(sha, "aa");
        let again = sweep(&store, &RecordingsRoot::new(&recordings), 30, now + 60)
            .await
            .expect("sweep");
        assert_eq!(again, SweepReport::default(), "nothing twice");
    }

    #[tokio::test]
    async fn a_file_left_by_an_interrupted_sweep_is_deleted_by_the_next() {
        let (_dir, store, recordings) = seeded().await;
        // as if the server died after marking, before deleting
        store
            .write(|tx| {
                tx.execute(
                    "UPDATE recordings SET purged_at = ?1 WHERE id = 1",
                    [30 * DAY],
                )?;
                Ok(())
            })
            .await
            .expect("mark");
        let r = sweep(&store, &RecordingsRoot::new(&recordings), 30, 31 * DAY)
            .await
            .expect("sweep");
        assert_eq!((r.purged, r.leftovers), (0, 1), "{r:?}");
        assert!(!recordings.join("old/c1.wav").exists());
    }
}
