//! SQLite storage: one writer thread that owns the only write connection (so writes are
//! serialised without lock contention and a claim is naturally atomic), and a small pool of
//! read connections used from `spawn_blocking`. No SQLite call ever runs on a tokio worker.
//!
//! The writer commits in groups: it takes every job waiting (up to [`MAX_BATCH`]), runs each in
//! its own savepoint inside one transaction, commits once, and only then answers the callers.
//! Under a burst (fifty nurses claiming at 08:30) this pays one commit per batch instead of one
//! per request, while each job still succeeds or fails on its own.

mod error;
pub mod migrate;

pub mod accounts;
pub mod admissions;
pub mod agents;
pub mod api_tokens;
pub mod audit;
pub mod audit_anchor;
pub mod calls;
pub mod care_teams;
pub mod departments;
pub mod escalations;
pub mod fhir;
pub mod hl7;
pub mod hl7_admit;
pub mod hl7_outbox;
pub mod interfaces;
pub mod labs;
pub mod links;
pub mod notes;
pub mod patient_report;
pub mod patients;
pub mod phi_access;
pub mod recording_files;
pub mod recordings;
pub mod reports;
pub mod retention;
pub mod review_agenda;
pub mod reviews;
pub mod robot;
pub mod sms;
pub mod tags;
pub mod tasks;
pub mod transcript_search;
pub mod transcripts;
pub mod users;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction};
use tokio::sync::{mpsc, oneshot, Semaphore};

pub use error::StoreError;

/// Tells a job's caller the outcome once the batch's commit is known.
type Deliver = Box<dyn FnOnce(Result<(), String>) + Send>;

/// A unit of work for the writer thread.
trait WriteJob: Send {
    /// Runs inside the batch transaction (in its own savepoint).
    fn run(self: Box<Self>, tx: &Transaction) -> Deliver;
    /// The batch could not even begin.
    fn abort(self: Box<Self>, error: StoreError);
}

struct Job<T, F> {
    f: F,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> WriteJob for Job<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Transaction) -> Result<T, StoreError> + Send,
{
    fn run(self: Box<Self>, tx: &Transaction) -> Deliver {
        let Job { f, reply } = *self;
        let result = run_in_savepoint(tx, f);
        Box::new(move |commit: Result<(), String>| {
            let outcome = match (result, commit) {
                (Ok(v), Ok(())) => Ok(v),
                (Ok(_), Err(e)) => Err(StoreError::Open {
                    path: "commit".into(),
                    message: e,
                }),
                (Err(e), _) => Err(e),
            };
            let _ = reply.send(outcome);
        })
    }

    fn abort(self: Box<Self>, error: StoreError) {
        let _ = self.reply.send(Err(error));
    }
}

/// Runs `f` in a savepoint, so a failing job undoes only its own changes. A panic in `f` is a
/// bug, but must not take the writer thread (and so every later write) down with it.
fn run_in_savepoint<T, F>(tx: &Transaction, f: F) -> Result<T, StoreError>
where
    F: FnOnce(&Transaction) -> Result<T, StoreError>,
{
    tx.execute_batch("SAVEPOINT job")?;
    let result =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(tx))).unwrap_or_else(|_| {
            Err(StoreError::Invalid(
                "internal error: a storage job panicked".into(),
            ))
        });
    match &result {
        Ok(_) => tx.execute_batch("RELEASE job")?,
        Err(_) => tx.execute_batch("ROLLBACK TO job; RELEASE job")?,
    }
    result
}

/// Most jobs committed together.
const MAX_BATCH: usize = 64;

/// How many read connections are kept; reads beyond that wait for one.
const READERS: usize = 4;
/// Writes queued beyond this wait (back-pressure instead of an unbounded queue).
const WRITE_QUEUE: usize = 1024;

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: mpsc::Sender<Box<dyn WriteJob>>,
    readers: Mutex<Vec<Connection>>,
    reader_slots: Semaphore,
}

fn open_connection(path: &Path, flags: OpenFlags) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(path, flags).map_err(|e| StoreError::Open {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.set_prepared_statement_cache_capacity(128);
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")?;
    Ok(conn)
}

impl Store {
    /// Opens (creating if needed) the database, applies pending migrations and starts the
    /// writer thread. `now` stamps the migration rows.
    pub fn open(path: &Path, now: i64) -> Result<Store, StoreError> {
        if let Some(parent) = path.parent() {
            crate::private_fs::create_dir_all(parent).map_err(|e| StoreError::Open {
                path: parent.display().to_string(),
                message: e.to_string(),
            })?;
        }
        // patients, numbers and the audit log: readable by the server's account only
        crate::private_fs::ensure_file(path).map_err(|e| StoreError::Open {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let mut writer = open_connection(path, OpenFlags::default())?;
        // WAL lets readers proceed while the writer commits.
        writer.pragma_update(None, "journal_mode", "WAL")?;
        // A commit is answered (an answer saved, an HL7 message ACKed) only once it is on disk:
        // in WAL mode `NORMAL` keeps a crash of the process safe but may lose the last commits
        // to a power cut. The writer's group commit pays one fsync per batch, not per job.
        writer.pragma_update(None, "synchronous", "FULL")?;
        let applied = migrate::migrate(&mut writer, now)?;
        if !applied.is_empty() {
            tracing::info!(?applied, "applied database migrations");
        }
        let (tx, mut rx) = mpsc::channel::<Box<dyn WriteJob>>(WRITE_QUEUE);
        std::thread::Builder::new()
            .name("suifang-store-writer".into())
            .spawn(move || {
                while let Some(first) = rx.blocking_recv() {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                    run_batch(&mut writer, batch);
                }
            })
            .map_err(|e| StoreError::Open {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
        Ok(Store {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                writer: tx,
                readers: Mutex::new(Vec::new()),
                reader_slots: Semaphore::new(READERS),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on the writer thread inside a transaction; its changes are committed when it
    /// returns `Ok` and rolled back when it returns `Err`. The reply comes after the commit.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.inner
            .writer
            .send(Box::new(Job { f, reply }))
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Blocking form of [`Store::write`] for command-line tools (not for async code).
    pub fn write_blocking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.inner
            .writer
            .blocking_send(Box::new(Job { f, reply }))
            .map_err(|_| StoreError::Closed)?;
        answer.blocking_recv().map_err(|_| StoreError::Closed)?
    }

    /// Runs `f` on a read connection on the blocking pool.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let _slot = self
            .inner
            .reader_slots
            .acquire()
            .await
            .map_err(|_| StoreError::Closed)?;
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.read_blocking(f))
            .await
            .map_err(|_| StoreError::Closed)?
    }

    /// Blocking form of [`Store::read`].
    pub fn read_blocking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Connection) -> Result<T, StoreError>,
    {
        let pooled = self
            .inner
            .readers
            .lock()
            .map_err(|_| StoreError::Closed)?
            .pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => open_connection(
                &self.inner.path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?,
        };
        let result = f(&conn);
        if let Ok(mut pool) = self.inner.readers.lock() {
            if pool.len() < READERS {
                pool.push(conn);
            }
        }
        result
    }
}

fn run_batch(conn: &mut Connection, batch: Vec<Box<dyn WriteJob>>) {
    let tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let message = e.to_string();
            for job in batch {
                job.abort(StoreError::Open {
                    path: "begin".into(),
                    message: message.clone(),
                });
            }
            return;
        }
    };
    let deliveries: Vec<Deliver> = batch.into_iter().map(|job| job.run(&tx)).collect();
    let committed = tx.commit().map_err(|e| e.to_string());
    if let Err(e) = &committed {
        tracing::error!(error = %e, jobs = deliveries.len(), "database commit failed");
    }
    for deliver in deliveries {
        deliver(committed.clone());
    }
}

/// `query_row` that maps "no rows" to `None`.
pub(crate) fn optional<T>(result: rusqlite::Result<T>) -> Result<Option<T>, StoreError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
pub(crate) fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("t.db"), 0).expect("open store");
    (dir, store)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_writer_syncs_every_commit_to_disk() {
        let (_dir, store) = temp_store();
        let level: i64 = store
            .write(|tx| Ok(tx.query_row("PRAGMA synchronous", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(level, 2, "synchronous = FULL on the writer");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_job_in_a_batch_undoes_only_its_own_changes() {
        let (_dir, store) = temp_store();
        store
            .write(|tx| Ok(tx.execute_batch("CREATE TABLE t (v INTEGER PRIMARY KEY)")?))
            .await
            .unwrap();
        let mut handles = Vec::new();
        for v in 0..200i64 {
            let store = store.clone();
            handles.push(tokio::spawn(async move {
                store
                    .write(move |tx| {
                        tx.execute("INSERT INTO t VALUES (?1)", [v])?;
                        if v % 3 == 0 {
                            return Err(StoreError::Invalid(format!("reject {v}")));
                        }
                        Ok(v)
                    })
                    .await
            }));
        }
        let mut ok = 0;
        for h in handles {
            if h.await.unwrap().is_ok() {
                ok += 1;
            }
        }
        let rows: i64 = store
            .read(|c| Ok(c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))?))
            .await
            .unwrap();
        let rejected: i64 = store
            .read(|c| Ok(c.query_row("SELECT COUNT(*) FROM t WHERE v % 3 = 0", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!((ok, rows, rejected), (133, 133, 0));
    }

    #[test]
    fn a_panicking_job_does_not_stop_the_writer() {
        let (_dir, store) = temp_store();
        let r: Result<(), StoreError> = store.write_blocking(|_| panic!("bug"));
        assert!(r.is_err());
        assert_eq!(
            store
                .write_blocking(|tx| Ok(tx.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
                .unwrap(),
            1
        );
    }
}
