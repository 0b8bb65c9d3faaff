//! Escalations: an abnormal answer must reach a doctor who acknowledges it, every time.
//!
//! Sans-IO, like str0m: nothing here reads a clock, a database or a socket. The store loads the
//! open escalations of a patient and the duty roster, calls [`decide`] with a [`Finding`] and
//! `now`, persists the [`Decision`] (one row per escalation, one event per change), and pushes the
//! notifications. [`due_reescalations`] is the timer: called at start-up and periodically with
//! the persisted rows, it returns who must be called next — so the timers live in the database
//! and fire after a restart, and calling it twice over the same data gives the same answer.
//!
//! De-duplication key: patient + script + rule. While an escalation with that key is not
//! resolved, further findings update it instead of opening another (the store should also hold a
//! unique index on the key for unresolved rows, so concurrent saves cannot race past it).

mod reescalate;
mod roster;
pub mod shift;
#[cfg(test)]
mod tests;
pub mod webhook;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

pub use reescalate::{due_reescalations, Reescalation};
pub use roster::{CareTeamRoster, DepartmentRoster, Level, Roster};

use crate::followup::rules::{Evidence, Finding};
use crate::followup::script::{Bilingual, Route, RuleId, ScriptCode, Severity};

macro_rules! id_newtype {
    ($($(#[$m:meta])* $t:ident($inner:ty);)*) => {$(
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $t(pub $inner);
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    )*};
}

id_newtype! {
    /// A user (doctor, supervisor): `users.id`.
    UserId(i64);
    /// A patient: `patients.id`.
    PatientId(i64);
    /// A department code (`departments.code`, e.g. `cardiology`).
    DepartmentCode(String);
    /// A call: `calls.id`.
    CallId(String);
    /// An escalation row id, assigned by the store.
    EscalationId(i64);
}

/// Patient + script + rule: at most one unresolved escalation per key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DedupeKey {
    /// The patient.
    pub patient: PatientId,
    /// Script code (not version: a new script version must not duplicate an open escalation).
    pub script: ScriptCode,
    /// Rule id.
    pub rule: RuleId,
}

/// Where the finding came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// An answer saved during a call.
    Answer {
        /// The call, if the answer was taken on one.
        call: Option<CallId>,
    },
    /// A red-flag phrase found in the call's transcript after the call.
    Transcript {
        /// The transcribed call.
        call: CallId,
        /// The phrase that matched.
        phrase: String,
        /// The patient's segment where it matched first (what the doctor reads).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        segment: Option<String>,
        /// Link to that second of the recording (`/api/v1/recordings/7/audio#t=65.0`), so the
        /// doctor can hear it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        audio: Option<String>,
    },
    /// A lab result (HL7 ORU^R01) that a `lab()` rule read when it arrived; the evidence's
    /// `labs` say which lab, value, unit and time.
    Lab {
        /// `lab_observations.id` of the result that arrived.
        observation: i64,
        /// MSH-10 of the message that brought it.
        control_id: String,
    },
    /// An answer the patient gave on an SMS link (issue 19), no call involved.
    PatientLink {
        /// `patient_links.id` the answer came through.
        link: i64,
    },
}

/// What the caller knows about the finding besides the rule: whose, which department, from where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingContext {
    /// The patient.
    pub patient: PatientId,
    /// The patient's department (routing of `patient_department` rules and fallback chains).
    pub department: DepartmentCode,
    /// Answer or transcript.
    pub source: Source,
}

/// One piece of evidence attached to an escalation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceEntry {
    /// When it was added.
    pub at: DateTime<Utc>,
    /// Where it came from.
    pub source: Source,
    /// Severity the rule had then.
    pub severity: Severity,
    /// Question, answer, rule, script version.
    pub evidence: Evidence,
    /// What the script told the nurse to tell the patient when this evidence arrived, kept so
    /// the record shows what was advised (issue 20 item 1). Absent in rows written before it
    /// was stored, and for rules without advice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advice: Option<Bilingual>,
}

/// A notification sent to one person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notified {
    /// Who.
    pub user: UserId,
    /// At which level of the chain.
    pub level: Level,
    /// When.
    pub at: DateTime<Utc>,
}

/// What the doctor did about it (FHIR DetectedIssue.mitigation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Called the patient back.
    CallPatient,
    /// Told the patient to go to the emergency room.
    AdviseEr,
    /// Changed the medication.
    AdjustMedication,
    /// Booked a clinic visit.
    BookVisit,
    /// Something else, said in the note.
    Other,
}

/// Lifecycle of an escalation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// Waiting for acknowledgement; re-escalates at `ack_due_at`.
    Open,
    /// A doctor has taken it; no more re-escalation.
    Acknowledged {
        /// Who.
        by: UserId,
        /// When.
        at: DateTime<Utc>,
    },
    /// Closed with a note and an action; a new finding opens a new escalation.
    Resolved {
        /// Who.
        by: UserId,
        /// When.
        at: DateTime<Utc>,
        /// What was done.
        action: Action,
        /// The doctor's note.
        note: String,
    },
}

/// One escalation as persisted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Escalation {
    /// Row id.
    pub id: EscalationId,
    /// Patient + script + rule.
    pub key: DedupeKey,
    /// Department whose chain is used.
    pub department: DepartmentCode,
    /// The rule's route.
    pub route: Route,
    /// Highest severity seen while open.
    pub severity: Severity,
    /// SLA in minutes for each level.
    pub ack_sla_minutes: u32,
    /// Level of the chain reached so far.
    pub level: Level,
    /// When the current level must have acknowledged.
    pub ack_due_at: DateTime<Utc>,
    /// Lifecycle.
    pub status: Status,
    /// When it was opened.
    pub opened_at: DateTime<Utc>,
    /// Everyone notified so far.
    pub notified: Vec<Notified>,
    /// Evidence, oldest first.
    pub evidence: Vec<EvidenceEntry>,
}

impl Escalation {
    /// True while the escalation counts for de-duplication (open or acknowledged).
    pub fn is_unresolved(&self) -> bool {
        !matches!(self.status, Status::Resolved { .. })
    }

    /// True when a doctor must still acknowledge.
    pub fn awaits_ack(&self) -> bool {
        self.status == Status::Open
    }

    /// Builds the persisted row from a decision once the store has given it an id.
    pub fn open(id: EscalationId, new: NewEscalation) -> Self {
        Escalation {
            id,
            key: new.key,
            department: new.department,
            route: new.route,
            severity: new.severity,
            ack_sla_minutes: new.ack_sla_minutes,
            level: new.level,
            ack_due_at: new.ack_due_at,
            status: Status::Open,
            opened_at: new.evidence.at,
            notified: new.notify,
            evidence: vec![new.evidence],
        }
    }

    /// Applies an update decided by [`decide`].
    pub fn apply(&mut self, u: &EscalationUpdate) {
        self.evidence.push(u.evidence.clone());
        if let Some(raise) = &u.raised {
            self.severity = raise.severity;
            self.ack_sla_minutes = raise.ack_sla_minutes;
            self.level = raise.level;
            self.ack_due_at = raise.ack_due_at;
            self.status = Status::Open;
            self.notified.extend(raise.notify.iter().cloned());
        }
    }

    /// A doctor takes the escalation; stops re-escalation.
    pub fn acknowledge(&mut self, by: UserId, now: DateTime<Utc>) -> Result<(), EscalationError> {
        match &self.status {
            Status::Open => {
                self.status = Status::Acknowledged { by, at: now };
                Ok(())
            }
            Status::Acknowledged { by: first, .. } if *first == by => Ok(()),
            Status::Acknowledged { by, .. } => Err(EscalationError::AlreadyAcknowledged {
                id: self.id.clone(),
                by: by.clone(),
            }),
            Status::Resolved { .. } => Err(EscalationError::AlreadyResolved(self.id.clone())),
        }
    }

    /// Closes the escalation with what was done. Resolving an unacknowledged escalation
    /// acknowledges it implicitly. The note is required: it is the clinical record.
    pub fn resolve(
        &mut self,
        by: UserId,
        action: Action,
        note: &str,
        now: DateTime<Utc>,
    ) -> Result<(), EscalationError> {
        if let Status::Resolved { .. } = self.status {
            return Err(EscalationError::AlreadyResolved(self.id.clone()));
        }
        let note = note.trim();
        if note.is_empty() {
            return Err(EscalationError::EmptyNote);
        }
        self.status = Status::Resolved {
            by,
            at: now,
            action,
            note: note.to_owned(),
        };
        Ok(())
    }

    /// Applies a re-escalation returned by [`due_reescalations`].
    pub fn apply_reescalation(&mut self, r: &Reescalation) {
        self.level = r.to;
        self.ack_due_at = r.ack_due_at;
        self.notified.extend(r.notify.iter().cloned());
    }
}

/// A new escalation, before the store assigns its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEscalation {
    /// Patient + script + rule.
    pub key: DedupeKey,
    /// Department whose chain is used.
    pub department: DepartmentCode,
    /// The rule's route.
    pub route: Route,
    /// Severity.
    pub severity: Severity,
    /// SLA per level.
    pub ack_sla_minutes: u32,
    /// Level reached by the first notification.
    pub level: Level,
    /// Deadline for acknowledgement.
    pub ack_due_at: DateTime<Utc>,
    /// Who to notify now. Empty only if the roster names nobody at all: the caller must then
    /// show it on every supervisor console and log an error.
    pub notify: Vec<Notified>,
    /// The first evidence.
    pub evidence: EvidenceEntry,
}

/// A higher severity arrived on an open escalation: it re-opens at the primary level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Raise {
    /// New severity.
    pub severity: Severity,
    /// New SLA.
    pub ack_sla_minutes: u32,
    /// Level reached by the new notification.
    pub level: Level,
    /// New deadline.
    pub ack_due_at: DateTime<Utc>,
    /// Who to notify now.
    pub notify: Vec<Notified>,
}

/// Change to an existing escalation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EscalationUpdate {
    /// Which escalation.
    pub id: EscalationId,
    /// Evidence to append.
    pub evidence: EvidenceEntry,
    /// Set when the severity went up.
    pub raised: Option<Raise>,
}

/// What to do with a finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// No unresolved escalation with this key: open one.
    Open(NewEscalation),
    /// Update the unresolved escalation with this key.
    Update(EscalationUpdate),
    /// The same evidence is already recorded (a retried save): nothing to do.
    Nothing(EscalationId),
}

/// Refused state changes; the API maps them to 409.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EscalationError {
    /// Someone else already acknowledged.
    #[error("escalation {id} was already acknowledged by {by}")]
    AlreadyAcknowledged {
        /// Which.
        id: EscalationId,
        /// By whom.
        by: UserId,
    },
    /// Resolved escalations are closed; a new finding opens a new one.
    #[error("escalation {0} is already resolved")]
    AlreadyResolved(EscalationId),
    /// Resolution needs a note.
    #[error("a resolution needs a note saying what was done")]
    EmptyNote,
}

fn deadline(now: DateTime<Utc>, minutes: u32) -> DateTime<Utc> {
    now + Duration::minutes(i64::from(minutes))
}

/// Decides what a finding does, given the patient's escalations (any status; only unresolved
/// ones with the same key matter), the roster for `now`, and `now`.
pub fn decide(
    escalations: &[Escalation],
    finding: &Finding,
    ctx: &FindingContext,
    roster: &Roster,
    now: DateTime<Utc>,
) -> Decision {
    let key = DedupeKey {
        patient: ctx.patient.clone(),
        script: finding.script.clone(),
        rule: finding.rule.clone(),
    };
    let department = match &finding.route {
        Route::Department(d) => DepartmentCode(d.clone()),
        _ => ctx.department.clone(),
    };
    let evidence = EvidenceEntry {
        at: now,
        source: ctx.source.clone(),
        severity: finding.severity,
        evidence: finding.evidence.clone(),
        advice: finding.advice(),
    };
    let first = |severity| {
        let (level, users) = roster.first_recipients(&finding.route, &department, severity);
        let notify = users
            .into_iter()
            .map(|user| Notified {
                user,
                level,
                at: now,
            })
            .collect::<Vec<_>>();
        (level, notify)
    };
    let existing = escalations
        .iter()
        .filter(|e| e.key == key && e.is_unresolved())
        .min_by_key(|e| e.id.clone());
    let Some(existing) = existing else {
        let (level, notify) = first(finding.severity);
        return Decision::Open(NewEscalation {
            key,
            department,
            route: finding.route.clone(),
            severity: finding.severity,
            ack_sla_minutes: finding.ack_sla_minutes,
            level,
            ack_due_at: deadline(now, finding.ack_sla_minutes),
            notify,
            evidence,
        });
    };
    let raised = finding.severity > existing.severity;
    let already = existing
        .evidence
        .iter()
        .any(|e| e.evidence == finding.evidence && e.source == ctx.source);
    if already && !raised {
        return Decision::Nothing(existing.id.clone());
    }
    let raised = raised.then(|| {
        let (level, notify) = first(finding.severity);
        Raise {
            severity: finding.severity,
            ack_sla_minutes: finding.ack_sla_minutes,
            level,
            ack_due_at: deadline(now, finding.ack_sla_minutes),
            notify,
        }
    });
    Decision::Update(EscalationUpdate {
        id: existing.id.clone(),
        evidence,
        raised,
    })
}
