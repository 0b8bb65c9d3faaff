//! Patient links (issue 19 item 2): `/f/<token>`, one per task, bound to one patient. The
//! token is 144 random bits (24 URL-safe characters, short enough for an SMS), and only its
//! SHA-256 is stored. Before anything is shown the patient proves who they are (birth year,
//! or the last four characters of the medical record number); five wrong answers lock the
//! link. Pure decisions here; the store keeps the rows, the API serves the page.

use base64::Engine;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::followup::script::Severity;

/// Random bytes in a token (144 bits, above the 128 the issue asks for).
pub const TOKEN_BYTES: usize = 18;
/// Characters of a token as it appears in the URL.
pub const TOKEN_CHARS: usize = 24;

/// The token for `bytes` (from a CSPRNG), URL-safe base64 without padding.
pub fn token_from_bytes(bytes: &[u8; TOKEN_BYTES]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `s` has a token's shape; anything else is refused before the database is asked.
pub fn looks_like_token(s: &str) -> bool {
    s.len() == TOKEN_CHARS
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What the patient is asked before anything is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityCheck {
    /// The four-digit year of birth.
    #[default]
    BirthYear,
    /// The last four characters of the hospital's medical record number.
    MrnLast4,
}

impl IdentityCheck {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityCheck::BirthYear => "birth_year",
            IdentityCheck::MrnLast4 => "mrn_last4",
        }
    }

    /// The answer the patient must give, from what the hospital knows; `None` when it knows
    /// nothing to ask (no birth date on record): such a patient cannot be sent a link.
    pub fn expected(self, birth_date: Option<NaiveDate>, mrn: &str) -> Option<String> {
        match self {
            IdentityCheck::BirthYear => birth_date.map(|d| format!("{:04}", d.year())),
            IdentityCheck::MrnLast4 => {
                let chars: Vec<char> = mrn.trim().chars().collect();
                (chars.len() >= 4).then(|| {
                    chars[chars.len() - 4..]
                        .iter()
                        .collect::<String>()
                        .to_ascii_uppercase()
                })
            }
        }
    }

    /// Whether `given` is the expected answer. Spaces around are forgiven, full-width digits
    /// (a Chinese keyboard) are read as digits; the comparison takes the same time wherever
    /// the first difference is.
    pub fn matches(self, expected: &str, given: &str) -> bool {
        let given: String = given
            .trim()
            .chars()
            .map(|c| match c {
                '\u{FF10}'..='\u{FF19}' | '\u{FF21}'..='\u{FF3A}' | '\u{FF41}'..='\u{FF5A}' => {
                    char::from_u32(c as u32 - 0xFEE0).unwrap_or(c)
                }
                _ => c,
            })
            .collect::<String>()
            .to_ascii_uppercase();
        let (a, b) = (expected.as_bytes(), given.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// A link's row as the page sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkRow {
    pub expires_at: DateTime<Utc>,
    pub revoked: bool,
    pub locked: bool,
    pub completed: bool,
}

/// What a request for a link may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Open: ask who they are, then the questions.
    Open,
    /// All answered: the page shows the summary, nothing can be changed.
    Completed,
    /// Too many wrong identity answers: the page says the hospital will call.
    Locked,
    /// Unknown, expired or revoked: the same 404 for all three, so a guess learns nothing.
    Gone,
}

/// The standing of `row` (`None`: no such token) at `now`.
pub fn standing(row: Option<LinkRow>, now: DateTime<Utc>) -> Standing {
    match row {
        None => Standing::Gone,
        Some(r) if r.revoked || now >= r.expires_at => Standing::Gone,
        Some(r) if r.locked => Standing::Locked,
        Some(r) if r.completed => Standing::Completed,
        Some(_) => Standing::Open,
    }
}

/// After a wrong identity answer: the count of failures and whether the link locks now.
pub fn after_wrong_answer(failures_before: u32, max_failures: u32) -> (u32, bool) {
    let failures = failures_before.saturating_add(1);
    (failures, failures >= max_failures)
}

/// What a patient's finished self-report comes to (issue 19 item 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelfReport {
    /// Shown questions are still unanswered: nothing is decided yet.
    Incomplete,
    /// Every rule is quiet: the task is done, no call needed.
    Normal,
    /// A rule fired (its escalation is open): the task is done as a report, and a nurse calls
    /// back at a priority raised by the worst finding.
    Abnormal {
        worst: Severity,
        call_back_priority: i64,
    },
}

/// Decides a finished self-report: `unanswered` shown questions, the severities of what the
/// rules find now, and the task's own queue priority.
pub fn self_report(unanswered: usize, findings: &[Severity], task_priority: i64) -> SelfReport {
    if unanswered > 0 {
        return SelfReport::Incomplete;
    }
    match findings.iter().max() {
        None => SelfReport::Normal,
        Some(&worst) => SelfReport::Abnormal {
            worst,
            // above every pathway's own priority (20–40), emergencies first
            call_back_priority: task_priority
                + match worst {
                    Severity::Emergency => 100,
                    Severity::Urgent => 60,
                    Severity::High => 30,
                    Severity::Routine => 0,
                },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    #[test]
    fn tokens_are_24_url_safe_characters() {
        let t = token_from_bytes(&[0xff; TOKEN_BYTES]);
        assert_eq!(t.len(), TOKEN_CHARS);
        assert!(looks_like_token(&t), "{t}");
        assert!(looks_like_token(&token_from_bytes(&[0; TOKEN_BYTES])));
        for bad in [
            "",
            "short",
            &"a".repeat(25),
            "aaaaaaaaaaaaaaaaaaaaaa/a",
            "aaaaaaaaaaaaaaaaaaaaaa%2",
        ] {
            assert!(!looks_like_token(bad), "{bad:?}");
        }
    }

    #[test]
    fn birth_year_and_mrn_answers() {
        let born = NaiveDate::from_ymd_opt(1952, 3, 9);
        let year = IdentityCheck::BirthYear;
        let expected = year.expected(born, "MRN1").unwrap();
        assert_eq!(expected, "1952");
        assert!(year.matches(&expected, " 1952 "));
        assert!(year.matches(&expected, "１９５２"));
        for wrong in ["1953", "195", "19522", "", "52"] {
            assert!(!year.matches(&expected, wrong), "{wrong:?}");
        }
        assert_eq!(year.expected(None, "MRN1"), None);
        let mrn = IdentityCheck::MrnLast4;
        assert_eq!(mrn.expected(None, "zy-00123x").as_deref(), Some("123X"));
        assert!(mrn.matches("123X", "123x"));
        assert_eq!(mrn.expected(None, "A1"), None);
    }

    #[test]
    fn unknown_expired_and_revoked_look_the_same() {
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap();
        let open = LinkRow {
            expires_at: now + Duration::hours(1),
            revoked: false,
            locked: false,
            completed: false,
        };
        assert_eq!(standing(Some(open), now), Standing::Open);
        assert_eq!(standing(None, now), Standing::Gone);
        assert_eq!(
            standing(
                Some(LinkRow {
                    expires_at: now,
                    ..open
                }),
                now
            ),
            Standing::Gone
        );
        assert_eq!(
            standing(
                Some(LinkRow {
                    revoked: true,
                    ..open
                }),
                now
            ),
            Standing::Gone
        );
        assert_eq!(
            standing(
                Some(LinkRow {
                    locked: true,
                    ..open
                }),
                now
            ),
            Standing::Locked
        );
        // a revoked link stays gone even if it was locked or completed before
        assert_eq!(
            standing(
                Some(LinkRow {
                    locked: true,
                    revoked: true,
                    ..open
                }),
                now
            ),
            Standing::Gone
        );
        assert_eq!(
            standing(
                Some(LinkRow {
                    completed: true,
                    ..open
                }),
                now
            ),
            Standing::Completed
        );
    }

    #[test]
    fn self_reports_complete_normal_or_call_back_by_severity() {
        assert_eq!(self_report(1, &[], 40), SelfReport::Incomplete);
        assert_eq!(
            self_report(1, &[Severity::Emergency], 40),
            SelfReport::Incomplete
        );
        assert_eq!(self_report(0, &[], 40), SelfReport::Normal);
        assert_eq!(
            self_report(0, &[Severity::High, Severity::Emergency], 40),
            SelfReport::Abnormal {
                worst: Severity::Emergency,
                call_back_priority: 140
            }
        );
        assert_eq!(
            self_report(0, &[Severity::Urgent], 20),
            SelfReport::Abnormal {
                worst: Severity::Urgent,
                call_back_priority: 80
            }
        );
    }

    #[test]
    fn the_fifth_wrong_answer_locks() {
        let mut failures = 0;
        for n in 1..=5 {
            let (f, locked) = after_wrong_answer(failures, 5);
            failures = f;
            assert_eq!(failures, n);
            assert_eq!(locked, n == 5, "try {n}");
        }
    }
}
