//! Patient tags as stored (`patient_tags`): the active ones, who or what set them, staff
//! removal (the row stays with `removed_at`, see [`crate::followup::tag::decide`]), and a rule
//! that fired setting them.

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use super::StoreError;
use crate::followup::tag::{Tag, TagSource, TagState};

fn ts(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

/// An active tag on a patient.
#[derive(Debug, Clone, Serialize)]
pub struct PatientTag {
    pub tag: String,
    pub source: Option<TagSource>,
    /// The rule that set it (`source = rule`).
    pub rule_id: Option<String>,
    /// The answer that made the rule fire.
    pub answer_id: Option<i64>,
    pub added_at: Option<DateTime<Utc>>,
}

/// The patient's active tags, by name.
pub fn of_patient(conn: &Connection, patient_id: i64) -> Result<Vec<PatientTag>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT tag, source, rule_id, answer_id, added_at FROM patient_tags
         WHERE patient_id = ?1 AND removed_at IS NULL ORDER BY tag",
    )?;
    let rows = stmt.query_map([patient_id], |r| {
        Ok(PatientTag {
            tag: r.get(0)?,
            source: TagSource::parse(&r.get::<_, String>(1)?),
            rule_id: r.get(2)?,
            answer_id: r.get(3)?,
            added_at: r.get::<_, Option<i64>>(4)?.map(ts),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Where a tag stands on a patient.
pub fn state(tx: &Connection, patient_id: i64, tag: &Tag) -> Result<TagState, StoreError> {
    let removed: Option<Option<i64>> = tx
        .prepare_cached("SELECT removed_at FROM patient_tags WHERE patient_id = ?1 AND tag = ?2")?
        .query_row(params![patient_id, tag.as_str()], |r| r.get(0))
        .optional()?;
    Ok(match removed {
        None => TagState::Absent,
        Some(None) => TagState::Active,
        Some(Some(_)) => TagState::Removed,
    })
}

/// Puts a tag set by a rule on the patient (new, or back after a removal).
pub fn set_by_rule(
    tx: &Transaction,
    patient_id: i64,
    tag: &Tag,
    rule_id: &str,
    answer_id: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO patient_tags (patient_id, tag, source, added_at, rule_id, answer_id)
         VALUES (?1, ?2, 'rule', ?3, ?4, ?5)
         ON CONFLICT (patient_id, tag) DO UPDATE SET source = 'rule', added_at = excluded.added_at,
             rule_id = excluded.rule_id, answer_id = excluded.answer_id,
             removed_at = NULL, removed_by = NULL",
        params![
            patient_id,
            tag.as_str(),
            now.timestamp(),
            rule_id,
            answer_id
        ],
    )?;
    Ok(())
}

/// A staff member takes an active tag off the patient; the row stays as the removal's record.
/// `tag` is any stored tag (`icd10:I50`, a manual one), not only a rule's [`Tag`].
pub fn remove(
    tx: &Transaction,
    patient_id: i64,
    tag: &str,
    user_id: i64,
    now: DateTime<Utc>,
) -> Result<TagSource, StoreError> {
    let source: Option<String> = tx
        .query_row(
            "SELECT source FROM patient_tags WHERE patient_id = ?1 AND tag = ?2 AND removed_at IS NULL",
            params![patient_id, tag],
            |r| r.get(0),
        )
        .optional()?;
    let source = source
        .ok_or_else(|| StoreError::NotFound(format!("tag `{tag}` on patient {patient_id}")))?;
    tx.execute(
        "UPDATE patient_tags SET removed_at = ?3, removed_by = ?4 WHERE patient_id = ?1 AND tag = ?2",
        params![patient_id, tag, now.timestamp(), user_id],
    )?;
    Ok(TagSource::parse(&source).unwrap_or(TagSource::Manual))
}

/// The SQL condition "patient `col` carries the tag bound to `param`": for queue and report
/// filters. `param` is a positional placeholder such as `?3`; NULL means no filter.
pub fn filter_sql(col: &str, param: &str) -> String {
    format!(
        "({param} IS NULL OR {col} IN (SELECT patient_id FROM patient_tags
            WHERE tag = {param} AND removed_at IS NULL))"
    )
}
