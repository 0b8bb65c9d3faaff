//! Admissions over a real SQLite file: pause, readmission facts, supersede on the next
//! discharge, cancel, merge, and the queue and claims skipping paused tasks.

use chrono::{Duration, TimeZone};
use rusqlite::Connection;

use super::*;
use crate::followup::admission::{AdmissionType, PatientClass};
use crate::followup::calling_hours::CallingHours;
use crate::followup::pathway::{Calendar, PathwayCatalog};
use crate::followup::patient::{Diagnosis, DiagnosisKind, NewDischarge};
use crate::followup::retry::Locale;
use crate::followup::retry::RetryPolicy;
use crate::store::patients::record_discharge;
use crate::store::tasks::{
    build_queue, claim_next, list_queue, record_disposition, DispositionInput,
};
use crate::store::{temp_store, Store};

fn catalog() -> PathwayCatalog {
    PathwayCatalog::load_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/pathways"),
    )
    .expect("the shipped pathways load")
}

fn calendar() -> Calendar {
    Calendar {
        tz: chrono_tz::Asia::Shanghai,
        holidays: vec![],
        tcm_two_business_days: false,
    }
}

/// 2026-03-`d` `h`:00 in Shanghai.
fn sh(d: u32, h: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(2026, 3, d, h, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn discharge(at: DateTime<Utc>, visit: &str) -> NewDischarge {
    NewDischarge {
        discharged_at: at,
        department: Some("cardiology".into()),
        diagnoses: vec![Diagnosis {
            icd10: "I50.9".into(),
            kind: DiagnosisKind::F,
        }],
        visit_number: Some(visit.into()),
        attending: None,
        disposition: None,
        summary: None,
    }
}

fn admission(at: DateTime<Utc>, visit: &str, kind: Option<AdmissionType>) -> NewAdmission {
    NewAdmission {
        admitted_at: at,
        department: Some("cardiology".into()),
        visit_number: Some(visit.into()),
        patient_class: PatientClass::Inpatient,
        admission_type: kind,
    }
}

fn elective() -> Vec<String> {
    vec!["elective".into()]
}

/// One nurse, one cardiology patient discharged on day 1 (heart failure: five tasks).
fn setup(store: &Store) -> i64 {
    store
        .write_blocking(|tx| {
            tx.execute_batch(
                "INSERT OR IGNORE INTO departments (code, name_en, name_zh)
                     VALUES ('cardiology', 'Cardiology', '心内科');
                 INSERT INTO users (id, username, display_name, role, password_hash, created_at)
                     VALUES (1, 'n1', 'n', 'nurse', 'x', 0);
                 INSERT INTO patients (id, mrn, name, phone, created_at, updated_at)
                     VALUES (1, 'M1', 'p', '+8613800000001', 0, 0);",
            )?;
            let out = record_discharge(
                tx,
                1,
                &discharge(sh(1, 10), "V1"),
                &catalog(),
                &calendar(),
                sh(1, 10),
            )?;
            // heart failure: days 1, 3, 7, 14, 30 and the day-31 satisfaction survey
            assert_eq!(out.tasks_created, 6);
            Ok(1)
        })
        .unwrap()
}

fn statuses(c: &Connection) -> Vec<(i64, String)> {
    c.prepare("SELECT enrollment_id, status FROM followup_tasks ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn count(c: &Connection, sql: &str) -> i64 {
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn locale() -> Locale {
    Locale {
        tz: chrono_tz::Asia::Shanghai,
        hours: CallingHours::parse("00:00-23:59").unwrap(),
    }
}

#[test]
fn a_readmission_pauses_open_tasks_and_the_queue_and_claims_skip_them() {
    let (_dir, store) = temp_store();
    let patient = setup(&store);
    // day 2 10:00: the day-1 call is due and queued
    let queued = store
        .write_blocking(|tx| {
            build_queue(tx, sh(2, 10))?;
            Ok(list_queue(tx, sh(2, 10), 50, 0)?.1)
        })
        .unwrap();
    assert_eq!(queued, 1);
    // the day-1 call reached the patient on day 2 at 11:00
    store
        .write_blocking(|tx| {
            let task = claim_next(tx, 1, "nurse", &locale(), Duration::minutes(10), sh(2, 11))?
                .expect("claimed");
            let input = DispositionInput {
                task_id: task.id,
                user_id: 1,
                disposition: Disposition::Completed,
                callback_at: None,
                note: None,
                call_id: None,
            };
            record_disposition(tx, &input, &RetryPolicy::default(), &locale(), sh(2, 11))
                .map_err(|e| StoreError::Invalid(format!("{e:?}")))?;
            Ok(())
        })
        .unwrap();
    // readmitted on day 9 at 08:00 (emergency)
    let out = store
        .write_blocking(move |tx| {
            record_admission(
                tx,
                patient,
                &admission(sh(9, 8), "V2", Some(AdmissionType::Emergency)),
                AdmissionSource::Hl7,
                &elective(),
                sh(9, 9),
            )
        })
        .unwrap();
    assert!(out.recorded);
    assert_eq!(out.tasks_paused, 5, "every task not yet worked");
    let r = out.readmission.expect("a readmission");
    assert_eq!(r.pathway.as_deref(), Some("heart-failure"));
    assert_eq!(
        (
            r.facts.days_since_discharge,
            r.facts.contacted_before,
            r.facts.days_contact_before,
            r.facts.planned
        ),
        (7, true, Some(6), false)
    );
    // while admitted: nothing queued, nothing claimable, whatever the time
    for day in [9, 10, 12] {
        let (queued, claim) = store
            .write_blocking(move |tx| {
                build_queue(tx, sh(day, 10))?;
                let n = list_queue(tx, sh(day, 10), 50, 0)?.1;
                Ok((
                    n,
                    claim_next(
                        tx,
                        1,
                        "nurse",
                        &locale(),
                        Duration::minutes(10),
                        sh(day, 10),
                    )?,
                ))
            })
            .unwrap();
        assert_eq!(queued, 0, "day {day}");
        assert!(claim.is_err(), "day {day}: {claim:?}");
    }
    // paused is not missed: a window that passes while admitted leaves the task paused
    let (paused, missed) = store
        .read_blocking(|c| {
            Ok((
                count(
                    c,
                    "SELECT COUNT(*) FROM followup_tasks WHERE status = 'paused'",
                ),
                count(
                    c,
                    "SELECT COUNT(*) FROM followup_tasks WHERE status = 'missed'",
                ),
            ))
        })
        .unwrap();
    assert_eq!((paused, missed), (5, 0));
    // the same admission again (a resend under a new control id) changes nothing
    let again = store
        .write_blocking(move |tx| {
            record_admission(
                tx,
                patient,
                &admission(sh(9, 8), "V2", None),
                AdmissionSource::Hl7,
                &elective(),
                sh(9, 10),
            )
        })
        .unwrap();
    assert!(!again.recorded);
    assert_eq!(again.admission_id, out.admission_id);
    let listed = store
        .read_blocking(move |c| admissions_of_patient(c, patient))
        .unwrap();
    assert_eq!(listed.len(), 1);
}

#[test]
fn the_next_discharge_supersedes_the_old_enrolment_once() {
    let (_dir, store) = temp_store();
    let patient = setup(&store);
    store
        .write_blocking(move |tx| {
            record_admission(
                tx,
                patient,
                &admission(sh(4, 8), "V2", None),
                AdmissionSource::Api,
                &elective(),
                sh(4, 8),
            )
        })
        .unwrap();
    let out = store
        .write_blocking(move |tx| {
            record_discharge(
                tx,
                patient,
                &discharge(sh(8, 10), "V2"),
                &catalog(),
                &calendar(),
                sh(8, 10),
            )
        })
        .unwrap();
    assert_eq!((out.tasks_created, out.tasks_superseded), (6, 6));
    let new = out.enrollment_id.unwrap();
    let (tasks, enrolments, ended) = store
        .read_blocking(move |c| {
            let e: Vec<(i64, String, Option<i64>)> = c
                .prepare("SELECT id, status, superseded_by FROM enrollments ORDER BY id")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?;
            let ended: Option<i64> =
                c.query_row("SELECT ended_by_discharge_id FROM admissions", [], |r| {
                    r.get(0)
                })?;
            Ok((statuses(c), e, ended))
        })
        .unwrap();
    let old = enrolments[0].0;
    assert_eq!(
        enrolments,
        [
            (old, "superseded".into(), Some(new)),
            (new, "active".into(), None)
        ]
    );
    assert_eq!(ended, Some(out.discharge_id));
    let expect: Vec<(i64, String)> = (0..6)
        .map(|_| (old, "superseded".to_string()))
        .chain((0..6).map(|_| (new, "pending".to_string())))
        .collect();
    assert_eq!(tasks, expect, "old tasks kept, closed; one fresh set");
    // a discharge with no admission in between behaves as before: a second enrolment
    let plain = store
        .write_blocking(move |tx| {
            record_discharge(
                tx,
                patient,
                &discharge(sh(20, 10), "V3"),
                &catalog(),
                &calendar(),
                sh(20, 10),
            )
        })
        .unwrap();
    assert_eq!((plain.tasks_created, plain.tasks_superseded), (6, 0));
}

#[test]
fn a_planned_readmission_is_flagged_and_an_emergency_visit_pauses_nothing() {
    let (_dir, store) = temp_store();
    let patient = setup(&store);
    let er = store
        .write_blocking(move |tx| {
            let mut a = admission(sh(3, 8), "ER1", Some(AdmissionType::Emergency));
            a.patient_class = PatientClass::Emergency;
            record_admission(tx, patient, &a, AdmissionSource::Hl7, &elective(), sh(3, 9))
        })
        .unwrap();
    assert_eq!((er.tasks_paused, er.readmission.is_some()), (0, false));
    let planned = store
        .write_blocking(move |tx| {
            record_admission(
                tx,
                patient,
                &admission(sh(5, 8), "V2", AdmissionType::of_code("C")),
                AdmissionSource::Hl7,
                &elective(),
                sh(5, 9),
            )
        })
        .unwrap();
    assert!(planned.readmission.expect("recorded").facts.planned);
    let planned_rows = store
        .read_blocking(|c| {
            Ok(count(
                c,
                "SELECT COUNT(*) FROM readmissions WHERE planned = 1",
            ))
        })
        .unwrap();
    assert_eq!(planned_rows, 1);
}

#[test]
fn a_cancelled_admission_resumes_its_tasks_and_its_readmission_stops_counting() {
    let (_dir, store) = temp_store();
    let patient = setup(&store);
    let out = store
        .write_blocking(move |tx| {
            record_admission(
                tx,
                patient,
                &admission(sh(4, 8), "V2", None),
                AdmissionSource::Hl7,
                &elective(),
                sh(4, 8),
            )
        })
        .unwrap();
    let resumed = store
        .write_blocking(move |tx| {
            let id = admission_of_visit(tx, patient, "V2")?.expect("found");
            cancel_admission(tx, id, sh(4, 12), sh(4, 12))
        })
        .unwrap();
    assert_eq!(resumed, out.tasks_paused);
    let (pending, counted, paused_by) = store
        .read_blocking(|c| {
            Ok((
                count(
                    c,
                    "SELECT COUNT(*) FROM followup_tasks WHERE status = 'pending'",
                ),
                count(
                    c,
                    "SELECT COUNT(*) FROM readmissions WHERE cancelled_at IS NULL",
                ),
                count(
                    c,
                    "SELECT COUNT(*) FROM followup_tasks WHERE paused_by_admission IS NOT NULL",
                ),
            ))
        })
        .unwrap();
    assert_eq!((pending, counted, paused_by), (6, 0, 0));
    // the next discharge then is a plain one: nothing superseded
    let d = store
        .write_blocking(move |tx| {
            record_discharge(
                tx,
                patient,
                &discharge(sh(8, 10), "V3"),
                &catalog(),
                &calendar(),
                sh(8, 10),
            )
        })
        .unwrap();
    assert_eq!(d.tasks_superseded, 0);
}

#[test]
fn an_admission_after_its_discharge_arrived_supersedes_at_once() {
    let (_dir, store) = temp_store();
    let patient = setup(&store);
    // the A03 of the second stay comes before its A01
    store
        .write_blocking(move |tx| {
            record_discharge(
                tx,
                patient,
                &discharge(sh(8, 10), "V2"),
                &catalog(),
                &calendar(),
                sh(8, 10),
            )
        })
        .unwrap();
    let out = store
        .write_blocking(move |tx| {
            record_admission(
                tx,
                patient,
                &admission(sh(4, 8), "V2", None),
                AdmissionSource::Hl7,
                &elective(),
                sh(8, 11),
            )
        })
        .unwrap();
    assert_eq!((out.tasks_paused, out.tasks_superseded), (6, 6));
    let pending = store
        .read_blocking(|c| {
            Ok(count(
                c,
                "SELECT COUNT(*) FROM followup_tasks WHERE status = 'pending'",
            ))
        })
        .unwrap();
    assert_eq!(pending, 6, "only the second enrolment's tasks are worked");
}

#[test]
fn a_merge_moves_the_history_to_the_surviving_patient() {
    let (_dir, store) = temp_store();
    let prior = setup(&store);
    let (moved, tasks_left, surviving_tasks, merged_into) = store
        .write_blocking(move |tx| {
            tx.execute_batch(
                "INSERT INTO patients (id, mrn, name, phone, created_at, updated_at)
                     VALUES (2, 'M2', 'p', '+8613800000001', 0, 0);
                 INSERT INTO notes (patient_id, author_id, body, created_at) VALUES (1, 1, 'n', 0);
                 INSERT INTO patient_tags (patient_id, tag, source) VALUES (2, 'icd10:I50', 'diagnosis');",
            )?;
            let moved = merge_patients(tx, prior, 2, sh(5, 0))?;
            Ok((
                moved,
                count(tx, "SELECT COUNT(*) FROM followup_tasks WHERE patient_id = 1"),
                count(tx, "SELECT COUNT(*) FROM followup_tasks WHERE patient_id = 2"),
                tx.query_row("SELECT merged_into FROM patients WHERE id = 1", [], |r| r.get::<_, Option<i64>>(0))?,
            ))
        })
        .unwrap();
    assert_eq!((tasks_left, surviving_tasks, merged_into), (0, 6, Some(2)));
    // discharge + enrolment + 6 tasks + note + tags (pathway, department, icd10 already there)
    assert!(moved >= 8, "{moved}");
    let notes = store
        .read_blocking(|c| Ok(count(c, "SELECT COUNT(*) FROM notes WHERE patient_id = 2")))
        .unwrap();
    assert_eq!(notes, 1);
}
