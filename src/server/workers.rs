//! The background tasks `serve` started, by name, and the one thing the server needs to know
//! about them: which of them ended. A worker ends when the stop signal says so; one that ends
//! before (it returned or panicked while the server was running) is a dead worker — a call
//! center that panicked means no calls — so it is logged at once, shutdown begins, and the
//! process exits with an error naming it (a supervisor such as systemd restarts it; the
//! start-up recovery closes what it left open). Issue 16: an ignored join result once hid a
//! dead worker until the next restart.

use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// What became of a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// Stopped when told to.
    AsAsked,
    /// Returned while the server was still running.
    Early,
    /// Panicked (before or during shutdown).
    Panicked(String),
}

/// The workers, each watched from the moment it is added.
pub struct Workers {
    set: JoinSet<(&'static str, Ended)>,
    stop: watch::Receiver<bool>,
    died: watch::Sender<Option<&'static str>>,
}

impl Workers {
    /// Workers that are told to stop through `stop`.
    pub fn new(stop: watch::Receiver<bool>) -> Workers {
        Workers {
            set: JoinSet::new(),
            stop,
            died: watch::channel(None).0,
        }
    }

    /// Resolves with the name of the first worker that ends before the stop signal.
    pub fn first_death(&self) -> impl std::future::Future<Output = &'static str> + Send + 'static {
        let mut died = self.died.subscribe();
        async move {
            loop {
                if let Some(name) = *died.borrow_and_update() {
                    return name;
                }
                if died.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        }
    }

    pub fn add(&mut self, name: &'static str, handle: Option<JoinHandle<()>>) {
        let Some(handle) = handle else { return };
        let stop = self.stop.clone();
        let died = self.died.clone();
        self.set.spawn(async move {
            let ended = match handle.await {
                Ok(()) if *stop.borrow() => Ended::AsAsked,
                Ok(()) => Ended::Early,
                Err(e) if e.is_panic() => Ended::Panicked(e.to_string()),
                // cancelled: only our own abort does that, and we never abort
                Err(_) => Ended::AsAsked,
            };
            if ended != Ended::AsAsked && !*stop.borrow() {
                tracing::error!(
                    worker = name,
                    ?ended,
                    "a background worker died while the server was running; shutting down"
                );
                died.send_if_modified(|first| {
                    let unset = first.is_none();
                    if unset {
                        *first = Some(name);
                    }
                    unset
                });
            }
            (name, ended)
        });
    }

    /// Waits for every worker; returns the names of those that died (ended early or panicked).
    pub async fn join(mut self) -> Vec<&'static str> {
        let mut failed = Vec::new();
        while let Some(joined) = self.set.join_next().await {
            match joined {
                Ok((_, Ended::AsAsked)) => {}
                Ok((name, ended)) => {
                    if let Ended::Panicked(e) = &ended {
                        tracing::error!(worker = name, "a background worker panicked: {e}");
                    }
                    failed.push(name);
                }
                Err(e) => tracing::error!("a worker's watcher failed: {e}"),
            }
        }
        failed.sort_unstable();
        failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_worker_that_panicked_is_named_at_shutdown() {
        let (stop_tx, stop) = watch::channel(false);
        let mut workers = Workers::new(stop.clone());
        let mut fine_stop = stop.clone();
        workers.add(
            "fine",
            Some(tokio::spawn(async move {
                let _ = fine_stop.changed().await;
            })),
        );
        workers.add("absent", None);
        workers.add("boom", Some(tokio::spawn(async { panic!("worker died") })));
        // the panic is noticed while the server runs, before anyone asks it to stop
        assert_eq!(workers.first_death().await, "boom");
        stop_tx.send_replace(true);
        assert_eq!(workers.join().await, ["boom"]);
    }

    #[tokio::test]
    async fn a_worker_that_returns_early_is_a_death_and_one_that_stops_when_told_is_not() {
        let (stop_tx, stop) = watch::channel(false);
        let mut workers = Workers::new(stop.clone());
        let mut told = stop.clone();
        workers.add(
            "obedient",
            Some(tokio::spawn(async move {
                let _ = told.changed().await;
            })),
        );
        workers.add("quitter", Some(tokio::spawn(async {})));
        assert_eq!(workers.first_death().await, "quitter");
        stop_tx.send_replace(true);
        assert_eq!(workers.join().await, ["quitter"]);
    }

    #[tokio::test]
    async fn workers_that_stop_when_told_are_no_failure() {
        let (stop_tx, stop) = watch::channel(false);
        let mut workers = Workers::new(stop.clone());
        for name in ["a", "b"] {
            let mut told = stop.clone();
            workers.add(
                name,
                Some(tokio::spawn(async move {
                    let _ = told.changed().await;
                })),
            );
        }
        let death = workers.first_death();
        stop_tx.send_replace(true);
        assert!(workers.join().await.is_empty());
        // nobody died: the death future never resolves
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(50), death)
                .await
                .is_err()
        );
    }
}
