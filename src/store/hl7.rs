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
use crate::followup::patient::ValidPatient;
use crate::hl7::adt::{Discharge, Disposition, VisitRef};
use crate::hl7::message::{ErrorCode, Hl7Error};

/// What the sender's message is, as far as storing it goes.
#[derive(Debug, Clone)]
pub struct Received {
    /// The sender's address; `None` for a message replayed from the store, whose row keeps the
    /// address it came from.
    pub peer: Option<String>,
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

/// The message received before under the same sender and control id. `control_id <> ''`
/// repeats the unique index's own condition: without it SQLite cannot tell that the bound
/// control id is not empty, does not use the partial index, and scans every stored message
/// (the cost of each message grew with the table: 669 -> 311 msg/s after 4,000 discharges).
const PRIOR_MESSAGE: &str = "SELECT id, status, ack_code FROM hl7_messages
     WHERE sending_application = ?1 AND sending_facility = ?2 AND control_id = ?3
       AND control_id <> ''";

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
            PRIOR_MESSAGE,
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
                "UPDATE hl7_messages SET received_at = ?2, peer = COALESCE(?3, peer), raw = ?4, charset = ?5,
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
                    msg.peer.as_deref().unwrap_or("replay"),
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
    let existing = patient_by_mrn(tx, &p.mrn)?;
    let patient_id = match existing {
        Some(id) => {
            update_patient(tx, id, p, now)?;
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
            let visit = d.discharge.visit_number.as_deref();
            let seen: Option<i64> = match visit {
                Some(v) => tx
                    .query_row(
                        "SELECT id FROM discharges
                         WHERE patient_id = ?1 AND visit_number = ?2 AND cancelled_at IS NULL",
                        params![patient_id, v],
                        |r| r.get(0),
                    )
                    .optional()?,
                None => None,
            };
            // a cancellation that came first: this discharge is the one it took back when it
            // happened before the cancellation; either way the marker is used up
            let cancelled_first: Option<i64> = match visit {
                Some(v) => tx
                    .query_row(
                        "DELETE FROM hl7_cancelled_visits WHERE mrn = ?1 AND visit_number = ?2
                         RETURNING cancelled_at",
                        params![p.mrn, v],
                        |r| r.get(0),
                    )
                    .optional()?,
                None => None,
            };
            let taken_back =
                cancelled_first.is_some_and(|at| d.discharge.discharged_at.timestamp() <= at);
            if seen.is_none() && !taken_back {
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

pub(super) fn update_patient(
    tx: &Transaction,
    id: i64,
    p: &ValidPatient,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
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
    Ok(())
}

/// The patient an MRN names: after an A40 merge, the prior MRN names the surviving patient.
pub(super) fn patient_by_mrn(tx: &Transaction, mrn: &str) -> Result<Option<i64>, StoreError> {
    Ok(tx
        .query_row(
            "SELECT COALESCE(merged_into, id) FROM patients WHERE mrn = ?1",
            [mrn],
            |r| r.get(0),
        )
        .optional()?)
}

/// ADT^A08: the patient's details as the HIS has them now. An MRN suifang does not know is
/// refused (AE 204): an update creates nobody.
pub fn apply_update(
    tx: &Transaction,
    p: &ValidPatient,
    sender: &str,
    now: DateTime<Utc>,
) -> Result<Result<Applied, Hl7Error>, StoreError> {
    let Some(id) = patient_by_mrn(tx, &p.mrn)? else {
        return Ok(Err(Hl7Error::at(
            ErrorCode::UnknownKey,
            "PID",
            3,
            format!("no patient with MRN `{}` (an update creates nobody)", p.mrn),
        )));
    };
    update_patient(tx, id, p, now)?;
    let actor = Actor {
        id: None,
        name: format!("hl7:{sender}"),
    };
    append(
        tx,
        &actor,
        "hl7_update",
        "patient",
        Some(&id.to_string()),
        &format!("mrn={}", p.mrn),
        now.timestamp(),
    )?;
    Ok(Ok(Applied {
        patient_id: Some(id),
        tasks_created: 0,
    }))
}

/// ADT^A13: the discharge of this visit did not happen. Its enrolment is cancelled with the
/// tasks nobody has worked yet (no attempt, not held by a nurse now); worked tasks, calls and
/// answers stay. A cancellation of a visit suifang has not seen yet is remembered, so the
/// discharge it cancels enrols nobody when it arrives.
pub fn apply_cancel_discharge(
    tx: &Transaction,
    v: &VisitRef,
    sender: &str,
    now: DateTime<Utc>,
) -> Result<Result<Applied, Hl7Error>, StoreError> {
    let patient = patient_by_mrn(tx, &v.mrn)?;
    let discharge: Option<i64> = match patient {
        Some(pid) => tx
            .query_row(
                "SELECT id FROM discharges
                 WHERE patient_id = ?1 AND visit_number = ?2 AND cancelled_at IS NULL
                 ORDER BY id DESC LIMIT 1",
                params![pid, v.visit_number],
                |r| r.get(0),
            )
            .optional()?,
        None => None,
    };
    let mut cancelled_tasks = 0;
    match discharge {
        Some(id) => {
            tx.execute(
                "UPDATE discharges SET cancelled_at = ?2 WHERE id = ?1",
                params![id, now.timestamp()],
            )?;
            tx.execute(
                "UPDATE enrollments SET status = 'cancelled' WHERE discharge_id = ?1",
                [id],
            )?;
            cancelled_tasks = tx.execute(
                "UPDATE followup_tasks SET status = 'cancelled', updated_at = ?2
                 WHERE enrollment_id IN (SELECT id FROM enrollments WHERE discharge_id = ?1)
                   AND status IN ('pending', 'paused') AND attempts_total = 0
                   AND (lease_owner IS NULL OR lease_expires_at <= ?2)",
                params![id, now.timestamp()],
            )?;
            tx.execute(
                "DELETE FROM queue_entries WHERE task_id IN
                     (SELECT t.id FROM followup_tasks t JOIN enrollments e ON e.id = t.enrollment_id
                      WHERE e.discharge_id = ?1 AND t.status = 'cancelled')",
                [id],
            )?;
        }
        None => {
            tx.execute(
                "INSERT INTO hl7_cancelled_visits (mrn, visit_number, cancelled_at)
                 VALUES (?1, ?2, ?3)
                 ON CONFLICT (mrn, visit_number) DO UPDATE SET cancelled_at = excluded.cancelled_at",
                params![v.mrn, v.visit_number, v.event_at.timestamp()],
            )?;
        }
    }
    let actor = Actor {
        id: None,
        name: format!("hl7:{sender}"),
    };
    append(
        tx,
        &actor,
        "hl7_cancel_discharge",
        "patient",
        patient.map(|p| p.to_string()).as_deref(),
        &format!(
            "mrn={} visit={} found={} tasks_cancelled={cancelled_tasks}",
            v.mrn,
            v.visit_number,
            discharge.is_some()
        ),
        now.timestamp(),
    )?;
    Ok(Ok(Applied {
        patient_id: patient,
        tasks_created: 0,
    }))
}

/// One stored message as the interfaces view lists it (without its bytes).
#[derive(Debug, Clone, serde::Serialize)]
pub struct MessageRow {
    pub id: i64,
    pub received_at: i64,
    pub peer: String,
    pub sending_application: String,
    pub sending_facility: String,
    pub control_id: String,
    pub message_type: String,
    pub charset: Option<String>,
    pub status: String,
    pub ack_code: String,
    pub error: Option<String>,
    pub patient_id: Option<i64>,
    pub attempts: i64,
}

const MESSAGE_COLUMNS: &str = "id, received_at, peer, sending_application, sending_facility,
    control_id, message_type, charset, status, ack_code, error, patient_id, attempts";

fn message_row(r: &rusqlite::Row) -> rusqlite::Result<MessageRow> {
    Ok(MessageRow {
        id: r.get(0)?,
        received_at: r.get(1)?,
        peer: r.get(2)?,
        sending_application: r.get(3)?,
        sending_facility: r.get(4)?,
        control_id: r.get(5)?,
        message_type: r.get(6)?,
        charset: r.get(7)?,
        status: r.get(8)?,
        ack_code: r.get(9)?,
        error: r.get(10)?,
        patient_id: r.get(11)?,
        attempts: r.get(12)?,
    })
}

/// The newest messages, optionally only those with `status` (`failed`, `rejected`, `applied`).
pub fn list(
    conn: &rusqlite::Connection,
    status: Option<&str>,
    limit: i64,
) -> Result<Vec<MessageRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM hl7_messages
         WHERE ?1 IS NULL OR status = ?1 ORDER BY id DESC LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![status, limit], message_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One stored message.
pub fn get(conn: &rusqlite::Connection, id: i64) -> Result<MessageRow, StoreError> {
    conn.query_row(
        &format!("SELECT {MESSAGE_COLUMNS} FROM hl7_messages WHERE id = ?1"),
        [id],
        message_row,
    )
    .optional()?
    .ok_or_else(|| StoreError::NotFound(format!("HL7 message {id}")))
}

/// A stored message's bytes as received, for a replay.
pub fn raw(conn: &rusqlite::Connection, id: i64) -> Result<Vec<u8>, StoreError> {
    conn.query_row("SELECT raw FROM hl7_messages WHERE id = ?1", [id], |r| {
        r.get(0)
    })
    .optional()?
    .ok_or_else(|| StoreError::NotFound(format!("HL7 message {id}")))
}

#[cfg(test)]
mod plan_tests {
    use super::PRIOR_MESSAGE;

    /// The resend check must be an index search, not a scan of every message ever received.
    #[tokio::test]
    async fn the_resend_check_searches_the_index() {
        let (_dir, store) = crate::store::temp_store();
        let plan: Vec<String> = store
            .write(|tx| {
                let mut stmt = tx.prepare(&format!("EXPLAIN QUERY PLAN {PRIOR_MESSAGE}"))?;
                let rows = stmt.query_map(["HIS", "HOSP", "MSG1"], |r| r.get::<_, String>(3))?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await
            .unwrap();
        assert!(
            plan.iter()
                .any(|p| p.contains("USING INDEX hl7_messages_key")),
            "{plan:?}"
        );
        assert!(!plan.iter().any(|p| p.starts_with("SCAN")), "{plan:?}");
    }
}
