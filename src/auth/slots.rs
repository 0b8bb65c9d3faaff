//! A bound on CPU-heavy work run on the blocking pool: argon2id password verification costs
//! ~19 MiB and tens of milliseconds of a core, so a login flood left unbounded would take the
//! cores the media threads need. Callers beyond the bound wait their turn.

use std::sync::Arc;

use tokio::sync::Semaphore;

/// At most `n` closures run at once; cheap to clone.
#[derive(Debug, Clone)]
pub struct Slots(Arc<Semaphore>);

/// The blocking task was cancelled or panicked.
#[derive(Debug, thiserror::Error)]
#[error("blocking work failed: {0}")]
pub struct SlotError(String);

impl Slots {
    pub fn new(n: usize) -> Slots {
        Slots(Arc::new(Semaphore::new(n)))
    }

    /// Runs `work` on the blocking pool once a slot is free; the slot is held until it ends.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, SlotError> {
        let permit = self
            .0
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| SlotError(e.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let _held = permit;
            work()
        })
        .await
        .map_err(|e| SlotError(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Barrier, Mutex};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_than_n_run_at_once() {
        let slots = Slots::new(2);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(Mutex::new(0));
        // the first two meet at the barrier, so both run at once before either finishes
        let both = Arc::new(Barrier::new(2));
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let (slots, running, most, both) =
                    (slots.clone(), running.clone(), most.clone(), both.clone());
                tokio::spawn(async move {
                    slots
                        .run(move || {
                            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                            let mut m = most.lock().unwrap();
                            *m = (*m).max(now);
                            drop(m);
                            if i < 2 {
                                both.wait();
                            }
                            running.fetch_sub(1, Ordering::SeqCst);
                        })
                        .await
                        .unwrap()
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*most.lock().unwrap(), 2);
    }
}
