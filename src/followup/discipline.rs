//! Disciplines of the multidisciplinary team (issue 20 item 2).
//!
//! The login role says what a user may do; the discipline says who they are in the team, and is
//! what an escalation route (`route = "pharmacy"`) and a team-review sign-off name. The built-in
//! list follows the hospital's heart-failure pathway; a hospital may add its own codes in config,
//! so a discipline is a checked code, not a closed enum.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A discipline code: lowercase ASCII letters, digits and `_`, 1–32 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Discipline(String);

/// The disciplines every installation knows, with their names for the console.
pub const BUILT_IN: [(&str, &str, &str); 7] = [
    ("cardiology", "Cardiology", "心内科"),
    ("pharmacy", "Clinical pharmacy", "临床药学"),
    ("rehabilitation", "Rehabilitation", "康复"),
    ("nutrition", "Nutrition", "营养"),
    ("psychology", "Psychology", "心理"),
    ("social_work", "Social work", "社会工作"),
    ("nursing", "Nursing", "护理"),
];

/// A code that is not a discipline.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DisciplineError {
    #[error("discipline `{0}`: use 1-32 lowercase letters, digits or `_`")]
    Malformed(String),
    #[error("discipline `{0}` is not known (built in: {known}; add others under [clinical] disciplines)", known = BUILT_IN.map(|d| d.0).join(", "))]
    Unknown(String),
}

impl Discipline {
    /// A well-formed code, whether or not this installation knows it (for values read back from
    /// the database, which were checked when written).
    pub fn parse_code(code: &str) -> Result<Self, DisciplineError> {
        let ok = !code.is_empty()
            && code.len() <= 32
            && code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(Discipline(code.to_owned()))
        } else {
            Err(DisciplineError::Malformed(code.to_owned()))
        }
    }

    /// A code this installation knows: built in, or one of `extra` (from config).
    pub fn parse_known(code: &str, extra: &[String]) -> Result<Self, DisciplineError> {
        let d = Self::parse_code(code)?;
        if BUILT_IN.iter().any(|(c, _, _)| *c == code) || extra.iter().any(|e| e == code) {
            Ok(d)
        } else {
            Err(DisciplineError::Unknown(code.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Discipline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Discipline {
    type Error = DisciplineError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Discipline::parse_code(&s)
    }
}

impl From<Discipline> for String {
    fn from(d: Discipline) -> String {
        d.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_codes_are_known_and_others_need_config() {
        assert!(Discipline::parse_known("pharmacy", &[]).is_ok());
        assert_eq!(
            Discipline::parse_known("wound_care", &[]),
            Err(DisciplineError::Unknown("wound_care".into()))
        );
        assert!(Discipline::parse_known("wound_care", &["wound_care".into()]).is_ok());
    }

    #[test]
    fn malformed_codes_are_refused() {
        for bad in [
            "",
            "Pharmacy",
            "social work",
            "x".repeat(33).as_str(),
            "药学",
        ] {
            assert!(
                matches!(
                    Discipline::parse_code(bad),
                    Err(DisciplineError::Malformed(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn serde_checks_the_code() {
        let d: Discipline = serde_json::from_str("\"nutrition\"").unwrap();
        assert_eq!(d.as_str(), "nutrition");
        assert!(serde_json::from_str::<Discipline>("\"Nutrition\"").is_err());
    }
}
