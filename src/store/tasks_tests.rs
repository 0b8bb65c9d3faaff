//! Queue behaviour over a real SQLite file: order, windows, calling hours, leases, dispositions
//! and concurrent claims.

use chrono::{DateTime, Duration, TimeZone, Utc};
use rusqlite::params;

use super::*;
use crate::followup::calling_hours::CallingHours;
use crate::store::{temp_store, Store};

fn locale() -> Locale {
    Locale {
        tz: chrono_tz::Asia::Shanghai,
        hours: CallingHours::parse("08:30-20:00").unwrap(),
    }
}

fn sh(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(2026, 3, d, h, m, 0)
        .unwrap()
        .with_timezone(&Utc)
}

struct T {
    priority: i64,
    due: DateTime<Utc>,
    window: (DateTime<Utc>, DateTime<Utc>),
    attempts: i64,
    dnc: bool,
}

impl Default for T {
    fn default() -> Self {
        T {
            priority: 0,
            due: sh(5, 0, 0),
            window: (sh(4, 0, 0), sh(8, 0, 0)),
            attempts: 0,
            dnc: false,
        }
    }
}

/// Inserts users 1..=users (nurses) and one patient per task; returns task ids in input order.
fn setup(store: &Store, users: i64, tasks: Vec<T>) -> Vec<i64> {
    store
        .write_blocking(move |tx| {
            for u in 1..=users {
                tx.execute("INSERT INTO users (id, username, display_name, role, password_hash, created_at) VALUES (?1, ?2, 'n', 'nurse', 'x', 0)", params![u, format!("n{u}")])?;
            }
            let mut ids = Vec::new();
            for (i, t) in tasks.iter().enumerate() {
                tx.execute("INSERT INTO patients (mrn, name, phone, do_not_call, created_at, updated_at) VALUES (?1, 'p', '+8613800000000', ?2, 0, 0)", params![format!("M{i}"), t.dnc])?;
                let pid = tx.last_insert_rowid();
                tx.execute(
                    "INSERT INTO followup_tasks (patient_id, step_name, priority, due_at, window_start_at, window_end_at, attempts_total, created_at, updated_at)
                     VALUES (?1, 's', ?2, ?3, ?4, ?5, ?6, 0, 0)",
                    params![pid, t.priority, t.due.timestamp(), t.window.0.timestamp(), t.window.1.timestamp(), t.attempts],
                )?;
                ids.push(tx.last_insert_rowid());
            }
            Ok(ids)
        })
        .unwrap()
}

fn build(store: &Store, now: DateTime<Utc>) -> QueueBuild {
    store
        .write_blocking(move |tx| build_queue(tx, now))
        .unwrap()
}

fn order(store: &Store, now: DateTime<Utc>) -> Vec<i64> {
    store
        .read_blocking(|c| list_queue(c, now, 500, 0))
        .unwrap()
        .0
        .iter()
        .map(|t| t.id)
        .collect()
}

fn claim(store: &Store, user: i64, now: DateTime<Utc>) -> Result<TaskView, NoClaim> {
    store
        .write_blocking(move |tx| {
            claim_next(tx, user, "nurse", &locale(), Duration::minutes(10), now)
        })
        .unwrap()
}

#[test]
fn order_is_priority_then_days_overdue_then_attempts() {
    let (_d, store) = temp_store();
    let now = sh(5, 10, 0);
    let ids = setup(
        &store,
        1,
        vec![
            T {
                priority: 0,
                due: sh(5, 0, 0),
                ..T::default()
            }, // a: low prio
            T {
                priority: 10,
                due: sh(5, 0, 0),
                attempts: 2,
                ..T::default()
            }, // b
            T {
                priority: 10,
                due: sh(5, 0, 0),
                attempts: 0,
                ..T::default()
            }, // c: fewer attempts than b
            T {
                priority: 10,
                due: sh(3, 0, 0),
                attempts: 3,
                window: (sh(3, 0, 0), sh(8, 0, 0)),
                ..T::default()
            }, // d: 2 days overdue
        ],
    );
    build(&store, now);
    assert_eq!(order(&store, now), vec![ids[3], ids[2], ids[1], ids[0]]);
}

#[test]
fn only_due_tasks_inside_their_window_and_callable_patients_are_queued() {
    let (_d, store) = temp_store();
    let now = sh(5, 10, 0);
    let ids = setup(
        &store,
        1,
        vec![
            T::default(), // in
            T {
                due: sh(6, 0, 0),
                window: (sh(6, 0, 0), sh(8, 0, 0)),
                ..T::default()
            }, // not yet due
            T {
                due: sh(1, 0, 0),
                window: (sh(1, 0, 0), sh(2, 0, 0)),
                ..T::default()
            }, // window closed → missed
            T {
                dnc: true,
                ..T::default()
            }, // do not call
            T {
                due: sh(5, 9, 59),
                window: (sh(5, 0, 0), sh(5, 10, 0)),
                ..T::default()
            }, // window ends exactly now: in
        ],
    );
    let b = build(&store, now);
    assert_eq!(b.newly_missed, 1);
    assert_eq!(order(&store, now), vec![ids[0], ids[4]]);
    let missed = store
        .read_blocking(move |c| get_task(c, ids[2], now))
        .unwrap();
    assert_eq!(
        (missed.status.as_str(), missed.flagged.as_deref()),
        ("missed", Some("missed"))
    );
}

#[test]
fn claims_respect_calling_hours_at_local_edges() {
    let (_d, store) = temp_store();
    setup(
        &store,
        1,
        vec![T {
            window: (sh(4, 0, 0), sh(9, 0, 0)),
            ..T::default()
        }],
    );
    build(&store, sh(5, 8, 0));
    // 08:29 local is 00:29 UTC: the UTC date has just turned, the local hours are what count
    assert_eq!(
        claim(&store, 1, sh(5, 8, 29)).unwrap_err(),
        NoClaim::OutsideCallingHours
    );
    assert!(claim(&store, 1, sh(5, 8, 30)).is_ok());
    assert_eq!(
        claim(&store, 1, sh(5, 20, 0)).unwrap_err(),
        NoClaim::OutsideCallingHours
    );
    // local midnight (16:00 UTC the previous day)
    assert_eq!(
        claim(&store, 1, sh(6, 0, 0)).unwrap_err(),
        NoClaim::OutsideCallingHours
    );
}

#[test]
fn a_lease_expires_and_the_task_returns_to_the_queue() {
    let (_d, store) = temp_store();
    let ids = setup(&store, 2, vec![T::default()]);
    let now = sh(5, 10, 0);
    build(&store, now);
    assert_eq!(claim(&store, 1, now).unwrap().id, ids[0]);
    // claiming again returns the same task and renews the lease (to +11 min)
    assert_eq!(
        claim(&store, 1, now + Duration::minutes(1)).unwrap().id,
        ids[0],
        "same nurse gets the same task back"
    );
    assert_eq!(
        claim(&store, 2, now + Duration::minutes(10)).unwrap_err(),
        NoClaim::QueueEmpty
    );
    assert_eq!(
        claim(&store, 2, now + Duration::minutes(11)).unwrap().id,
        ids[0],
        "expired lease is free"
    );
    // the first nurse no longer holds it
    let id = ids[0];
    let r = store.write_blocking(move |tx| release(tx, id, 1, now + Duration::minutes(11)));
    assert!(matches!(r, Err(StoreError::Conflict(_))));
    // renewing keeps it
    store
        .write_blocking(move |tx| {
            renew_lease(
                tx,
                id,
                2,
                Duration::minutes(10),
                now + Duration::minutes(19),
            )
        })
        .unwrap();
    assert_eq!(
        claim(&store, 1, now + Duration::minutes(25)).unwrap_err(),
        NoClaim::QueueEmpty
    );
}

fn dispose(store: &Store, task: i64, user: i64, d: Disposition, now: DateTime<Utc>) -> TaskView {
    store
        .write_blocking(move |tx| {
            let input = DispositionInput {
                task_id: task,
                user_id: user,
                disposition: d,
                callback_at: None,
                note: None,
                call_id: None,
            };
            record_disposition(tx, &input, &RetryPolicy::default(), &locale(), now)
                .map_err(StoreError::from)
        })
        .unwrap()
}

#[test]
fn dispositions_drive_status_and_retry_in_the_database() {
    let (_d, store) = temp_store();
    let ids = setup(&store, 1, vec![T::default(), T::default(), T::default()]);
    let now = sh(5, 10, 0);
    build(&store, now);
    let first = claim(&store, 1, now).unwrap();
    let after = dispose(&store, first.id, 1, Disposition::NoAnswer, now);
    assert_eq!(
        (
            after.status.as_str(),
            after.attempts_total,
            after.lease_owner
        ),
        ("pending", 1, None)
    );
    assert_eq!(after.next_attempt_at, now + Duration::hours(2));
    // not claimable before its retry time: the next claim gets another task
    let second = claim(&store, 1, now + Duration::minutes(1)).unwrap();
    assert_ne!(second.id, first.id);
    let done = dispose(
        &store,
        second.id,
        1,
        Disposition::Completed,
        now + Duration::minutes(2),
    );
    assert_eq!(done.status, "completed");
    let third = claim(&store, 1, now + Duration::minutes(3)).unwrap();
    let gone = dispose(
        &store,
        third.id,
        1,
        Disposition::Deceased,
        now + Duration::minutes(4),
    );
    assert_eq!(gone.status, "cancelled");
    assert_eq!(
        claim(&store, 1, now + Duration::hours(2)).unwrap().id,
        first.id,
        "retry comes back after 2 h"
    );
    // a disposition without holding the lease is refused
    let other = ids[1];
    let r = store.write_blocking(move |tx| {
        let input = DispositionInput {
            task_id: other,
            user_id: 1,
            disposition: Disposition::Completed,
            callback_at: None,
            note: None,
            call_id: None,
        };
        record_disposition(tx, &input, &RetryPolicy::default(), &locale(), now)
            .map_err(StoreError::from)
    });
    assert!(matches!(r, Err(StoreError::Conflict(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_claimers_claim_each_task_exactly_once() {
    let (_d, store) = temp_store();
    let tasks = (0..1000).map(|_| T::default()).collect();
    let s = store.clone();
    tokio::task::spawn_blocking(move || setup(&s, 100, tasks))
        .await
        .unwrap();
    let now = sh(5, 10, 0);
    store.write(move |tx| build_queue(tx, now)).await.unwrap();
    let mut handles = Vec::new();
    for user in 1..=100i64 {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let claimed = store
                    .write(move |tx| {
                        claim_next(tx, user, "nurse", &locale(), Duration::minutes(10), now)
                    })
                    .await
                    .unwrap();
                let Ok(task) = claimed else { break };
                mine.push(task.id);
                // finish it so the next claim takes a new one
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
                        record_disposition(tx, &input, &RetryPolicy::default(), &locale(), now)
                            .map_err(|_| StoreError::Closed)
                    })
                    .await
                    .unwrap();
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap());
    }
    let total = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(
        (total, all.len()),
        (1000, 1000),
        "every task claimed exactly once"
    );
}

/// Issue 20 item 8: a step's `window_before_days` lets the task be worked before its day. It is
/// queued once its window opens, after the due tasks of the same priority, and not before.
#[test]
fn a_task_is_queued_from_its_window_start_not_only_from_its_due_day() {
    let (_d, store) = temp_store();
    let ids = setup(
        &store,
        2,
        vec![
            T {
                due: sh(6, 0, 0),
                window: (sh(5, 0, 0), sh(8, 0, 0)),
                ..T::default()
            }, // due tomorrow, window open since today
            T::default(), // due today
        ],
    );
    build(&store, sh(4, 10, 0));
    assert_eq!(
        order(&store, sh(4, 10, 0)),
        vec![ids[1]],
        "before its window: not queued"
    );
    let now = sh(5, 10, 0);
    build(&store, now);
    assert_eq!(
        order(&store, now),
        vec![ids[1], ids[0]],
        "due first, then early"
    );
    assert_eq!(claim(&store, 1, now).unwrap().id, ids[1]);
    let early = claim(&store, 2, now).unwrap();
    assert_eq!(early.id, ids[0], "the early task can be claimed and worked");
    assert_eq!(early.days_overdue, 0);
}

/// Issue 20 item 7: a call-back the patient asked for is offered first to the nurse who took
/// the request: when it falls due she gets it before higher-ranked tasks, other nurses do not
/// get it during her turn, and after [`CALLBACK_FIRST_OFFER`] anyone may.
#[test]
fn a_due_call_back_goes_first_to_the_nurse_who_took_the_request() {
    let (_d, store) = temp_store();
    let ids = setup(
        &store,
        2,
        vec![
            T::default(),
            T {
                priority: 50,
                ..T::default()
            },
            T {
                priority: 40,
                ..T::default()
            },
        ],
    );
    let now = sh(5, 10, 0);
    build(&store, now);
    // nurse 1 gets the top task (priority 50); the patient asks to be called at 14:00
    let first = claim(&store, 1, now).unwrap();
    assert_eq!(first.id, ids[1]);
    let at = sh(5, 14, 0);
    let task = first.id;
    store
        .write_blocking(move |tx| {
            let input = DispositionInput {
                task_id: task,
                user_id: 1,
                disposition: Disposition::CallbackRequested,
                callback_at: Some(at),
                note: None,
                call_id: None,
            };
            record_disposition(tx, &input, &RetryPolicy::default(), &locale(), now)
                .map_err(StoreError::from)
        })
        .unwrap();
    build(&store, at);
    // her colleague does not get it during her turn, though it ranks first
    let other = claim(&store, 2, at).unwrap();
    assert_eq!(
        other.id, ids[2],
        "nurse 2 gets the next task, not the call-back"
    );
    // nurse 1 gets it before the rest of her queue
    let mine = claim(&store, 1, at).unwrap();
    assert_eq!(
        mine.id, ids[1],
        "the call-back goes to the nurse who took it"
    );
    // released at once: still hers while her turn lasts, anyone's after it
    store
        .write_blocking(move |tx| release(tx, task, 1, at))
        .unwrap();
    let later = at + CALLBACK_FIRST_OFFER + Duration::minutes(1);
    build(&store, later);
    assert_eq!(
        claim(&store, 2, later).unwrap().id,
        ids[1],
        "after her turn"
    );
}
