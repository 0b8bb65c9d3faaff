//! The recordings browser (calls with a recording, filtered) and quality reviews of calls.

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};

use super::StoreError;

fn ts(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

/// Filters of the recordings browser; all optional, combined with AND.
#[derive(Debug, Clone, Default)]
pub struct RecordingFilter {
    /// Call started at or after (Unix seconds).
    pub from: Option<i64>,
    /// Call started before (Unix seconds).
    pub to: Option<i64>,
    pub agent_id: Option<i64>,
    pub patient_id: Option<i64>,
    /// Patient name or MRN contains.
    pub patient: Option<String>,
    pub disposition: Option<String>,
    pub escalated: Option<bool>,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RecordingRow {
    pub recording_id: i64,
    pub call_id: String,
    pub task_id: Option<i64>,
    pub started_at: DateTime<Utc>,
    pub duration_ms: Option<i64>,
    pub status: String,
    pub agent_id: Option<i64>,
    pub agent_name: Option<String>,
    pub patient_id: Option<i64>,
    pub patient_name: Option<String>,
    pub mrn: Option<String>,
    pub disposition: Option<String>,
    pub escalated: bool,
    pub transcribed: bool,
    /// Latest QA total (0–12) if the call was reviewed.
    pub review_total: Option<i64>,
    /// When the retention policy deleted the audio (the row and transcript stay).
    pub purged_at: Option<DateTime<Utc>>,
    /// Why the recording is kept whatever its age, if someone put it on hold.
    pub hold_reason: Option<String>,
}

/// An escalation of the patient opened during the call or within an hour after it counts as
/// coming from the call (answers are saved while talking; wrap-up may take a while).
const ESCALATED: &str = "EXISTS(SELECT 1 FROM escalations e WHERE e.patient_id = c.patient_id
    AND e.opened_at >= c.started_at AND e.opened_at <= COALESCE(c.ended_at, c.started_at) + 3600)";

pub fn list(
    conn: &Connection,
    f: &RecordingFilter,
) -> Result<(Vec<RecordingRow>, i64), StoreError> {
    let mut conds: Vec<String> = Vec::new();
    let mut args: Vec<SqlValue> = Vec::new();
    let mut push = |cond: &str, v: SqlValue| {
        args.push(v);
        conds.push(cond.replace('?', &format!("?{}", args.len())));
    };
    if let Some(v) = f.from {
        push("c.started_at >= ?", v.into());
    }
    if let Some(v) = f.to {
        push("c.started_at < ?", v.into());
    }
    if let Some(v) = f.agent_id {
        push("c.agent_id = ?", v.into());
    }
    if let Some(v) = f.patient_id {
        push("c.patient_id = ?", v.into());
    }
    if let Some(v) = &f.disposition {
        push("c.disposition = ?", v.clone().into());
    }
    if let Some(v) = &f.patient {
        // one parameter used twice
        args.push(v.clone().into());
        let n = args.len();
        conds.push(format!("(p.name LIKE '%' || ?{n} || '%' OR p.mrn = ?{n})"));
    }
    if let Some(v) = f.escalated {
        conds.push(if v {
            ESCALATED.to_string()
        } else {
            format!("NOT {ESCALATED}")
        });
    }
    let filter = if conds.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conds.join(" AND "))
    };
    let from = "FROM recordings r JOIN calls c ON c.id = r.call_id
        LEFT JOIN patients p ON p.id = c.patient_id LEFT JOIN users u ON u.id = c.agent_id";
    let total: i64 = conn.query_row(
        &format!("SELECT COUNT(*) {from} {filter}"),
        params_from_iter(args.iter()),
        |r| r.get(0),
    )?;
    let n = args.len();
    let sql = format!(
        "SELECT r.id, c.id, c.task_id, c.started_at, r.duration_ms, r.status, c.agent_id,
            u.display_name, c.patient_id, p.name, p.mrn, c.disposition, {ESCALATED},
            EXISTS(SELECT 1 FROM transcripts x WHERE x.recording_id = r.id AND x.status = 'done'),
            (SELECT identity_checked + consent_announced + script_followed + red_flags_handled
                + communication + documentation FROM call_reviews v WHERE v.call_id = c.id
                ORDER BY v.created_at DESC, v.id DESC LIMIT 1),
            r.purged_at, r.hold_reason
         {from} {filter} ORDER BY c.started_at DESC, r.id DESC LIMIT ?{} OFFSET ?{}",
        n + 1,
        n + 2
    );
    let mut all = args.clone();
    all.push(f.limit.into());
    all.push(f.offset.into());
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params_from_iter(all.iter()), |r| {
        Ok(RecordingRow {
            recording_id: r.get(0)?,
            call_id: r.get(1)?,
            task_id: r.get(2)?,
            started_at: ts(r.get(3)?),
            duration_ms: r.get(4)?,
            status: r.get(5)?,
            agent_id: r.get(6)?,
            agent_name: r.get(7)?,
            patient_id: r.get(8)?,
            patient_name: r.get(9)?,
            mrn: r.get(10)?,
            disposition: r.get(11)?,
            escalated: r.get(12)?,
            transcribed: r.get(13)?,
            review_total: r.get(14)?,
            purged_at: r.get::<_, Option<i64>>(15)?.map(ts),
            hold_reason: r.get(16)?,
        })
    })?;
    Ok((rows.collect::<Result<_, _>>()?, total))
}

/// Where a recording's file is, and which call it belongs to.
pub fn recording_file(conn: &Connection, id: i64) -> Result<(String, String), StoreError> {
    conn.query_row(
        "SELECT path, call_id FROM recordings WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()?
    .ok_or_else(|| StoreError::NotFound(format!("recording {id}")))
}

/// The QA rubric: each criterion scores 0 (not done), 1 (partly) or 2 (fully).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Scores {
    pub identity_checked: u8,
    pub consent_announced: u8,
    pub script_followed: u8,
    pub red_flags_handled: u8,
    pub communication: u8,
    pub documentation: u8,
}

impl Scores {
    pub const MAX_EACH: u8 = 2;

    fn all(&self) -> [(&'static str, u8); 6] {
        [
            ("identity_checked", self.identity_checked),
            ("consent_announced", self.consent_announced),
            ("script_followed", self.script_followed),
            ("red_flags_handled", self.red_flags_handled),
            ("communication", self.communication),
            ("documentation", self.documentation),
        ]
    }

    /// The first criterion out of range, for a 422 naming it.
    pub fn invalid(&self) -> Option<&'static str> {
        self.all()
            .into_iter()
            .find(|(_, v)| *v > Self::MAX_EACH)
            .map(|(k, _)| k)
    }

    pub fn total(&self) -> u32 {
        self.all().iter().map(|(_, v)| u32::from(*v)).sum()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Review {
    pub id: i64,
    pub call_id: String,
    pub reviewer_id: i64,
    pub reviewer: String,
    pub scores: Scores,
    pub total: u32,
    pub max: u32,
    pub comment: String,
    pub created_at: DateTime<Utc>,
}

pub fn add_review(
    tx: &Transaction,
    call_id: &str,
    reviewer_id: i64,
    scores: &Scores,
    comment: &str,
    now: i64,
) -> Result<i64, StoreError> {
    let exists: bool = tx.query_row(
        "SELECT EXISTS(SELECT 1 FROM calls WHERE id = ?1)",
        [call_id],
        |r| r.get(0),
    )?;
    if !exists {
        return Err(StoreError::NotFound(format!("call {call_id}")));
    }
    tx.execute(
        "INSERT INTO call_reviews (call_id, reviewer_id, identity_checked, consent_announced,
            script_followed, red_flags_handled, communication, documentation, comment, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            call_id,
            reviewer_id,
            scores.identity_checked,
            scores.consent_announced,
            scores.script_followed,
            scores.red_flags_handled,
            scores.communication,
            scores.documentation,
            comment,
            now
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

pub fn reviews(conn: &Connection, call_id: &str) -> Result<Vec<Review>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT v.id, v.call_id, v.reviewer_id, u.display_name, v.identity_checked,
            v.consent_announced, v.script_followed, v.red_flags_handled, v.communication,
            v.documentation, v.comment, v.created_at
         FROM call_reviews v JOIN users u ON u.id = v.reviewer_id
         WHERE v.call_id = ?1 ORDER BY v.created_at DESC, v.id DESC",
    )?;
    let rows = stmt.query_map([call_id], |r| {
        let scores = Scores {
            identity_checked: r.get(4)?,
            consent_announced: r.get(5)?,
            script_followed: r.get(6)?,
            red_flags_handled: r.get(7)?,
            communication: r.get(8)?,
            documentation: r.get(9)?,
        };
        Ok(Review {
            id: r.get(0)?,
            call_id: r.get(1)?,
            reviewer_id: r.get(2)?,
            reviewer: r.get(3)?,
            total: scores.total(),
            max: 6 * u32::from(Scores::MAX_EACH),
            scores,
            comment: r.get(10)?,
            created_at: ts(r.get(11)?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
