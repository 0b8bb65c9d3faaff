//! Robot calls' rows (issue 24): which tasks the robot dialer may take now, one row per robot
//! call attempt, the per-question log supervisors read, and the nurse task that follows a
//! robot call it could not finish.

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, Connection, Transaction};
use serde::Serialize;

use super::StoreError;
use crate::followup::pathway::CallMode;
use crate::robot::dialog::QuestionLog;
use crate::robot::Lang;

/// A robot task due for a call now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RobotTask {
    pub task_id: i64,
    pub patient_id: i64,
    /// The number the retry policy chose (the alternate contact after two failures).
    pub number: String,
    pub lang: Lang,
    pub script_code: String,
    pub mode: CallMode,
}

/// Pending robot tasks whose window is open and whose next attempt is due, for patients who
/// may be called (not do-not-call, not deceased), with no robot call live and no nurse
/// holding them; most urgent first, at most `limit`.
pub fn due_tasks(
    conn: &Connection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<RobotTask>, StoreError> {
    let t = now.timestamp();
    let mut stmt = conn.prepare_cached(
        "SELECT t.id, t.patient_id, t.use_alt_contact, p.phone, p.alt_phone, p.language,
                t.script_code, t.mode
         FROM followup_tasks t JOIN patients p ON p.id = t.patient_id
         WHERE t.status = 'pending' AND t.mode <> 'nurse' AND t.due_at <= ?1
           AND t.window_start_at <= ?1 AND t.window_end_at >= ?1 AND t.next_attempt_at <= ?1
           AND t.script_code IS NOT NULL
           AND p.do_not_call = 0 AND p.deceased = 0
           AND (t.lease_expires_at IS NULL OR t.lease_expires_at <= ?1)
           AND NOT EXISTS (SELECT 1 FROM robot_calls r WHERE r.task_id = t.id AND r.ended_at IS NULL)
         ORDER BY t.priority DESC, t.due_at ASC, t.id ASC
         LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![t, limit], |r| {
        let use_alt: bool = r.get(2)?;
        let phone: String = r.get(3)?;
        let alt: Option<String> = r.get(4)?;
        let lang: String = r.get(5)?;
        let mode: String = r.get(7)?;
        Ok(RobotTask {
            task_id: r.get(0)?,
            patient_id: r.get(1)?,
            number: match (use_alt, alt) {
                (true, Some(alt)) => alt,
                _ => phone,
            },
            lang: Lang::parse(&lang).unwrap_or(Lang::Zh),
            script_code: r.get(6)?,
            mode: CallMode::parse(&mode).unwrap_or(CallMode::Robot),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Robot calls live now (the dialer's concurrency).
pub fn live_calls(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM robot_calls WHERE ended_at IS NULL",
        [],
        |r| r.get(0),
    )?)
}

/// A robot call attempt begins (its `calls` row is written by the call center).
pub fn start_call(
    tx: &Transaction,
    call_id: &str,
    task_id: i64,
    lang: Lang,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO robot_calls (call_id, task_id, lang, started_at) VALUES (?1, ?2, ?3, ?4)",
        params![call_id, task_id, lang.as_str(), now.timestamp()],
    )?;
    Ok(())
}

/// The robot call ended with `outcome` (JSON of the dialog's outcome, or why it never began).
pub fn end_call(
    tx: &Transaction,
    call_id: &str,
    outcome: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE robot_calls SET ended_at = ?2, outcome = ?3 WHERE call_id = ?1 AND ended_at IS NULL",
        params![call_id, now.timestamp(), outcome.to_string()],
    )?;
    Ok(())
}

/// Closes robot calls a crash left open, so their tasks are dialled again (retry policy).
pub fn close_orphans(tx: &Transaction, now: DateTime<Utc>) -> Result<usize, StoreError> {
    Ok(tx.execute(
        "UPDATE robot_calls SET ended_at = ?1, outcome = '{\"outcome\":\"interrupted\"}'
         WHERE ended_at IS NULL",
        [now.timestamp()],
    )?)
}

/// Stores one line of a robot call's per-question log.
pub fn log_question(
    tx: &Transaction,
    call_id: &str,
    log: &QuestionLog,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let status = serde_json::to_value(log.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let value = log
        .value
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Invalid(format!("answer value: {e}")))?;
    tx.execute(
        "INSERT INTO robot_question_log (call_id, question, prompt_at_ms, answer_at_ms, keys,
             value, attempts, status, logged_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            call_id,
            log.question,
            i64::try_from(log.prompt_at_ms).unwrap_or(i64::MAX),
            log.answer_at_ms
                .map(|a| i64::try_from(a).unwrap_or(i64::MAX)),
            log.keys,
            value,
            log.attempts,
            status,
            now.timestamp(),
        ],
    )?;
    Ok(())
}

/// One robot call of a task, with its per-question log, as supervisors read it.
#[derive(Debug, Clone, Serialize)]
pub struct RobotCallView {
    pub call_id: String,
    pub task_id: i64,
    pub lang: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub outcome: Option<serde_json::Value>,
    pub questions: Vec<QuestionLogView>,
}

/// One stored line of the per-question log.
#[derive(Debug, Clone, Serialize)]
pub struct QuestionLogView {
    pub question: String,
    /// Offset of the prompt's start in the call's recording, ms.
    pub prompt_at_ms: i64,
    /// Offset of the answer's completion, ms.
    pub answer_at_ms: Option<i64>,
    pub keys: String,
    pub value: Option<serde_json::Value>,
    pub attempts: i64,
    pub status: String,
}

fn ts(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

/// The robot calls of a task, oldest first, each with its question log.
pub fn calls_of_task(conn: &Connection, task_id: i64) -> Result<Vec<RobotCallView>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT call_id, task_id, lang, started_at, ended_at, outcome FROM robot_calls
         WHERE task_id = ?1 ORDER BY started_at, call_id",
    )?;
    let calls = stmt
        .query_map([task_id], |r| {
            let outcome: Option<String> = r.get(5)?;
            Ok(RobotCallView {
                call_id: r.get(0)?,
                task_id: r.get(1)?,
                lang: r.get(2)?,
                started_at: ts(r.get(3)?),
                ended_at: r.get::<_, Option<i64>>(4)?.map(ts),
                outcome: outcome.and_then(|o| serde_json::from_str(&o).ok()),
                questions: Vec::new(),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut log = conn.prepare_cached(
        "SELECT question, prompt_at_ms, answer_at_ms, keys, value, attempts, status
         FROM robot_question_log WHERE call_id = ?1 ORDER BY id",
    )?;
    let mut out = Vec::with_capacity(calls.len());
    for mut call in calls {
        call.questions = log
            .query_map([&call.call_id], |r| {
                let value: Option<String> = r.get(4)?;
                Ok(QuestionLogView {
                    question: r.get(0)?,
                    prompt_at_ms: r.get(1)?,
                    answer_at_ms: r.get(2)?,
                    keys: r.get(3)?,
                    value: value.and_then(|v| serde_json::from_str(&v).ok()),
                    attempts: r.get(5)?,
                    status: r.get(6)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        out.push(call);
    }
    Ok(out)
}

/// A robot task whose call failed on our side waits until `until` before the dialer takes it
/// again (no attempt is counted: the patient was never rung). Only a pending robot task moves.
pub fn defer(tx: &Transaction, task_id: i64, until: DateTime<Utc>) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE followup_tasks SET next_attempt_at = MAX(next_attempt_at, ?2)
         WHERE id = ?1 AND status = 'pending' AND mode <> 'nurse'",
        params![task_id, until.timestamp()],
    )?;
    Ok(())
}

/// A robot task the robot cannot call (its patient's language is one the robot cannot speak
/// intelligibly) goes to the nurses at once, due now, its step name saying why.
pub fn hand_to_nurses_uncalled(
    tx: &Transaction,
    task_id: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE followup_tasks SET mode = 'nurse', updated_at = ?2,
             step_name = step_name || ' (the robot cannot call in the patient''s language)'
         WHERE id = ?1 AND status = 'pending' AND mode <> 'nurse'",
        params![task_id, now.timestamp()],
    )?;
    Ok(())
}

/// Priority added to a nurse call-back after a robot hand-off nobody took, so it goes to the
/// top of the nurses' queue (pathway priorities are tens).
pub const CALLBACK_PRIORITY_BOOST: i64 = 1_000;

/// Hands robot task `task_id` to the nurses (issue 24: unreached `robot_then_nurse`, or a
/// robot call that reached the patient but did not finish): the same task, so the nurse sees
/// the robot's answers on it, becomes a nurse task due now; with `urgent` (a hand-off nobody
/// took) it goes to the top of the nurses' queue as a call-back, due now. Otherwise a later
/// next attempt the retry policy set (an unanswered `robot_then_nurse` call) stands: the
/// nurse does not ring a patient who just did not answer at once. A task no longer pending
/// is left as it is.
pub fn hand_to_nurses(
    tx: &Transaction,
    task_id: i64,
    urgent: bool,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let boost = if urgent { CALLBACK_PRIORITY_BOOST } else { 0 };
    let step_suffix = if urgent {
        " (call-back after robot hand-off)"
    } else {
        " (after robot call)"
    };
    tx.execute(
        "UPDATE followup_tasks SET mode = 'nurse', priority = priority + ?2,
             next_attempt_at = CASE WHEN ?5 THEN ?3 ELSE MAX(next_attempt_at, ?3) END,
             step_name = step_name || ?4, flagged = CASE WHEN ?5 THEN 'robot_handoff' ELSE flagged END,
             window_end_at = MAX(window_end_at, ?3 + 86400), updated_at = ?3
         WHERE id = ?1 AND status = 'pending'",
        params![task_id, boost, now.timestamp(), step_suffix, urgent],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::followup::script::AnswerValue;
    use crate::robot::dialog::QuestionStatus;

    fn db() -> (tempfile::TempDir, rusqlite::Connection) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut conn = rusqlite::Connection::open(dir.path().join("t.db")).expect("open");
        crate::store::migrate::migrate(&mut conn, 0).expect("migrate");
        (dir, conn)
    }

    fn task(conn: &Connection, patient: i64, mode: &str, due: i64) -> i64 {
        conn.execute(
            "INSERT OR IGNORE INTO patients (id, mrn, name, phone, alt_phone, language, created_at, updated_at)
             VALUES (?1, 'M' || ?1, 'P', '1380000000' || ?1, '1390000000' || ?1, 'en', 0, 0)",
            [patient],
        )
        .expect("patient");
        conn.execute(
            "INSERT INTO followup_tasks (patient_id, step_name, script_code, priority, due_at,
                 window_start_at, window_end_at, mode, created_at, updated_at)
             VALUES (?1, 'Day 1', 'heart-failure', 40, ?2, ?2, ?2 + 86400, ?3, 0, 0)",
            params![patient, due, mode],
        )
        .expect("task");
        conn.last_insert_rowid()
    }

    #[test]
    fn the_dialer_sees_due_robot_tasks_only() {
        let (_dir, mut conn) = db();
        let now = Utc.timestamp_opt(1_000_000, 0).single().expect("time");
        let robot = task(&conn, 1, "robot", 999_000);
        let then_nurse = task(&conn, 2, "robot_then_nurse", 999_000);
        let _nurse = task(&conn, 3, "nurse", 999_000);
        let _future = task(&conn, 4, "robot", 1_100_000);
        let dnc = task(&conn, 5, "robot", 999_000);
        conn.execute("UPDATE patients SET do_not_call = 1 WHERE id = 5", [])
            .expect("dnc");
        let due: Vec<i64> = due_tasks(&conn, now, 10)
            .expect("due")
            .iter()
            .map(|t| t.task_id)
            .collect();
        assert_eq!(
            due,
            vec![robot, then_nurse],
            "not nurse, future or DNC ({dnc})"
        );
        let first = &due_tasks(&conn, now, 10).expect("due")[0];
        assert_eq!(
            (first.lang, first.number.as_str()),
            (Lang::En, "13800000001")
        );
        // a live robot call keeps its task from being dialled again
        let tx = conn.transaction().expect("tx");
        start_call(&tx, "c1", robot, Lang::En, now).expect("start");
        tx.commit().expect("commit");
        assert_eq!(live_calls(&conn).expect("live"), 1);
        let due: Vec<i64> = due_tasks(&conn, now, 10)
            .expect("due")
            .iter()
            .map(|t| t.task_id)
            .collect();
        assert_eq!(due, vec![then_nurse]);
        // a crash leaves it open; recovery closes it and the task is due again
        let tx = conn.transaction().expect("tx");
        assert_eq!(close_orphans(&tx, now).expect("close"), 1);
        tx.commit().expect("commit");
        assert_eq!(due_tasks(&conn, now, 10).expect("due").len(), 2);
        // the nurses' queue never offers robot tasks
        let tx = conn.transaction().expect("tx");
        let built = crate::store::tasks::build_queue(&tx, now).expect("queue");
        tx.commit().expect("commit");
        assert_eq!(built.entries, 1, "only the nurse task is queued");
    }

    #[test]
    fn the_question_log_is_stored_and_read_back() {
        let (_dir, mut conn) = db();
        let now = Utc.timestamp_opt(1_000_000, 0).single().expect("time");
        let id = task(&conn, 1, "robot", 999_000);
        let tx = conn.transaction().expect("tx");
        start_call(&tx, "c1", id, Lang::En, now).expect("start");
        let line = QuestionLog {
            question: "weight".into(),
            prompt_at_ms: 12_000,
            answer_at_ms: Some(17_500),
            keys: "72*5#1".into(),
            value: Some(AnswerValue::Number(72.5)),
            attempts: 1,
            status: QuestionStatus::Answered,
        };
        log_question(&tx, "c1", &line, now).expect("log");
        end_call(&tx, "c1", &serde_json::json!({"outcome": "completed"}), now).expect("end");
        hand_to_nurses(&tx, id, true, now).expect("to the nurses");
        tx.commit().expect("commit");
        let calls = calls_of_task(&conn, id).expect("calls");
        assert_eq!(calls.len(), 1);
        assert_eq!(
            calls[0].outcome,
            Some(serde_json::json!({"outcome": "completed"}))
        );
        let q = &calls[0].questions[0];
        assert_eq!(
            (
                q.question.as_str(),
                q.prompt_at_ms,
                q.answer_at_ms,
                q.keys.as_str()
            ),
            ("weight", 12_000, Some(17_500), "72*5#1")
        );
        assert_eq!(q.status, "answered");
        assert_eq!(
            q.value,
            Some(serde_json::json!({"type": "number", "value": 72.5}))
        );
        let (mode, priority): (String, i64) = conn
            .query_row(
                "SELECT mode, priority FROM followup_tasks WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("follow-up row");
        assert_eq!(
            (mode.as_str(), priority),
            ("nurse", 40 + CALLBACK_PRIORITY_BOOST)
        );
    }

    #[test]
    fn an_unanswered_call_follows_the_retry_policy_and_a_failure_on_our_side_only_waits() {
        use crate::followup::calling_hours::CallingHours;
        use crate::followup::retry::{Disposition, Locale, RetryPolicy};
        use crate::store::tasks::{build_queue, record_robot_disposition, DispositionInput};

        let (_dir, mut conn) = db();
        let locale = Locale {
            tz: chrono_tz::Asia::Shanghai,
            hours: CallingHours::parse("08:30-20:00").expect("hours"),
        };
        // 10:00 in Shanghai, inside calling hours
        let now = Utc
            .with_ymd_and_hms(2026, 3, 2, 2, 0, 0)
            .single()
            .expect("time");
        let id = task(&conn, 1, "robot_then_nurse", now.timestamp() - 600);
        let due_ids = |conn: &Connection, at: DateTime<Utc>| -> Vec<i64> {
            due_tasks(conn, at, 10)
                .expect("due")
                .iter()
                .map(|t| t.task_id)
                .collect()
        };
        assert_eq!(due_ids(&conn, now), vec![id]);

        // the trunk was down: no attempt counted, not dialled again for a while
        let later = now + chrono::Duration::seconds(300);
        let tx = conn.transaction().expect("tx");
        defer(&tx, id, later).expect("defer");
        tx.commit().expect("commit");
        assert!(
            due_ids(&conn, now).is_empty(),
            "waits after a failure on our side"
        );
        assert_eq!(due_ids(&conn, later), vec![id]);
        let attempts: i64 = conn
            .query_row(
                "SELECT attempts_total FROM followup_tasks WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .expect("attempts");
        assert_eq!(attempts, 0);

        // no answer: the nurses' retry policy, an attempt by nobody
        let tx = conn.transaction().expect("tx");
        let input = DispositionInput {
            task_id: id,
            user_id: 0,
            disposition: Disposition::NoAnswer,
            callback_at: None,
            note: Some("robot call"),
            call_id: None,
        };
        let view = record_robot_disposition(&tx, &input, &RetryPolicy::default(), &locale, later)
            .expect("disposition");
        tx.commit().expect("commit");
        assert_eq!((view.status.as_str(), view.attempts_total), ("pending", 1));
        assert_eq!(view.last_disposition.as_deref(), Some("no_answer"));
        assert!(view.next_attempt_at > later, "retried later, not at once");
        let by: Option<i64> = conn
            .query_row(
                "SELECT user_id FROM task_attempts WHERE task_id = ?1",
                [id],
                |r| r.get(0),
            )
            .expect("attempt row");
        assert_eq!(by, None, "no nurse made the attempt");

        // robot_then_nurse: the nurses take it from here, in their queue, not flagged
        let tx = conn.transaction().expect("tx");
        hand_to_nurses(&tx, id, false, later).expect("to the nurses");
        // a nurse task is not the robot's to defer
        defer(&tx, id, later + chrono::Duration::days(1)).expect("defer");
        let built = build_queue(&tx, later).expect("queue");
        tx.commit().expect("commit");
        assert_eq!(built.entries, 1);
        assert!(due_ids(&conn, later).is_empty());
        let (mode, flagged, next): (String, Option<String>, i64) = conn
            .query_row(
                "SELECT mode, flagged, next_attempt_at FROM followup_tasks WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .expect("row");
        assert_eq!((mode.as_str(), flagged), ("nurse", None));
        assert_eq!(
            next,
            view.next_attempt_at.timestamp(),
            "the retry policy's wait stands for the nurse too"
        );

        // a finished task is not the robot's to dispose again
        let tx = conn.transaction().expect("tx");
        tx.execute(
            "UPDATE followup_tasks SET status = 'completed' WHERE id = ?1",
            [id],
        )
        .expect("complete");
        assert!(
            record_robot_disposition(&tx, &input, &RetryPolicy::default(), &locale, later).is_err()
        );
    }

    #[test]
    fn a_task_the_robot_cannot_call_goes_to_the_nurses_once() {
        let (_dir, mut conn) = db();
        let now = Utc.timestamp_opt(1_000_000, 0).single().expect("time");
        let id = task(&conn, 1, "robot", 999_000);
        let tx = conn.transaction().expect("tx");
        hand_to_nurses_uncalled(&tx, id, now).expect("to the nurses");
        // a second time (a stale dialer read) changes nothing
        hand_to_nurses_uncalled(&tx, id, now).expect("again");
        tx.commit().expect("commit");
        assert!(due_tasks(&conn, now, 10).expect("due").is_empty());
        let (mode, step): (String, String) = conn
            .query_row(
                "SELECT mode, step_name FROM followup_tasks WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("row");
        assert_eq!(mode, "nurse");
        assert_eq!(
            step,
            "Day 1 (the robot cannot call in the patient's language)"
        );
    }
}
