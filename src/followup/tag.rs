//! Patient tags (issue 20 item 6): short codes such as `fluid-overload-risk` that a script rule,
//! a diagnosis or a staff member puts on a patient, shown on the patient and filterable in the
//! queue and the reports.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A tag: lowercase ASCII letters and digits joined by `-`, 1–40 characters, starting with a
/// letter (`fluid-overload-risk`). Checked once, so a tag is safe in a URL and a CSV.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Tag(String);

/// Longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 40;

/// A string that is not a tag.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("tag `{0}`: use 1-40 lowercase letters, digits and `-`, starting with a letter (e.g. `fluid-overload-risk`)")]
pub struct TagError(pub String);

impl Tag {
    /// Checks `s`.
    pub fn parse(s: &str) -> Result<Tag, TagError> {
        let ok = !s.is_empty()
            && s.len() <= MAX_TAG_CHARS
            && s.as_bytes()[0].is_ascii_lowercase()
            && !s.ends_with('-')
            && !s.contains("--")
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Tag(s.to_owned()))
        } else {
            Err(TagError(s.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Tag {
    type Error = TagError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Tag::parse(&s)
    }
}

impl From<Tag> for String {
    fn from(t: Tag) -> String {
        t.0
    }
}

/// Where a patient's tag came from (`patient_tags.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TagSource {
    Manual,
    Diagnosis,
    Department,
    Pathway,
    Rule,
    Queue,
}

impl TagSource {
    pub fn as_str(self) -> &'static str {
        match self {
            TagSource::Manual => "manual",
            TagSource::Diagnosis => "diagnosis",
            TagSource::Department => "department",
            TagSource::Pathway => "pathway",
            TagSource::Rule => "rule",
            TagSource::Queue => "queue",
        }
    }

    pub fn parse(s: &str) -> Option<TagSource> {
        Some(match s {
            "manual" => TagSource::Manual,
            "diagnosis" => TagSource::Diagnosis,
            "department" => TagSource::Department,
            "pathway" => TagSource::Pathway,
            "rule" => TagSource::Rule,
            "queue" => TagSource::Queue,
            _ => return None,
        })
    }
}

/// What a rule that fired does to a tag the patient has or had (issue 20 item 6).
///
/// The decision: a staff member's removal stands against the *same* evidence. Every autosave
/// re-evaluates all of the task's rules, so a rule keeps firing while its answers stay as they
/// are; re-adding the tag then would undo the removal at the next keystroke. A removed tag comes
/// back only when the rule fires on an answer saved after the removal whose value is new or
/// changed and that the rule reads (its question, or a measurement series it compares).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleTagAction {
    /// Not on the patient yet: add it.
    Add,
    /// On the patient already (from any source): nothing to do.
    Keep,
    /// Removed by staff, and the rule fired on fresh evidence: add it again.
    ReAdd,
    /// Removed by staff, and the rule fired on the evidence seen at removal: leave it off.
    StayRemoved,
}

/// The current state of a tag on a patient, as far as [`decide`] needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagState {
    Absent,
    Active,
    Removed,
}

/// What a firing rule does to a tag in `state`; `fresh` = the save that fired it stored a new or
/// changed value the rule reads.
pub fn decide(state: TagState, fresh: bool) -> RuleTagAction {
    match (state, fresh) {
        (TagState::Absent, _) => RuleTagAction::Add,
        (TagState::Active, _) => RuleTagAction::Keep,
        (TagState::Removed, true) => RuleTagAction::ReAdd,
        (TagState::Removed, false) => RuleTagAction::StayRemoved,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_checked() {
        for ok in ["fluid-overload-risk", "a", "hf2", "x-1"] {
            assert!(Tag::parse(ok).is_ok(), "{ok}");
        }
        let long = "a".repeat(MAX_TAG_CHARS + 1);
        for bad in [
            "",
            "Fluid",
            "1abc",
            "-a",
            "a-",
            "a--b",
            "a b",
            "a_b",
            "体重",
            long.as_str(),
        ] {
            assert!(Tag::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn removal_stands_against_the_same_evidence() {
        let table = [
            (TagState::Absent, false, RuleTagAction::Add),
            (TagState::Absent, true, RuleTagAction::Add),
            (TagState::Active, false, RuleTagAction::Keep),
            (TagState::Active, true, RuleTagAction::Keep),
            (TagState::Removed, false, RuleTagAction::StayRemoved),
            (TagState::Removed, true, RuleTagAction::ReAdd),
        ];
        for (state, fresh, want) in table {
            assert_eq!(decide(state, fresh), want, "{state:?} fresh={fresh}");
        }
    }

    #[test]
    fn sources_round_trip() {
        for s in [
            "manual",
            "diagnosis",
            "department",
            "pathway",
            "rule",
            "queue",
        ] {
            assert_eq!(TagSource::parse(s).map(TagSource::as_str), Some(s));
        }
        assert_eq!(TagSource::parse("x"), None);
    }
}
