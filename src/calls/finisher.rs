//! Closing finished recordings on one background thread of low priority.
//!
//! Closing a recording rewrites its header and hashes the whole file (SHA-256, stored so a
//! later change to the file shows): for a 30-minute call, 57 MB read and hashed. On a runtime
//! or blocking-pool thread of normal priority that work competes for the CPU with the 20 ms
//! media clocks of the calls still running; `bench calls` saw bridged frames go missing in the
//! calls still up while the others were being hung up and their files hashed. Here it waits
//! for a CPU the media does not need. One thread, because closes are rare and their order
//! does not matter; the thread starts with the first close.

use std::sync::mpsc;
use std::sync::OnceLock;

use tokio::sync::oneshot;

use super::CallsError;
use crate::media::recorder::{RecordingInfo, StereoRecorder};
use crate::media::MediaError;

/// Nice value of the finisher thread: below the media, above nothing else in particular.
const FINISHER_NICE: i32 = 10;

type Job = (
    StereoRecorder,
    oneshot::Sender<Result<RecordingInfo, MediaError>>,
);

static FINISHER: OnceLock<Option<mpsc::Sender<Job>>> = OnceLock::new();

/// Closes `recorder` on the finisher thread: its length and SHA-256 once the file is final.
pub(super) async fn finish(recorder: StereoRecorder) -> Result<RecordingInfo, CallsError> {
    let (reply, done) = oneshot::channel();
    let job = (recorder, reply);
    let job = match FINISHER.get_or_init(start) {
        Some(jobs) => match jobs.send(job) {
            Ok(()) => None,
            Err(mpsc::SendError(job)) => Some(job),
        },
        None => Some(job),
    };
    let closed = match job {
        // no finisher thread (it could not start): close it on the blocking pool instead
        Some((recorder, _)) => tokio::task::spawn_blocking(move || recorder.finalize())
            .await
            .map_err(|e| e.to_string()),
        None => done
            .await
            .map_err(|_| "the recording finisher thread stopped".to_owned()),
    };
    closed
        .map_err(|why| CallsError::Io {
            what: "finalizing the recording".into(),
            source: std::io::Error::other(why),
        })?
        .map_err(CallsError::from)
}

fn start() -> Option<mpsc::Sender<Job>> {
    let (jobs, rx) = mpsc::channel::<Job>();
    let spawned = std::thread::Builder::new()
        .name("suifang-finish".into())
        .spawn(move || {
            if !crate::thread_priority::lower_this_thread(FINISHER_NICE) {
                tracing::warn!("could not lower the recording finisher's priority");
            }
            while let Ok((recorder, reply)) = rx.recv() {
                // the media task may have gone; the file is closed all the same
                let _ = reply.send(recorder.finalize());
            }
        });
    match spawned {
        Ok(_) => Some(jobs),
        Err(e) => {
            tracing::warn!(error = %e, "cannot start the recording finisher thread");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn recordings_are_closed_with_their_checksum_off_the_runtime() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut closes = Vec::new();
        for i in 0..3 {
            let path = dir.path().join(format!("{i}.wav"));
            let mut rec = StereoRecorder::create(&path, 8000).expect("create");
            rec.write(&[i as i16; 800], &[1; 800]).expect("write");
            closes.push((path, tokio::spawn(finish(rec))));
        }
        for (path, close) in closes {
            let info = close.await.expect("join").expect("finish");
            assert_eq!(info.frames, 800);
            assert_eq!(
                info.sha256,
                crate::media::recorder::file_sha256(&path).expect("hash")
            );
            assert_eq!(hound::WavReader::open(&path).expect("wav").duration(), 800);
        }
    }
}
