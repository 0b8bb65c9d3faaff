//! Clinical notes on a patient (issue 20 item 5): free text, or a small structured record of a
//! known kind with its text. A note is corrected only by a new version; the store keeps every
//! version. This module checks what a note may contain; it does no I/O.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use thiserror::Error;

/// Longest note text, in characters.
pub const MAX_BODY_CHARS: usize = 4000;
/// Longest correction reason, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// What a note records. Structured kinds carry a JSON object (`data`) checked by [`check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    /// Free text only; `data` must be absent.
    Free,
    /// A medication started, stopped or changed: `{"drug", "change": start|stop|dose|other,
    /// "dose"?}`.
    MedicationChange,
    /// A follow-up plan: `{"action", "due"?: "YYYY-MM-DD"}`.
    Plan,
}

impl NoteKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoteKind::Free => "free",
            NoteKind::MedicationChange => "medication_change",
            NoteKind::Plan => "plan",
        }
    }

    /// Reads a stored kind; unknown values (a newer binary wrote them) read as free text.
    pub fn from_stored(s: &str) -> NoteKind {
        match s {
            "medication_change" => NoteKind::MedicationChange,
            "plan" => NoteKind::Plan,
            _ => NoteKind::Free,
        }
    }
}

/// Why a note was refused; each names the field to fix.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NoteError {
    #[error("body: must not be empty")]
    EmptyBody,
    #[error("body: at most {MAX_BODY_CHARS} characters")]
    BodyTooLong,
    #[error("reason: at most {MAX_REASON_CHARS} characters")]
    ReasonTooLong,
    #[error("data: a `{0}` note has no data (free text goes in body)")]
    UnexpectedData(&'static str),
    #[error("data: a `{0}` note needs a JSON object with {1}")]
    MissingData(&'static str, &'static str),
    #[error("data.{0}: {1}")]
    BadField(&'static str, String),
    #[error("data: unknown key `{0}` (expected {1})")]
    UnknownKey(String, String),
}

impl NoteError {
    /// The request field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            NoteError::EmptyBody | NoteError::BodyTooLong => "body",
            NoteError::ReasonTooLong => "reason",
            _ => "data",
        }
    }
}

/// A note's content as written by its author, checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NoteContent {
    pub kind: NoteKind,
    pub body: String,
    pub data: Option<Value>,
}

fn text(
    obj: &Map<String, Value>,
    key: &'static str,
    max: usize,
) -> Result<Option<String>, NoteError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) if s.chars().count() > max => Err(NoteError::BadField(
            key,
            format!("at most {max} characters"),
        )),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
        Some(_) => Err(NoteError::BadField(key, "must be a string".into())),
    }
}

/// Checks a note: a non-empty body, and `data` shaped as its kind says (unknown keys refused, so
/// a typo does not silently drop a dose). Returns the content with `data` normalised.
pub fn check(kind: NoteKind, body: &str, data: Option<Value>) -> Result<NoteContent, NoteError> {
    let body = body.trim();
    if body.is_empty() {
        return Err(NoteError::EmptyBody);
    }
    if body.chars().count() > MAX_BODY_CHARS {
        return Err(NoteError::BodyTooLong);
    }
    let data = data.filter(|d| !d.is_null());
    let data = match kind {
        NoteKind::Free => match data {
            None => None,
            Some(_) => return Err(NoteError::UnexpectedData(kind.as_str())),
        },
        NoteKind::MedicationChange => {
            const NEEDS: &str = "`drug` and `change` (start, stop, dose or other)";
            let Some(Value::Object(obj)) = data else {
                return Err(NoteError::MissingData(kind.as_str(), NEEDS));
            };
            only(&obj, &["drug", "change", "dose"])?;
            let drug = text(&obj, "drug", 100)?
                .ok_or_else(|| NoteError::BadField("drug", "required".into()))?;
            let change = text(&obj, "change", 10)?
                .ok_or_else(|| NoteError::BadField("change", "required".into()))?;
            if !["start", "stop", "dose", "other"].contains(&change.as_str()) {
                return Err(NoteError::BadField(
                    "change",
                    format!("`{change}` is not start, stop, dose or other"),
                ));
            }
            let mut out = serde_json::json!({"drug": drug, "change": change});
            if let Some(dose) = text(&obj, "dose", 100)? {
                out["dose"] = Value::String(dose);
            }
            Some(out)
        }
        NoteKind::Plan => {
            let Some(Value::Object(obj)) = data else {
                return Err(NoteError::MissingData(kind.as_str(), "`action`"));
            };
            only(&obj, &["action", "due"])?;
            let action = text(&obj, "action", 200)?
                .ok_or_else(|| NoteError::BadField("action", "required".into()))?;
            let mut out = serde_json::json!({"action": action});
            if let Some(due) = text(&obj, "due", 10)? {
                NaiveDate::parse_from_str(&due, "%Y-%m-%d").map_err(|_| {
                    NoteError::BadField("due", format!("`{due}` is not YYYY-MM-DD"))
                })?;
                out["due"] = Value::String(due);
            }
            Some(out)
        }
    };
    Ok(NoteContent {
        kind,
        body: body.to_owned(),
        data,
    })
}

fn only(obj: &Map<String, Value>, keys: &[&'static str]) -> Result<(), NoteError> {
    match obj.keys().find(|k| !keys.contains(&k.as_str())) {
        Some(k) => Err(NoteError::UnknownKey(k.clone(), keys.join(", "))),
        None => Ok(()),
    }
}

/// Checks a correction's reason (optional, bounded).
pub fn check_reason(reason: Option<String>) -> Result<Option<String>, NoteError> {
    match reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty())
    {
        Some(r) if r.chars().count() > MAX_REASON_CHARS => Err(NoteError::ReasonTooLong),
        r => Ok(r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepted_notes() {
        let n = check(NoteKind::Free, "  家属诉患者夜间咳嗽  ", None).unwrap();
        assert_eq!(n.body, "家属诉患者夜间咳嗽");
        assert_eq!(n.data, None);
        let n = check(
            NoteKind::MedicationChange,
            "furosemide up",
            Some(json!({"drug": "furosemide", "change": "dose", "dose": "40 mg qd"})),
        )
        .unwrap();
        assert_eq!(n.data.unwrap()["dose"], "40 mg qd");
        let n = check(
            NoteKind::Plan,
            "recheck",
            Some(json!({"action": "weigh daily", "due": "2026-12-10"})),
        )
        .unwrap();
        assert_eq!(n.data.unwrap()["due"], "2026-12-10");
    }

    #[test]
    fn refused_notes_name_the_field() {
        let long = "x".repeat(MAX_BODY_CHARS + 1);
        let cases: Vec<(NoteKind, &str, Option<Value>, &str)> = vec![
            (NoteKind::Free, "   ", None, "body"),
            (NoteKind::Free, &long, None, "body"),
            (NoteKind::Free, "x", Some(json!({"a": 1})), "data"),
            (NoteKind::MedicationChange, "x", None, "data"),
            (
                NoteKind::MedicationChange,
                "x",
                Some(json!({"drug": "a"})),
                "data",
            ),
            (
                NoteKind::MedicationChange,
                "x",
                Some(json!({"drug": "a", "change": "double"})),
                "data",
            ),
            (
                NoteKind::MedicationChange,
                "x",
                Some(json!({"drug": 3, "change": "stop"})),
                "data",
            ),
            (
                NoteKind::MedicationChange,
                "x",
                Some(json!({"drug": "a", "change": "stop", "dos": "1"})),
                "data",
            ),
            (
                NoteKind::Plan,
                "x",
                Some(json!({"action": "a", "due": "tomorrow"})),
                "data",
            ),
            (NoteKind::Plan, "x", Some(json!("weigh")), "data"),
        ];
        for (kind, body, data, field) in cases {
            let err = check(kind, body, data.clone()).expect_err(&format!("{kind:?} {data:?}"));
            assert_eq!(err.field(), field, "{err}");
        }
        let typo = check(
            NoteKind::MedicationChange,
            "x",
            Some(json!({"drug": "a", "change": "stop", "dos": "1"})),
        )
        .unwrap_err();
        assert_eq!(
            typo.to_string(),
            "data: unknown key `dos` (expected drug, change, dose)"
        );
        let missing = check(NoteKind::Plan, "x", Some(json!({"due": "2026-12-10"}))).unwrap_err();
        assert_eq!(missing.to_string(), "data.action: required");
        assert_eq!(
            check_reason(Some("y".repeat(MAX_REASON_CHARS + 1))),
            Err(NoteError::ReasonTooLong)
        );
        assert_eq!(check_reason(Some("  ".into())), Ok(None));
    }

    #[test]
    fn stored_kinds_read_back() {
        for k in [NoteKind::Free, NoteKind::MedicationChange, NoteKind::Plan] {
            assert_eq!(NoteKind::from_stored(k.as_str()), k);
        }
    }
}
