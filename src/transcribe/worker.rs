//! Transcription workers: OS threads that own the CPU-heavy whisper work, fed by async callers.
//!
//! whisper saturates every core it is given for seconds at a time, so it must never run on a
//! tokio worker (it would stall signalling and media) and should yield to the call path: each
//! worker thread lowers its own scheduling priority (`nice`). The queue is bounded, so a burst
//! of finished calls waits in the caller (the durable job table), not in memory.
//!
//! Size the pool so that `workers × threads` does not exceed the cores left to transcription:
//! ggml's threads spin while waiting for each other, and on an oversubscribed machine a
//! transcription measured here slowed from RTF 0.07 to 0.7–0.9.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};

use super::engine::Engine;
use super::transcript::{transcribe_file, TranscribeError, Transcript};

/// Pool settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerConfig {
    /// Worker threads, each running one transcription at a time.
    pub workers: usize,
    /// Jobs that may wait for a free worker before `transcribe` itself waits.
    pub queue: usize,
    /// Niceness added to each worker thread (Linux; 0 keeps the default priority).
    pub nice: i32,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            workers: 1,
            queue: 16,
            nice: 10,
        }
    }
}

struct Job {
    engine: Arc<Engine>,
    path: PathBuf,
    reply: oneshot::Sender<Result<Transcript, TranscribeError>>,
}

/// A running pool of transcription threads. Each job names the loaded model it runs with, so
/// one pool serves the default model and re-transcriptions with another.
pub struct Transcriber {
    tx: Option<mpsc::Sender<Job>>,
    threads: Vec<JoinHandle<()>>,
    engine: Option<Arc<Engine>>,
}

impl Transcriber {
    /// Starts `cfg.workers` threads (at least one) that transcribe with `engine`.
    pub fn spawn(engine: Arc<Engine>, cfg: &WorkerConfig) -> std::io::Result<Transcriber> {
        let mut pool = Transcriber::spawn_pool(cfg)?;
        pool.engine = Some(engine);
        Ok(pool)
    }

    /// Starts `cfg.workers` threads (at least one) without a default model: every job comes
    /// with its engine ([`transcribe_with`](Self::transcribe_with)).
    pub fn spawn_pool(cfg: &WorkerConfig) -> std::io::Result<Transcriber> {
        let (tx, rx) = mpsc::channel::<Job>(cfg.queue.max(1));
        let rx = Arc::new(Mutex::new(rx));
        let mut threads = Vec::new();
        for i in 0..cfg.workers.max(1) {
            let (rx, nice) = (rx.clone(), cfg.nice);
            let handle = std::thread::Builder::new()
                .name(format!("whisper-{i}"))
                .spawn(move || worker_loop(&rx, nice))?;
            threads.push(handle);
        }
        Ok(Transcriber {
            tx: Some(tx),
            threads,
            engine: None,
        })
    }

    /// Transcribes the recording at `path` on a worker thread with the pool's model. Waits
    /// (asynchronously) for room in the queue, then for the result. A bad file fails only its
    /// own job.
    pub async fn transcribe(&self, path: PathBuf) -> Result<Transcript, TranscribeError> {
        let engine = self.engine.clone().ok_or(TranscribeError::NoDefaultModel)?;
        self.transcribe_with(engine, path).await
    }

    /// Like [`transcribe`](Self::transcribe), with `engine` (e.g. another installed model).
    pub async fn transcribe_with(
        &self,
        engine: Arc<Engine>,
        path: PathBuf,
    ) -> Result<Transcript, TranscribeError> {
        let tx = self.tx.as_ref().ok_or(TranscribeError::WorkersGone)?;
        let (reply, result) = oneshot::channel();
        tx.send(Job {
            engine,
            path,
            reply,
        })
        .await
        .map_err(|_| TranscribeError::WorkersGone)?;
        result.await.map_err(|_| TranscribeError::WorkersGone)?
    }

    /// Stops taking jobs, lets the workers finish the queued ones, and joins them. Blocking:
    /// call it from `spawn_blocking` in async code.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.tx = None;
        for t in self.threads.drain(..) {
            if t.join().is_err() {
                tracing::error!("a transcription worker panicked");
            }
        }
    }
}

impl Drop for Transcriber {
    fn drop(&mut self) {
        // Closing the queue ends the workers after their current job; not joined here so that
        // dropping in async code never blocks a runtime thread.
        self.tx = None;
    }
}

fn worker_loop(rx: &Mutex<mpsc::Receiver<Job>>, nice: i32) {
    lower_priority(nice);
    loop {
        let job = {
            // A poisoned lock only means another worker panicked while waiting; the queue
            // itself is intact.
            let mut rx = rx.lock().unwrap_or_else(|e| e.into_inner());
            rx.blocking_recv()
        };
        let Some(job) = job else { return };
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            transcribe_file(&job.engine, &job.path)
        }))
        .unwrap_or_else(|_| Err(TranscribeError::Panicked(job.path.clone())));
        if let Err(e) = &result {
            tracing::warn!(path = %job.path.display(), error = %e, "transcription failed");
        }
        // The caller may have given up waiting; the result is then simply dropped.
        let _ = job.reply.send(result);
    }
}

/// Lowers the calling thread's priority, warning if the system refused.
fn lower_priority(nice: i32) {
    if !crate::thread_priority::lower_this_thread(nice) {
        tracing::warn!(nice, "could not lower the transcription thread's priority");
    }
}
