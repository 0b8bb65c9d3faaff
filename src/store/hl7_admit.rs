//! What ADT^A01/A04 (admit), A11 (cancel admit) and A40 (merge) do to the record; each runs
//! inside `hl7::receive`'s savepoint, so the effect and the stored message commit together.
//! The admission itself goes through `admissions::record_admission`, as from the API and the
//! CSV import.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Transaction};

use super::admissions::{
    admission_of_visit, cancel_admission, merge_patients, record_admission, AdmissionSource,
};
use super::audit::{append, Actor};
use super::hl7::{patient_by_mrn, update_patient, Applied};
use super::patients::insert_patient;
use super::StoreError;
use crate::hl7::admit::{Admit, Merge};
use crate::hl7::adt::VisitRef;
use crate::hl7::message::{ErrorCode, Hl7Error};

fn actor(sender: &str) -> Actor {
    Actor {
        id: None,
        name: format!("hl7:{sender}"),
    }
}

/// A01/A04: the patient is created or brought up to date by MRN and the admission recorded
/// (a readmission pauses follow-up). An admission whose cancellation (A11) came first is
/// recorded by nobody when it happened before that cancellation.
pub fn apply_admit(
    tx: &Transaction,
    a: &Admit,
    planned_types: &[String],
    sender: &str,
    now: DateTime<Utc>,
) -> Result<Result<Applied, Hl7Error>, StoreError> {
    let p = &a.patient;
    let patient_id = match patient_by_mrn(tx, &p.mrn)? {
        Some(id) => {
            update_patient(tx, id, p, now)?;
            id
        }
        None => insert_patient(tx, p, None, now.timestamp())?,
    };
    let cancelled_first: Option<i64> = match &a.admission.visit_number {
        Some(v) => tx
            .query_row(
                "DELETE FROM hl7_cancelled_admissions WHERE mrn = ?1 AND visit_number = ?2
                 RETURNING cancelled_at",
                params![p.mrn, v],
                |r| r.get(0),
            )
            .optional()?,
        None => None,
    };
    let taken_back = cancelled_first.is_some_and(|at| a.admission.admitted_at.timestamp() <= at);
    let detail = if taken_back {
        format!("mrn={} cancelled before it arrived", p.mrn)
    } else {
        let out = match record_admission(
            tx,
            patient_id,
            &a.admission,
            AdmissionSource::Hl7,
            planned_types,
            now,
        ) {
            Ok(out) => out,
            Err(StoreError::Invalid(m)) => {
                return Ok(Err(Hl7Error::at(
                    ErrorCode::TableValueNotFound,
                    "PV1",
                    3,
                    format!("{m} (map it under [hl7] departments)"),
                )))
            }
            Err(e) => return Err(e),
        };
        format!(
            "mrn={} admission={} recorded={} readmission={} planned={} tasks_paused={}",
            p.mrn,
            out.admission_id,
            out.recorded,
            out.readmission.is_some(),
            out.readmission.as_ref().is_some_and(|r| r.facts.planned),
            out.tasks_paused
        )
    };
    append(
        tx,
        &actor(sender),
        "hl7_admit",
        "patient",
        Some(&patient_id.to_string()),
        &detail,
        now.timestamp(),
    )?;
    Ok(Ok(Applied {
        patient_id: Some(patient_id),
        tasks_created: 0,
    }))
}

/// A11: the admission of this visit did not happen: its paused tasks resume and its
/// readmission no longer counts. A cancellation of a visit suifang has not seen is
/// remembered, so the admission it cancels changes nothing when it arrives.
pub fn apply_cancel_admit(
    tx: &Transaction,
    v: &VisitRef,
    sender: &str,
    now: DateTime<Utc>,
) -> Result<Result<Applied, Hl7Error>, StoreError> {
    let patient = patient_by_mrn(tx, &v.mrn)?;
    let admission = match patient {
        Some(pid) => admission_of_visit(tx, pid, &v.visit_number)?,
        None => None,
    };
    let resumed = match admission {
        Some(id) => cancel_admission(tx, id, v.event_at, now)?,
        None => {
            tx.execute(
                "INSERT INTO hl7_cancelled_admissions (mrn, visit_number, cancelled_at)
                 VALUES (?1, ?2, ?3)
                 ON CONFLICT (mrn, visit_number) DO UPDATE SET cancelled_at = excluded.cancelled_at",
                params![v.mrn, v.visit_number, v.event_at.timestamp()],
            )?;
            0
        }
    };
    append(
        tx,
        &actor(sender),
        "hl7_cancel_admit",
        "patient",
        patient.map(|p| p.to_string()).as_deref(),
        &format!(
            "mrn={} visit={} found={} tasks_resumed={resumed}",
            v.mrn,
            v.visit_number,
            admission.is_some()
        ),
        now.timestamp(),
    )?;
    Ok(Ok(Applied {
        patient_id: patient,
        tasks_created: 0,
    }))
}

/// A40: the prior MRN's follow-up history moves to the surviving MRN's patient. When suifang
/// knows only the prior MRN, that patient takes the surviving MRN. A prior MRN suifang does
/// not know is AE 204 at MRG-1: the message is kept and can be replayed once the patient is in.
pub fn apply_merge(
    tx: &Transaction,
    m: &Merge,
    sender: &str,
    now: DateTime<Utc>,
) -> Result<Result<Applied, Hl7Error>, StoreError> {
    let id_of = |mrn: &str| -> Result<Option<(i64, Option<i64>)>, StoreError> {
        Ok(tx
            .query_row(
                "SELECT id, merged_into FROM patients WHERE mrn = ?1",
                [mrn],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    };
    let prior = id_of(&m.prior_mrn)?;
    let surviving = id_of(&m.surviving_mrn)?;
    let (surviving_id, moved) = match (prior, surviving) {
        (None, _) => {
            return Ok(Err(Hl7Error::at(
                ErrorCode::UnknownKey,
                "MRG",
                1,
                format!(
                    "no patient with prior MRN `{}` to merge into `{}`",
                    m.prior_mrn, m.surviving_mrn
                ),
            )))
        }
        // merged before (the same A40 under a new control id): nothing left to move
        (Some((_, Some(into))), Some((s, _))) if into == s => (s, 0),
        (Some((p, _)), None) => {
            tx.execute(
                "UPDATE patients SET mrn = ?2, updated_at = ?3 WHERE id = ?1",
                params![p, m.surviving_mrn, now.timestamp()],
            )?;
            (p, 0)
        }
        (Some((p, _)), Some((s, _))) => (s, merge_patients(tx, p, s, now)?),
    };
    append(
        tx,
        &actor(sender),
        "hl7_merge",
        "patient",
        Some(&surviving_id.to_string()),
        &format!(
            "prior_mrn={} surviving_mrn={} rows_moved={moved}",
            m.prior_mrn, m.surviving_mrn
        ),
        now.timestamp(),
    )?;
    Ok(Ok(Applied {
        patient_id: Some(surviving_id),
        tasks_created: 0,
    }))
}
