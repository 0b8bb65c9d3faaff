//! The outbox over a real SQLite file: the completion trigger queues in the completing
//! transaction (and only when switched on), a task's result carries answers, notes and flags,
//! and tries move a row as the EMR answered.

use chrono::{Duration, TimeZone, Utc};
use rusqlite::params;

use super::*;
use crate::followup::escalation::EvidenceEntry;
use crate::followup::rules::Evidence;
use crate::followup::script::{QuestionId, ScriptCode};
use crate::store::{temp_store, Store};

fn at(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, h, 0, 0).unwrap()
}

/// A patient with one pending task; returns the task id.
fn task(store: &Store) -> i64 {
    store
        .write_blocking(|tx| {
            tx.execute("INSERT INTO users (id, username, display_name, role, password_hash, created_at) VALUES (1, 'n', 'n', 'nurse', 'x', 0)", [])?;
            tx.execute("INSERT INTO patients (id, mrn, name, sex, birth_date, phone, created_at, updated_at) VALUES (5, 'MRN-5', '张三丰', 'M', '1948-03-03', '+8613800000000', 0, 0)", [])?;
            tx.execute(
                "INSERT INTO followup_tasks (patient_id, step_name, script_code, due_at, window_start_at, window_end_at, created_at, updated_at)
                 VALUES (5, 'Day 2 call', 'heart-failure', 0, 0, 0, 0, 0)",
                [],
            )?;
            Ok(tx.last_insert_rowid())
        })
        .unwrap()
}

fn complete(tx: &Transaction, task: i64, now: DateTime<Utc>) -> rusqlite::Result<usize> {
    tx.execute(
        "UPDATE followup_tasks SET status = 'completed', updated_at = ?2 WHERE id = ?1",
        params![task, now.timestamp()],
    )
}

fn rows(store: &Store) -> Vec<OutboxRow> {
    store.read_blocking(|c| list(c, None, 10)).unwrap()
}

#[test]
fn completing_a_task_queues_its_result_only_when_switched_on_and_in_the_same_transaction() {
    let (_d, store) = temp_store();
    let t = task(&store);
    // off (the default): a completion queues nothing
    store
        .write_blocking(move |tx| Ok(complete(tx, t, at(8))?))
        .unwrap();
    assert!(rows(&store).is_empty());

    let (_d, store) = temp_store();
    let t = task(&store);
    store.write_blocking(|tx| set_enabled(tx, true)).unwrap();
    // a completion whose transaction fails leaves no row behind
    let failed = store.write_blocking(move |tx| {
        complete(tx, t, at(8))?;
        Err::<(), _>(StoreError::Invalid("the disposition failed later".into()))
    });
    assert!(failed.is_err());
    assert!(rows(&store).is_empty());
    store
        .write_blocking(move |tx| Ok(complete(tx, t, at(8))?))
        .unwrap();
    let r = rows(&store);
    assert_eq!(r.len(), 1);
    assert_eq!((r[0].task_id, r[0].status.as_str()), (t, "queued"));
    assert_eq!(r[0].next_attempt_at, at(8));
    // completed again (e.g. status touched twice): still one result
    store
        .write_blocking(move |tx| {
            tx.execute(
                "UPDATE followup_tasks SET status = 'pending' WHERE id = ?1",
                [t],
            )?;
            Ok(complete(tx, t, at(9))?)
        })
        .unwrap();
    assert_eq!(rows(&store).len(), 1);
    let due = store.read_blocking(|c| next_due(c, at(7))).unwrap();
    assert!(due.is_none(), "not before its time");
    let due = store
        .read_blocking(|c| next_due(c, at(8)))
        .unwrap()
        .unwrap();
    assert_eq!((due.task_id, due.attempts), (t, 0));
    assert!(due.built.is_none());
}

#[test]
fn a_result_has_the_answers_notes_and_the_flags_of_the_escalations_they_opened() {
    let (_d, store) = temp_store();
    let t = task(&store);
    let entry = EvidenceEntry {
        at: at(8) + Duration::minutes(1),
        source: crate::followup::escalation::Source::Answer { call: None },
        severity: Severity::Urgent,
        evidence: Evidence {
            script: ScriptCode("heart-failure".into()),
            script_version: 1,
            condition: "weight_kg >= 2 within 3 days".into(),
            answers: vec![(
                QuestionId("weight_kg".into()),
                "Weight".into(),
                "72.5".into(),
            )],
            trends: vec![],
            excerpts: vec![],
            labs: vec![],
        },
        advice: None,
    };
    let evidence = serde_json::to_string(&[entry]).unwrap();
    store
        .write_blocking(move |tx| {
            for (q, v) in [("weight_kg", r#"{"type":"number","value":72.5}"#), ("dyspnea", r#"{"type":"yes_no","value":false}"#)] {
                tx.execute(
                    "INSERT INTO answers (task_id, patient_id, script_code, script_version, question_id, value, answered_at, updated_at)
                     VALUES (?1, 5, 'heart-failure', 1, ?2, ?3, ?4, ?4)",
                    params![t, q, v, at(8).timestamp()],
                )?;
            }
            tx.execute("INSERT INTO notes (patient_id, task_id, author_id, body, created_at) VALUES (5, ?1, 1, 'ankles swollen', ?2)", params![t, at(8).timestamp()])?;
            tx.execute(
                "INSERT INTO escalations (patient_id, script_code, rule_id, department_code, route, severity, ack_sla_minutes, level, status, ack_due_at, opened_at, updated_at, notified, evidence)
                 VALUES (5, 'heart-failure', 'hf-weight', 'cardiology', '\"patient_department\"', 'urgent', 15, 'primary', 'open', 0, ?1, ?1, '[]', ?2)",
                params![at(8).timestamp() + 60, evidence],
            )?;
            Ok(complete(tx, t, at(9))?)
        })
        .unwrap();
    let r = store.read_blocking(move |c| task_result(c, t)).unwrap();
    assert_eq!(r.patient.mrn, "MRN-5");
    assert_eq!(r.patient.birth_date, NaiveDate::from_ymd_opt(1948, 3, 3));
    assert_eq!(r.completed_at, at(9));
    assert_eq!(r.answers.len(), 2);
    assert_eq!(r.answers[0].value, AnswerValue::Number(72.5));
    assert_eq!(r.notes.len(), 1);
    assert_eq!(
        r.fired,
        [FiredRule {
            script_code: "heart-failure".into(),
            rule_id: "hf-weight".into(),
            severity: Severity::Urgent,
            questions: vec!["weight_kg".into()],
        }]
    );
}

#[test]
fn tries_move_a_row_as_the_emr_answered() {
    let (_d, store) = temp_store();
    let t = task(&store);
    store.write_blocking(|tx| set_enabled(tx, true)).unwrap();
    store
        .write_blocking(move |tx| Ok(complete(tx, t, at(8))?))
        .unwrap();
    let id = rows(&store)[0].id;
    store
        .write_blocking(move |tx| {
            set_message(tx, id, "ORU^R01", "SFR1", b"MSH|first")?;
            // built once: a second build does not change what is resent
            set_message(tx, id, "ORU^R01", "SFR9", b"MSH|second")
        })
        .unwrap();
    let retry = TryOutcome::Retry {
        error: "connection refused".into(),
        next_attempt_at: at(8) + Duration::seconds(30),
    };
    store
        .write_blocking(move |tx| record_try(tx, id, &retry, at(8)))
        .unwrap();
    assert!(store
        .read_blocking(|c| next_due(c, at(8)))
        .unwrap()
        .is_none());
    let due = store
        .read_blocking(|c| next_due(c, at(8) + Duration::seconds(30)))
        .unwrap()
        .unwrap();
    assert_eq!(due.built, Some(("SFR1".into(), b"MSH|first".to_vec())));
    assert_eq!(due.attempts, 1);
    let refused = TryOutcome::Refused {
        ack_code: "AE".into(),
        error: "unknown MRN".into(),
    };
    store
        .write_blocking(move |tx| record_try(tx, id, &refused, at(9)))
        .unwrap();
    let r = &rows(&store)[0];
    assert_eq!(r.status, "rejected");
    assert_eq!(r.last_error.as_deref(), Some("unknown MRN"));
    assert_eq!(
        store.read_blocking(counts).unwrap().get("rejected"),
        Some(&1)
    );
    // an admin queues it again; the AA then delivers it
    assert!(store
        .write_blocking(move |tx| requeue(tx, id, at(10)))
        .unwrap());
    let aa = TryOutcome::Delivered {
        ack_code: "AA".into(),
    };
    store
        .write_blocking(move |tx| record_try(tx, id, &aa, at(10)))
        .unwrap();
    let r = &rows(&store)[0];
    assert_eq!((r.status.as_str(), r.attempts), ("delivered", 3));
    assert_eq!(r.delivered_at, Some(at(10)));
    assert!(!store
        .write_blocking(move |tx| requeue(tx, id, at(11)))
        .unwrap());
}
