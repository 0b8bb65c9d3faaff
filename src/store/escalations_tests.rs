//! Escalations over a real SQLite file: de-duplication under concurrent saves, acknowledge and
//! resolve, the SLA timer across a restart, the webhook delivery log.

use chrono::{Duration, TimeZone};
use rusqlite::params;

use super::webhooks;
use super::*;
use crate::followup::escalation::{Level, Source};
use crate::followup::rules::Evidence;
use crate::followup::script::{Route, Severity};
use crate::store::Store;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0)
        .single()
        .expect("valid date")
}

/// Department, five users (ids 1..=5: duty, backup, head, supervisor, liaison) and patient 1.
fn seed(store: &Store) {
    store
        .write_blocking(|tx| {
            tx.execute(
                "INSERT INTO departments (code, name_en, name_zh) VALUES ('cardiology', 'Cardiology', '心内科')",
                [],
            )?;
            for (name, role) in [
                ("duty", "doctor"),
                ("backup", "doctor"),
                ("head", "doctor"),
                ("sup", "supervisor"),
                ("psy", "doctor"),
            ] {
                tx.execute(
                    "INSERT INTO users (username, display_name, role, password_hash, created_at)
                     VALUES (?1, ?1, ?2, 'x', 0)",
                    params![name, role],
                )?;
            }
            tx.execute(
                "INSERT INTO patients (mrn, name, phone, created_at, updated_at)
                 VALUES ('M1', '张三', '+8613800000000', 0, 0)",
                [],
            )?;
            for (slot, user) in [(DutySlot::OnDuty, 1), (DutySlot::Backup, 2), (DutySlot::Head, 3)] {
                set_duty(tx, "cardiology", slot, UserId(user), t0())?;
            }
            add_group_member(tx, false, "psychiatry_liaison", UserId(5))?;
            Ok(())
        })
        .expect("seed");
}

fn finding(rule: &str, severity: Severity, answer: &str) -> Finding {
    Finding {
        script: ScriptCode("heart-failure".into()),
        rule: RuleId(rule.into()),
        severity,
        route: Route::PatientDepartment,
        ack_sla_minutes: 15,
        advice_en: None,
        advice_zh: None,
        tags: Vec::new(),
        evidence: Evidence {
            script: ScriptCode("heart-failure".into()),
            script_version: 1,
            condition: "breathless_at_rest".into(),
            answers: vec![],
            trends: vec![answer.into()],
            excerpts: vec![],
            labs: vec![],
        },
    }
}

fn ctx() -> FindingContext {
    FindingContext {
        patient: PatientId(1),
        department: DepartmentCode("cardiology".into()),
        source: Source::Answer { call: None },
    }
}

fn record(store: &Store, f: Finding, now: DateTime<Utc>) -> Recorded {
    store
        .write_blocking(move |tx| {
            let roster = load_roster(tx)?;
            record_finding(tx, &f, &ctx(), &roster, now)
        })
        .expect("record finding")
}

#[test]
fn roster_loads_slots_supervisors_and_roles() {
    let (_dir, store) = crate::store::temp_store();
    seed(&store);
    let r = store.read_blocking(load_roster).expect("roster");
    let d = &r.departments[&DepartmentCode("cardiology".into())];
    assert_eq!(
        (d.on_duty.clone(), d.backup.clone(), d.head.clone()),
        (Some(UserId(1)), Some(UserId(2)), Some(UserId(3)))
    );
    assert_eq!(r.supervisors, vec![UserId(4)]);
    assert_eq!(r.roles["psychiatry_liaison"], vec![UserId(5)]);
}

#[test]
fn fifty_concurrent_saves_make_one_escalation() {
    let (_dir, store) = crate::store::temp_store();
    seed(&store);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(fifty_saves(store));
}

async fn fifty_saves(store: Store) {
    let mut handles = Vec::new();
    for i in 0..50 {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let f = finding("hf-rest", Severity::Urgent, &format!("save {}", i % 3));
            store
                .write(move |tx| {
                    let roster = load_roster(tx)?;
                    record_finding(tx, &f, &ctx(), &roster, t0())
                })
                .await
        }));
    }
    let mut opened = 0;
    for h in handles {
        let rec = h.await.expect("task").expect("saved");
        if rec.change == Change::Opened {
            opened += 1;
        }
    }
    assert_eq!(opened, 1);
    let rows = store
        .read(|c| for_patient(c, PatientId(1)))
        .await
        .expect("read");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].evidence.len(),
        3,
        "three distinct answers, each recorded once"
    );
    let events: i64 = store
        .read(|c| Ok(c.query_row("SELECT COUNT(*) FROM escalation_events", [], |r| r.get(0))?))
        .await
        .expect("count");
    assert_eq!(events, 3, "one opened + two updated");
}

#[test]
fn acknowledge_resolve_and_reopen_as_new() {
    let (_dir, store) = crate::store::temp_store();
    seed(&store);
    let rec = record(&store, finding("r", Severity::Urgent, "a"), t0());
    assert_eq!(rec.change, Change::Opened);
    let users: Vec<i64> = rec.notify.iter().map(|n| n.user.0).collect();
    assert_eq!(users, [1, 2]);
    let id = rec.id.clone();
    let e = store
        .write_blocking(move |tx| acknowledge(tx, id, UserId(1), t0()))
        .expect("ack");
    assert!(matches!(e.status, Status::Acknowledged { .. }));
    let id = rec.id.clone();
    let err = store.write_blocking(move |tx| acknowledge(tx, id, UserId(2), t0()));
    assert!(matches!(err, Err(StoreError::Conflict(_))));
    let id = rec.id.clone();
    let err =
        store.write_blocking(move |tx| resolve(tx, id, UserId(1), Action::BookVisit, " ", t0()));
    assert!(matches!(err, Err(StoreError::Invalid(_))));
    let id = rec.id.clone();
    store
        .write_blocking(move |tx| {
            resolve(tx, id, UserId(1), Action::BookVisit, "Clinic Monday", t0())
        })
        .expect("resolve");
    let e = store
        .read_blocking(|c| get(c, rec.id.clone()))
        .expect("get");
    assert!(matches!(
        e.status,
        Status::Resolved {
            action: Action::BookVisit,
            ..
        }
    ));
    let again = record(&store, finding("r", Severity::Urgent, "a"), t0());
    assert_eq!(again.change, Change::Opened);
    assert_ne!(again.id, rec.id);
}

#[test]
fn sla_reescalation_fires_once_per_level_across_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.db");
    {
        let store = Store::open(&path, 0).expect("open");
        seed(&store);
        record(&store, finding("r", Severity::Urgent, "a"), t0());
    } // the server stops
    let tick = |minutes: i64| -> Vec<Level> {
        // each tick is a fresh start-up over the same file, with the clock moved on
        let store = Store::open(&path, 0).expect("reopen");
        let now = t0() + Duration::minutes(minutes);
        store
            .write_blocking(move |tx| {
                let roster = load_roster(tx)?;
                run_reescalations(tx, &roster, now)
            })
            .expect("run")
            .iter()
            .map(|r| r.to)
            .collect()
    };
    assert!(tick(14).is_empty());
    assert_eq!(tick(16), [Level::Head], "urgent already reached the backup");
    assert!(tick(16).is_empty(), "same instant after restart: nothing");
    assert!(tick(30).is_empty());
    assert_eq!(tick(31), [Level::Supervisor]);
    assert!(tick(600).is_empty(), "nothing after the last level");
    let store = Store::open(&path, 0).expect("reopen");
    let kinds: Vec<String> = store
        .read_blocking(|c| {
            let mut s = c.prepare("SELECT kind FROM escalation_events ORDER BY id")?;
            let v = s.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
            Ok(v)
        })
        .expect("events");
    assert_eq!(kinds, ["opened", "reescalated", "reescalated"]);
}

#[test]
fn webhook_retries_then_dead_letters() {
    let (_dir, store) = crate::store::temp_store();
    seed(&store);
    let rec = record(&store, finding("r", Severity::High, "a"), t0());
    let (id, event_id) = (rec.id.clone(), rec.event_id.expect("event"));
    let delivery = store
        .write_blocking(move |tx| webhooks::enqueue(tx, &id, event_id, "{}", t0()))
        .expect("enqueue");
    let policy = RetryPolicy {
        max_attempts: 3,
        ..RetryPolicy::default()
    };
    let mut now = t0();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let due = store
            .read_blocking(move |c| webhooks::due(c, now, 10))
            .expect("due");
        assert_eq!(due.len(), 1);
        let d = store
            .write_blocking(move |tx| {
                webhooks::record_attempt(tx, delivery, Some(500), None, &policy, now)
            })
            .expect("attempt");
        statuses.push((d.status, d.attempts));
        now = d.next_attempt_at;
    }
    assert_eq!(
        statuses,
        [
            (webhooks::DeliveryStatus::Pending, 1),
            (webhooks::DeliveryStatus::Pending, 2),
            (webhooks::DeliveryStatus::Dead, 3)
        ]
    );
    assert!(store
        .read_blocking(move |c| webhooks::due(c, now, 10))
        .expect("due")
        .is_empty());
    let log = store.read_blocking(|c| webhooks::log(c, 10)).expect("log");
    assert_eq!(log[0].last_http_status, Some(500));
}

#[test]
fn advice_is_stored_with_the_evidence_and_returned_with_the_finding() {
    let (_dir, store) = crate::store::temp_store();
    seed(&store);
    let mut f = finding("hf-breathless-at-rest", Severity::Urgent, "yes");
    f.advice_en = Some("Sit upright; if worse, call 120 now.".into());
    f.advice_zh = Some("请保持坐位；如加重，立即拨打120。".into());
    let r = record(&store, f.clone(), t0());
    assert_eq!(r.change, Change::Opened);
    let advice = r
        .finding
        .advice
        .clone()
        .expect("the finding's advice is returned");
    assert_eq!(advice.en, "Sit upright; if worse, call 120 now.");
    assert_eq!(advice.zh, "请保持坐位；如加重，立即拨打120。");
    assert_eq!(r.finding.severity, Severity::Urgent);
    assert_eq!(r.finding.route, Route::PatientDepartment);
    // the record shows what was advised, after a reload from the database
    let e = store
        .read_blocking(move |c| get(c, r.id.clone()))
        .expect("escalation");
    assert_eq!(e.evidence[0].advice.as_ref(), Some(&advice));
    // a retried save changes nothing but still says what to tell the patient
    let again = record(&store, f, t0() + Duration::seconds(5));
    assert_eq!(again.change, Change::Unchanged);
    assert_eq!(again.finding.advice, Some(advice));
    // a rule without advice stores none
    let plain = record(&store, finding("hf-orthopnea", Severity::High, "yes"), t0());
    let e = store
        .read_blocking(move |c| get(c, plain.id.clone()))
        .expect("escalation");
    assert_eq!(e.evidence[0].advice, None);
}
