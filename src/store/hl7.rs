//! Inbound HL7 messages (migration 0017) and what an ADT^A03 does to the record.
//!
//! [`receive`] runs in one transaction: look the message up by its key, apply it inside a
//! savepoint, and store the message with the outcome. The listener ACKs only after that
//! transaction commits, so an ACKed message is in the database, and a message whose
//! application failed is kept (status `failed`) with its error rather than lost.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Transaction};

use super::audit::{append, Actor};
use super::patients::{insert_patient, record_discharge};
use super::StoreError;
use crate::followup::pathway::{Calendar, PathwayCatalog};
use crate::hl7::adt::{Discharge, Disposition};
use crate::hl7::message::{ErrorCode, Hl7Error};

/// What the sender's message is, as far as storing it goes.
#[derive(Debug, Clone)]
pub struct Received {
    pub peer: String,
    pub sending_application: String,
    pub sending_facility: String,
    pub control_id: String,
    pub message_type: String,
    pub charset: Option<String>,
    pub raw: Vec<u8>,
}

/// How storing went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Receipt {
    /// Applied before under the same key: the same acknowledgement, nothing changed.
    Duplicate { ack_code: String, id: i64 },
    /// Stored now, with the acknowledgement code the caller chose for the result.
    Stored { id: i64 },
}

/// The effect of one applied message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    pub patient_id: Option<i64>,
    pub tasks_created: usize,
}

/// Stores a message and the result of applying it. `apply` runs inside a savepoint: an
/// `Err(Hl7Error)` undoes its writes and stores the message as failed; a `StoreError` aborts
/// the whole transaction (nothing stored, the caller must not ACK). `ack_code` maps the
/// result to the code that will be sent.
pub fn receive(
    tx: &Transaction,
    msg: &Received,
    now: i64,
    ack_code: impl Fn(Result<(), &Hl7Error>) -> String,
    apply: impl FnOnce(&Transaction) -> Result<Result<Applied, Hl7Error>, StoreError>,
) -> Result<(Receipt, Result<Applied, Hl7Error>), StoreError> {
    let prior: Option<(i64, String, String)> = if msg.control_id.is_empty() {
        None
    } else {
        tx.query_row(
            "SELECT id, status, ack_code FROM hl7_messages
             WHERE sending_application = ?1 AND sending_facility = ?2 AND control_id = ?3",
            params![
                msg.sending_application,
                msg.sending_facility,
                msg.control_id
            ],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?
    };
    if let Some((id, status, code)) = &prior {
        if status == "applied" {
            tx.execute(
                "UPDATE hl7_messages SET attempts = attempts + 1 WHERE id = ?1",
                [id],
            )?;
            return Ok((
                Receipt::Duplicate {
                    ack_code: code.clone(),
                    id: *id,
                },
                Ok(Applied::default()),
            ));
        }
    }
    tx.execute_batch("SAVEPOINT hl7_apply")?;
    let result = match apply(tx) {
        Ok(r) => r,
        Err(e) => {
            tx.execute_batch("ROLLBACK TO hl7_apply; RELEASE hl7_apply")?;
            return Err(e);
        }
    };
    if result.is_err() {
        tx.execute_batch("ROLLBACK TO hl7_apply")?;
    }
    tx.execute_batch("RELEASE hl7_apply")?;
    let (status, error, patient, applied_at) = match &result {
        Ok(a) => ("applied", None, a.patient_id, Some(now)),
        Err(e) if e.code.is_rejection() => ("rejected", Some(e.to_string()), None, None),
        Err(e) => ("failed", Some(e.to_string()), None, None),
    };
    let code = ack_code(result.as_ref().map(|_| ()));
    let id = match prior {
        Some((id, _, _)) => {
            tx.execute(
                "UPDATE hl7_messages SET received_at = ?2, peer = ?3, raw = ?4, charset = ?5,
                     message_type = ?6, status = ?7, ack_code = ?8, error = ?9, patient_id = ?10,
                     applied_at = ?11, attempts = attempts + 1
                 WHERE id = ?1",
                params![
                    id,
                    now,
                    msg.peer,
                    msg.raw,
                    msg.charset,
                    msg.message_type,
                    status,
                    code,
                    error,
                    patient,
                    applied_at
                ],
            )?;
            id
        }
        None => {
            tx.execute(
                "INSERT INTO hl7_messages (received_at, peer, sending_application,
                     sending_facility, control_id, message_type, charset, raw, status, ack_code,
                     error, patient_id, applied_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                params![
                    now,
                    msg.peer,
                    msg.sending_application,
                    msg.sending_facility,
                    msg.control_id,
                    msg.message_type,
                    msg.charset,
                    msg.raw,
                    status,
                    code,
                    error,
                    patient,
                    applied_at
                ],
            )?;
            tx.last_insert_rowid()
        }
    };
    Ok((Receipt::Stored { id }, result))
}

/// Applies a discharge: the patient is created or brought up to date by MRN; a discharge home
/// is recorded and enrols in the matching pathway (once per visit number: a discharge sent
/// again under a new control id does not enrol twice); a death marks the patient deceased and
/// a transfer enrols nobody.
pub fn apply_discharge(
    tx: &Transaction,
    d: &Discharge,
    catalog: &PathwayCatalog,
    calendar: &Calendar,
    sender: &str,
    now: DateTime<Utc>,
) -> Result<Result<Applied, Hl7Error>, StoreError> {
    let p = &d.patient;
    let existing: Option<i64> = tx
        .query_row("SELECT id FROM patients WHERE mrn = ?1", [&p.mrn], |r| {
            r.get(0)
        })
        .optional()?;
    let patient_id = match existing {
        Some(id) => {
            tx.execute(
                "UPDATE patients SET name = ?2, sex = COALESCE(?3, sex),
                     birth_date = COALESCE(?4, birth_date), phone = ?5,
                     alt_phone = COALESCE(?6, alt_phone),
                     alt_contact_name = COALESCE(?7, alt_contact_name),
                     alt_contact_relation = COALESCE(?8, alt_contact_relation), updated_at = ?9
                 WHERE id = ?1",
                params![
                    id,
                    p.name,
                    p.sex.map(|s| format!("{s:?}")),
                    p.birth_date.map(|b| b.to_string()),
                    p.phone.as_str(),
                    p.alt_phone.as_ref().map(|x| x.as_str().to_string()),
                    p.alt_contact_name,
                    p.alt_contact_relation,
                    now.timestamp()
                ],
            )?;
            id
        }
        None => insert_patient(tx, p, None, now.timestamp())?,
    };
    let actor = Actor {
        id: None,
        name: format!("hl7:{sender}"),
    };
    let mut applied = Applied {
        patient_id: Some(patient_id),
        tasks_created: 0,
    };
    match d.disposition {
        Disposition::Expired => {
            tx.execute(
                "UPDATE patients SET deceased = 1, updated_at = ?2 WHERE id = ?1",
                params![patient_id, now.timestamp()],
            )?;
        }
        Disposition::Transferred => {}
        Disposition::Home => {
            let seen: Option<i64> = match &d.discharge.visit_number {
                Some(v) => tx
                    .query_row(
                        "SELECT id FROM discharges WHERE patient_id = ?1 AND visit_number = ?2",
                        params![patient_id, v],
                        |r| r.get(0),
                    )
                    .optional()?,
                None => None,
            };
            if seen.is_none() {
                match record_discharge(tx, patient_id, &d.discharge, catalog, calendar, now) {
                    Ok(out) => applied.tasks_created = out.tasks_created,
                    Err(StoreError::Invalid(m)) => {
                        return Ok(Err(Hl7Error::at(
                            ErrorCode::TableValueNotFound,
                            "PV1",
                            3,
                            format!("{m} (map it under [hl7] departments)"),
                        )))
                    }
                    Err(e) => return Err(e),
                }
            }
        }
    }
    append(
        tx,
        &actor,
        "hl7_discharge",
        "patient",
        Some(&patient_id.to_string()),
        &format!(
            "mrn={} disposition={:?} tasks={}",
            p.mrn, d.disposition, applied.tasks_created
        ),
        now.timestamp(),
    )?;
    Ok(Ok(applied))
}
