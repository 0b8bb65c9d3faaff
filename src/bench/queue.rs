//! Builds the daily queue over a large synthetic hospital and measures concurrent claims.

use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use rusqlite::params;

use super::percentile;
use crate::followup::retry::{Disposition, Locale, RetryPolicy};
use crate::store::tasks::{build_queue, claim_next, record_disposition, DispositionInput};
use crate::store::{Store, StoreError};

pub struct QueueBenchOptions {
    pub patients: u32,
    pub tasks: u32,
    pub claimers: u32,
    pub claims_per_claimer: u32,
}

/// Runs the benchmark in a temporary database and prints the figures.
pub async fn run(opts: QueueBenchOptions, locale: Locale) -> Result<(), StoreError> {
    let dir = tempfile_dir()?;
    let store = Store::open(&dir.join("bench.db"), 0)?;
    // 10:00 local: inside calling hours.
    let now = locale
        .tz
        .with_ymd_and_hms(2026, 3, 10, 10, 0, 0)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| StoreError::Invalid("bench time".into()))?;
    let t = now.timestamp();
    let started = Instant::now();
    let (patients, tasks, claimers) = (opts.patients, opts.tasks, opts.claimers);
    eprintln!("bench queue: generating {patients} patients and {tasks} tasks …");
    store
        .write(move |tx| {
            for u in 0..claimers {
                tx.execute(
                    "INSERT INTO users (username, display_name, role, password_hash, created_at) VALUES (?1, ?1, 'nurse', 'x', 0)",
                    [format!("nurse{u}")],
                )?;
            }
            let mut p = tx.prepare("INSERT INTO patients (id, mrn, name, phone, created_at, updated_at) VALUES (?1, ?2, 'P', '+8613800000000', 0, 0)")?;
            for i in 1..=patients {
                p.execute(params![i, format!("M{i}")])?;
            }
            let mut q = tx.prepare(
                "INSERT INTO followup_tasks (patient_id, step_name, script_code, priority, due_at, window_start_at, window_end_at, attempts_total, created_at, updated_at)
                 VALUES (?1, 'step', 'heart-failure', ?2, ?3, ?4, ?5, ?6, 0, 0)",
            )?;
            // Spread due dates over ±60 days so about a tenth are in today's window, like a
            // real hospital's backlog of future and past steps.
            for i in 0..tasks {
                let offset_days = i64::from(i % 121) - 60;
                let due = t + offset_days * 86_400 - 3_600;
                q.execute(params![1 + i % patients.max(1), i64::from(i % 5) * 10, due, due - 86_400, due + 3 * 86_400, i % 3])?;
            }
            Ok(())
        })
        .await?;
    eprintln!("  generated in {:.1} s", started.elapsed().as_secs_f64());

    let mut builds = Vec::new();
    let mut entries = 0;
    for _ in 0..3 {
        let start = Instant::now();
        let b = store.write(move |tx| build_queue(tx, now)).await?;
        builds.push(start.elapsed().as_secs_f64() * 1000.0);
        entries = b.entries;
    }
    builds.sort_by(f64::total_cmp);

    let policy = RetryPolicy::default();
    let mut handles = Vec::new();
    let wall = Instant::now();
    for user in 1..=i64::from(claimers) {
        let store = store.clone();
        let policy = policy.clone();
        let per = opts.claims_per_claimer;
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per as usize);
            for _ in 0..per {
                let start = Instant::now();
                let claimed = store
                    .write(move |tx| {
                        claim_next(tx, user, "nurse", &locale, Duration::minutes(10), now)
                    })
                    .await?;
                lat.push(start.elapsed().as_secs_f64() * 1000.0);
                let Ok(task) = claimed else { break };
                let policy = policy.clone();
                store
                    .write(move |tx| {
                        let input = DispositionInput {
                            task_id: task.id,
                            user_id: user,
                            disposition: Disposition::Completed,
                            callback_at: None,
                            note: None,
                            call_id: None,
                        };
                        record_disposition(tx, &input, &policy, &locale, now)
                            .map_err(StoreError::from)
                    })
                    .await?;
            }
            Ok::<_, StoreError>(lat)
        }));
    }
    let mut latencies = Vec::new();
    for h in handles {
        latencies.extend(h.await.map_err(|_| StoreError::Closed)??);
    }
    let wall = wall.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    println!(
        "suifang bench queue ({patients} patients, {tasks} tasks, {claimers} concurrent claimers)"
    );
    println!("  queue build:  {entries} entries; median {:.0} ms, best {:.0} ms, worst {:.0} ms (goal < 1000 ms)", percentile(&builds, 50.0), builds[0], builds[builds.len() - 1]);
    println!(
        "  claim:        {} claims in {:.2} s ({:.0}/s incl. disposition); p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (goal p99 < 10 ms)",
        latencies.len(),
        wall,
        latencies.len() as f64 / wall,
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or(f64::NAN)
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn tempfile_dir() -> Result<std::path::PathBuf, StoreError> {
    let dir = std::env::temp_dir().join(format!("suifang-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| StoreError::Open {
        path: dir.display().to_string(),
        message: e.to_string(),
    })?;
    Ok(dir)
}
