//! LACE over a real SQLite file: computed at enrolment from the stay the discharge ends, its
//! diagnoses and earlier emergency visits; left out when the stay is unknown; and the queue
//! puts a high-risk patient's task first within its priority band.

use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::followup::admission::{AdmissionType, NewAdmission, PatientClass};
use crate::followup::pathway::PathwayCatalog;
use crate::followup::patient::{Diagnosis, DiagnosisKind, NewDischarge};
use crate::store::admissions::{record_admission, AdmissionSource};
use crate::store::patients::record_discharge;
use crate::store::tasks::{build_queue, list_queue};
use crate::store::temp_store;

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

fn sh(m: u32, d: u32, h: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(2026, m, d, h, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn admit(
    tx: &Transaction,
    patient: i64,
    at: DateTime<Utc>,
    class: PatientClass,
    kind: Option<AdmissionType>,
) -> Result<(), StoreError> {
    let a = NewAdmission {
        admitted_at: at,
        department: Some("cardiology".into()),
        visit_number: None,
        patient_class: class,
        admission_type: kind,
    };
    record_admission(tx, patient, &a, AdmissionSource::Api, &[], at).map(|_| ())
}

fn discharge(
    tx: &Transaction,
    patient: i64,
    at: DateTime<Utc>,
    codes: &[&str],
) -> Result<i64, StoreError> {
    discharge_on(tx, &catalog(), patient, at, codes)
}

fn patients(tx: &Transaction, n: i64) -> Result<(), StoreError> {
    tx.execute_batch(
        "INSERT OR IGNORE INTO departments (code, name_en, name_zh)
             VALUES ('cardiology', 'Cardiology', '心内科');",
    )?;
    for i in 1..=n {
        tx.execute(
            "INSERT INTO patients (id, mrn, name, phone, created_at, updated_at)
             VALUES (?1, ?2, 'p', '+8613800000001', 0, 0)",
            params![i, format!("M{i}")],
        )?;
    }
    Ok(())
}

#[test]
fn lace_is_computed_at_enrolment_from_the_stay_and_shown_per_patient() {
    let (_dir, store) = temp_store();
    let risks = store
        .write_blocking(|tx| {
            patients(tx, 2)?;
            // patient 1: two emergency visits in the six months before (one in the 24 h
            // before the admission does not count), admitted as an emergency on 03-01,
            // discharged 03-06: L 4 (5 days) + A 3 + C 5 (HF 1, diabetes with complications
            // 2, renal 2) + E 2 = 14
            for at in [sh(1, 10, 9), sh(2, 20, 9), sh(2, 28, 20)] {
                admit(tx, 1, at, PatientClass::Emergency, None)?;
            }
            admit(
                tx,
                1,
                sh(3, 1, 10),
                PatientClass::Inpatient,
                Some(AdmissionType::Emergency),
            )?;
            discharge(tx, 1, sh(3, 6, 10), &["I50.9", "E11.2", "N18.4"])?;
            // patient 2: discharged without a known stay: no score
            discharge(tx, 2, sh(3, 6, 10), &["I50.9"])?;
            Ok((for_patient(tx, 1)?, for_patient(tx, 2)?))
        })
        .unwrap();
    let (one, two) = risks;
    assert_eq!(one.len(), 1);
    let r = &one[0];
    assert_eq!(
        (r.lace, r.l_points, r.a_points, r.c_points, r.e_points),
        (14, 4, 3, 5, 2)
    );
    assert_eq!(
        (r.length_of_stay_days, r.charlson, r.ed_visits_6_months),
        (5, 5, 2)
    );
    assert!(r.high_risk && r.emergent);
    assert_eq!(
        r.conditions,
        serde_json::json!([
            "congestive_heart_failure",
            "diabetes_with_complications",
            "renal"
        ])
    );
    assert!(two.is_empty());
}

#[test]
fn the_queue_puts_high_risk_first_within_a_priority_band() {
    let (_dir, store) = temp_store();
    let order = store
        .write_blocking(|tx| {
            patients(tx, 3)?;
            // patient 1: low risk (elective 2-day stay, HF only: 2 + 0 + 1 + 0 = 3), discharged
            // first, so its day-1 call is the most overdue
            admit(
                tx,
                1,
                sh(3, 1, 10),
                PatientClass::Inpatient,
                Some(AdmissionType::Elective),
            )?;
            discharge(tx, 1, sh(3, 5, 10), &["I50.9"])?;
            // patient 2: high risk (emergency, 14 days, HF + metastatic cancer: 7 + 3 + 5 = 15)
            admit(
                tx,
                2,
                sh(2, 20, 10),
                PatientClass::Inpatient,
                Some(AdmissionType::Emergency),
            )?;
            discharge(tx, 2, sh(3, 6, 10), &["I50.9", "C78.0"])?;
            // patient 3: no score, discharged last
            discharge(tx, 3, sh(3, 6, 11), &["I50.9"])?;
            build_queue(tx, sh(3, 7, 9))?;
            let (tasks, _) = list_queue(tx, sh(3, 7, 9), 50, 0)?;
            Ok(tasks
                .iter()
                .map(|t| (t.patient_id, t.priority))
                .collect::<Vec<_>>())
        })
        .unwrap();
    assert_eq!(order.len(), 3, "{order:?}");
    assert!(
        order.iter().all(|(_, p)| *p == order[0].1),
        "one band: {order:?}"
    );
    assert_eq!(
        order.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        [2, 1, 3],
        "high risk first, then the most overdue"
    );
}

#[test]
fn a_steps_risk_switch_sets_the_mode_of_the_task_at_enrolment() {
    use crate::followup::pathway::CallMode;
    use crate::followup::risk::RiskSwitch;
    // the heart-failure day-1 call by the robot, unless LACE is 10 or more
    let mut robot_unless_high_risk = catalog();
    let hf = robot_unless_high_risk
        .pathways
        .get_mut("heart-failure")
        .expect("shipped heart-failure pathway");
    hf.steps[0].mode = CallMode::Robot;
    hf.steps[0].mode_if_risk_at_least = Some(RiskSwitch {
        lace: 10,
        mode: CallMode::Nurse,
    });
    let modes = store_modes(move |tx| {
        let discharge_with = |tx: &Transaction, patient: i64, at, codes: &[&str]| {
            discharge_on(tx, &robot_unless_high_risk, patient, at, codes).map(|_| ())
        };
        patients(tx, 3)?;
        // patient 1: high risk (emergency, 14 days, HF + metastatic cancer: 7 + 3 + 5 = 15)
        admit(
            tx,
            1,
            sh(2, 20, 10),
            PatientClass::Inpatient,
            Some(AdmissionType::Emergency),
        )?;
        discharge_with(tx, 1, sh(3, 6, 10), &["I50.9", "C78.0"])?;
        // patient 2: low risk (elective 2-day stay, HF only: 3)
        admit(
            tx,
            2,
            sh(3, 1, 10),
            PatientClass::Inpatient,
            Some(AdmissionType::Elective),
        )?;
        discharge_with(tx, 2, sh(3, 3, 10), &["I50.9"])?;
        // patient 3: no known stay, no score: the step's own mode
        discharge_with(tx, 3, sh(3, 6, 11), &["I50.9"])?;
        Ok(())
    });
    let first_steps: Vec<(i64, String)> = modes
        .iter()
        .filter(|(_, step, _)| step == &hf_first_step_name())
        .map(|(p, _, m)| (*p, m.clone()))
        .collect();
    assert_eq!(
        first_steps,
        [
            (1, "nurse".to_string()),
            (2, "robot".to_string()),
            (3, "robot".to_string())
        ]
    );
    // the other steps keep their own mode whatever the risk
    assert!(
        modes
            .iter()
            .filter(|(_, step, _)| step != &hf_first_step_name())
            .all(|(_, _, m)| m == "nurse"),
        "{modes:?}"
    );
}

fn discharge_on(
    tx: &Transaction,
    catalog: &PathwayCatalog,
    patient: i64,
    at: DateTime<Utc>,
    codes: &[&str],
) -> Result<i64, StoreError> {
    let d = NewDischarge {
        discharged_at: at,
        department: Some("cardiology".into()),
        diagnoses: codes
            .iter()
            .map(|c| Diagnosis {
                icd10: c.to_string(),
                kind: DiagnosisKind::F,
            })
            .collect(),
        visit_number: None,
        attending: None,
        disposition: None,
        summary: None,
    };
    Ok(record_discharge(tx, patient, &d, catalog, &calendar(), at)?.discharge_id)
}

fn hf_first_step_name() -> String {
    catalog().pathways["heart-failure"].steps[0].name.en.clone()
}

/// Runs `setup` on a fresh store and returns every task's (patient, step, mode).
fn store_modes(
    setup: impl FnOnce(&Transaction) -> Result<(), StoreError> + Send + 'static,
) -> Vec<(i64, String, String)> {
    let (_dir, store) = temp_store();
    store
        .write_blocking(|tx| {
            setup(tx)?;
            let mut stmt = tx.prepare(
                "SELECT patient_id, step_name, mode FROM followup_tasks ORDER BY patient_id, id",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .unwrap()
}
