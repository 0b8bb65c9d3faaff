//! Who may read what a call said: its recording, the audio and the transcript (issue 21 item 7,
//! HIPAA "minimum necessary").
//!
//! Supervisors review any call (quality, live board) and doctors any call (they act on the
//! escalations calls raise). A nurse reads the calls she took herself, and the calls of a
//! patient whose follow-up task she holds right now (a live lease): the nurse making the day-3
//! call may listen to what the patient said on day 1, but cannot browse patients she is not
//! working. Everything else in a patient's record (answers, the timeline's call list) is not
//! narrowed here; only the words and the voice.

use rusqlite::{params, Connection, OptionalExtension};

use super::StoreError;
use crate::auth::role::Role;
use crate::store::users::User;

/// Whose reading rights apply to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallReader {
    /// Supervisors and doctors: every call.
    AnyCall,
    /// A nurse at `now` (Unix seconds; leases are compared with it).
    Nurse { user_id: i64, now: i64 },
}

/// The condition a nurse's calls meet, for a query that has the call as `c` and binds the
/// nurse's id to `?{user}` and `now` to `?{now}`.
fn nurse_condition(user: usize, now: usize) -> String {
    format!(
        "(c.agent_id = ?{user} OR EXISTS (SELECT 1 FROM followup_tasks ft
             WHERE ft.patient_id = c.patient_id AND ft.lease_owner = ?{user}
               AND ft.lease_expires_at > ?{now}))"
    )
}

impl CallReader {
    pub fn of(user: &User, now: i64) -> CallReader {
        match user.role {
            Role::Nurse => CallReader::Nurse {
                user_id: user.id,
                now,
            },
            Role::Supervisor | Role::Doctor | Role::Admin => CallReader::AnyCall,
        }
    }

    /// The two values a scoped query binds: `(NULL, NULL)` for any call.
    pub fn bindings(self) -> (Option<i64>, Option<i64>) {
        match self {
            CallReader::AnyCall => (None, None),
            CallReader::Nurse { user_id, now } => (Some(user_id), Some(now)),
        }
    }

    /// A `WHERE` term for a query over calls aliased `c`, binding the nurse at `?{user}` and
    /// `now` at `?{now}` (both NULL for any call).
    pub fn sql_term(user: usize, now: usize) -> String {
        format!("(?{user} IS NULL OR {})", nurse_condition(user, now))
    }

    /// Whether this reader may read call `call_id`. A call that does not exist is `NotFound`.
    pub fn may_read_call(self, conn: &Connection, call_id: &str) -> Result<bool, StoreError> {
        let (user, now) = self.bindings();
        let sql = format!(
            "SELECT {} FROM calls c WHERE c.id = ?1",
            CallReader::sql_term(2, 3)
        );
        conn.query_row(&sql, params![call_id, user, now], |r| r.get::<_, bool>(0))
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("call {call_id}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE calls (id TEXT PRIMARY KEY, patient_id INTEGER, agent_id INTEGER);
             CREATE TABLE followup_tasks (id INTEGER PRIMARY KEY, patient_id INTEGER,
                 lease_owner INTEGER, lease_expires_at INTEGER);
             INSERT INTO calls VALUES ('by-7', 1, 7), ('by-8', 1, 8), ('other', 2, 8);
             INSERT INTO followup_tasks VALUES (1, 1, NULL, NULL), (2, 2, 9, 1000);",
        )
        .unwrap();
        c
    }

    #[test]
    fn a_nurse_reads_her_own_calls_only() {
        let c = db();
        let nurse = CallReader::Nurse {
            user_id: 7,
            now: 500,
        };
        assert!(nurse.may_read_call(&c, "by-7").unwrap());
        assert!(!nurse.may_read_call(&c, "by-8").unwrap());
        assert!(!nurse.may_read_call(&c, "other").unwrap());
        assert!(matches!(
            nurse.may_read_call(&c, "missing"),
            Err(StoreError::NotFound(_))
        ));
    }

    #[test]
    fn holding_a_task_of_the_patient_opens_that_patients_calls_while_the_lease_lasts() {
        let c = db();
        let holder = |now| CallReader::Nurse { user_id: 9, now };
        assert!(holder(999).may_read_call(&c, "other").unwrap());
        assert!(
            !holder(999).may_read_call(&c, "by-7").unwrap(),
            "another patient"
        );
        assert!(
            !holder(1000).may_read_call(&c, "other").unwrap(),
            "lease over"
        );
    }

    #[test]
    fn supervisors_and_doctors_read_any_call() {
        let c = db();
        assert!(CallReader::AnyCall.may_read_call(&c, "by-8").unwrap());
    }
}
