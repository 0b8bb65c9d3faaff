//! Summaries over a real SQLite file: made from a completed task's answers, note and next
//! contact; saved only when every sentence's evidence exists; and once a piece of evidence is
//! gone the checker refuses the stored summary and a save of it.

use chrono::{TimeZone, Utc};

use super::*;
use crate::followup::pathway::{Calendar, PathwayCatalog};
use crate::followup::patient::{Diagnosis, DiagnosisKind, NewDischarge};
use crate::store::patients::record_discharge;
use crate::store::temp_store;

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts")
}

fn scripts() -> ScriptCatalog {
    crate::followup::script::load_dir(&root().join("scripts")).expect("shipped scripts")
}

const TZ: Tz = chrono_tz::Asia::Shanghai;

#[test]
fn a_completed_task_is_summarised_with_evidence_and_a_removed_note_is_refused() {
    let (_dir, store) = temp_store();
    let discharged = TZ
        .with_ymd_and_hms(2026, 3, 2, 10, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    let now = discharged + Duration::days(1) + Duration::hours(1);
    let (task, sentences) = store
        .write_blocking(move |tx| {
            tx.execute_batch(
                "INSERT OR IGNORE INTO departments (code, name_en, name_zh)
                    VALUES ('cardiology', 'Cardiology', '心内科');
                 INSERT INTO users (id, username, display_name, role, password_hash, created_at)
                    VALUES (1, 'wang', 'Wang', 'nurse', 'x', 0);
                 INSERT INTO patients (id, mrn, name, phone, created_at, updated_at)
                    VALUES (1, 'M1', 'p', '+8613800000001', 0, 0);",
            )?;
            let catalog = PathwayCatalog::load_dir(&root().join("pathways")).expect("pathways");
            let calendar = Calendar {
                tz: TZ,
                holidays: vec![],
                tcm_two_business_days: false,
            };
            let d = NewDischarge {
                discharged_at: discharged,
                department: Some("cardiology".into()),
                diagnoses: vec![Diagnosis {
                    icd10: "I50.9".into(),
                    kind: DiagnosisKind::F,
                }],
                visit_number: None,
                attending: None,
                disposition: None,
                summary: None,
            };
            record_discharge(tx, 1, &d, &catalog, &calendar, discharged)?;
            let task: i64 = tx.query_row("SELECT MIN(id) FROM followup_tasks", [], |r| r.get(0))?;
            for (q, v) in [
                ("weight", AnswerValue::Number(72.5)),
                ("breathless_worse", AnswerValue::YesNo(false)),
            ] {
                tx.execute(
                    "INSERT INTO answers (task_id, patient_id, script_code, script_version,
                         question_id, value, answered_at, updated_at)
                     VALUES (?1, 1, 'heart-failure', 1, ?2, ?3, ?4, ?4)",
                    params![
                        task,
                        q,
                        serde_json::to_string(&v).unwrap(),
                        now.timestamp() - 600
                    ],
                )?;
            }
            tx.execute(
                "INSERT INTO notes (patient_id, task_id, author_id, body, created_at)
                 VALUES (1, ?1, 1, '患者情况稳定。', ?2)",
                params![task, now.timestamp() - 60],
            )?;
            let sentences = summarize_task(tx, task, &scripts(), TZ, now)?.expect("saved");
            Ok((task, sentences))
        })
        .unwrap();
    let en: Vec<&str> = sentences.iter().map(|s| s.en.as_str()).collect();
    assert_eq!(en.len(), 4, "{en:#?}");
    assert!(en[0].ends_with(": 72.5 kg."), "{en:?}");
    assert_eq!(en[2], "Nurse's note: 患者情况稳定。");
    assert!(
        en[3].starts_with("Next contact: Day 3 nurse call on 2026-03-05"),
        "{en:?}"
    );
    let stored = store.read_blocking(|c| for_patient(c, 1)).unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].sentences, sentences);
    assert_eq!(
        store.read_blocking(move |c| verify(c, task)).unwrap(),
        Ok(())
    );

    // the note is deleted: the stored summary no longer checks, and saving it is refused
    let (verdict, resave, kept) = store
        .write_blocking(move |tx| {
            tx.execute("DELETE FROM notes", [])?;
            let verdict = verify(tx, task)?;
            let resave = save(tx, task, 1, None, &sentences, now)?;
            let kept: String = tx.query_row(
                "SELECT sentences FROM call_summaries WHERE task_id = ?1",
                [task],
                |r| r.get(0),
            )?;
            Ok((verdict, resave, kept))
        })
        .unwrap();
    assert!(
        matches!(
            verdict,
            Err(SummaryError::Missing {
                evidence: Evidence::Note { .. },
                ..
            })
        ),
        "{verdict:?}"
    );
    assert!(
        matches!(resave, Err(SummaryError::Missing { .. })),
        "{resave:?}"
    );
    assert!(kept.contains("患者情况稳定"), "nothing was overwritten");
    // an answer removed: refused as well
    let verdict = store
        .write_blocking(move |tx| {
            tx.execute("DELETE FROM answers WHERE question_id = 'weight'", [])?;
            verify(tx, task)
        })
        .unwrap();
    assert!(
        matches!(
            verdict,
            Err(SummaryError::Missing {
                index: 0,
                evidence: Evidence::Answer { .. },
                ..
            })
        ),
        "{verdict:?}"
    );
}
