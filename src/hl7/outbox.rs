//! What the results sender decides after each try (issue 17 item 5), without sockets or a
//! clock: whether the EMR's reply settles the message, and when to try again.
//!
//! The sender keeps one message in flight per connection and matches the reply's MSA-2 to the
//! MSH-10 it sent. A reply for another message (a late ACK of an earlier try that timed out)
//! is never taken as this one's: the connection is dropped, since nothing more on it can be
//! trusted to be in step, and the message is tried again on a fresh one (HL7 v2.5 §2.9.2: the
//! receiver echoes MSH-10 in MSA-2 precisely so the sender can tell).

use chrono::{DateTime, Duration, Utc};

use super::charset::{decode_message, Charset};
use super::message::parse;

/// How long to wait before the next try: `base`, doubled per failed try, at most `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    /// When to try again after `attempts` failed tries (1 = the first failed).
    pub fn next_attempt(&self, attempts: u32, now: DateTime<Utc>) -> DateTime<Utc> {
        let shift = attempts.saturating_sub(1).min(20);
        let delay = self
            .base
            .checked_mul(1 << shift)
            .unwrap_or(self.max)
            .min(self.max);
        now + delay
    }
}

/// What came back for one message sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A frame (the bytes inside VT … FS CR).
    Frame(Vec<u8>),
    /// Nothing within the ACK timeout.
    Timeout,
    /// The EMR closed the connection without answering.
    Closed,
    /// Could not connect, or the connection failed (the error's text).
    Failed(String),
}

/// What the outbox does with the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// AA (or CA): the EMR has it.
    Delivered { ack_code: String },
    /// AE/AR (CE/CR): the EMR refused it. Kept with the error for an admin; not retried by
    /// itself, as the same bytes would be refused again.
    Refused { ack_code: String, error: String },
    /// Not settled: try again later. `drop_connection` when the connection is out of step.
    Retry {
        error: String,
        drop_connection: bool,
    },
}

/// Judges the reply to the message whose MSH-10 was `control_id`.
pub fn judge(control_id: &str, reply: &Reply) -> Verdict {
    let retry = |error: String| Verdict::Retry {
        error,
        drop_connection: true,
    };
    let bytes = match reply {
        Reply::Frame(b) => b,
        Reply::Timeout => return retry("no ACK within the timeout".into()),
        Reply::Closed => return retry("the EMR closed the connection without an ACK".into()),
        Reply::Failed(e) => return retry(e.clone()),
    };
    let text = match decode_message(bytes, Charset::Utf8) {
        Ok((t, _)) => t,
        Err(e) => return retry(format!("ACK not decodable: {e}")),
    };
    let ack = match parse(&text) {
        Ok(m) => m,
        Err(e) => return retry(format!("ACK not parsable: {e}")),
    };
    let answered = ack.value("MSA", 2, 1);
    if answered != control_id {
        return retry(format!(
            "ACK for `{answered}` while waiting for `{control_id}`: connection dropped"
        ));
    }
    let code = ack.value("MSA", 1, 1);
    match code.as_str() {
        "AA" | "CA" => Verdict::Delivered { ack_code: code },
        "AE" | "AR" | "CE" | "CR" => {
            // MSA-3 (v2.3 text message), else ERR-8 (v2.5 user message), else ERR-1
            let mut error = ack.value("MSA", 3, 1);
            if error.is_empty() {
                error = ack.value("ERR", 8, 1);
            }
            if error.is_empty() {
                error = ack
                    .segment("ERR", 1)
                    .map(|s| s.raw(1).to_string())
                    .unwrap_or_default();
            }
            if error.is_empty() {
                error = "refused without a reason".into();
            }
            Verdict::Refused {
                ack_code: code,
                error,
            }
        }
        other => retry(format!("ACK with unknown MSA-1 `{other}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ack(code: &str, msa2: &str, extra: &str) -> Reply {
        Reply::Frame(
            format!(
                "MSH|^~\\&|EMR|H|SUIFANG|H|20261207||ACK^R01|A1|P|2.5\rMSA|{code}|{msa2}{extra}\r"
            )
            .into_bytes(),
        )
    }

    #[test]
    fn an_aa_echoing_our_control_id_delivers() {
        assert_eq!(
            judge("SFR1", &ack("AA", "SFR1", "")),
            Verdict::Delivered {
                ack_code: "AA".into()
            }
        );
        assert_eq!(
            judge("SFR1", &ack("CA", "SFR1", "")),
            Verdict::Delivered {
                ack_code: "CA".into()
            }
        );
    }

    #[test]
    fn a_late_ack_of_another_message_is_never_taken_and_drops_the_connection() {
        let v = judge("SFR2", &ack("AA", "SFR1", ""));
        match v {
            Verdict::Retry {
                error,
                drop_connection,
            } => {
                assert!(drop_connection);
                assert!(error.contains("SFR1") && error.contains("SFR2"), "{error}");
            }
            other => panic!("{other:?}"),
        }
        // an empty MSA-2 is not ours either
        assert!(matches!(
            judge("SFR2", &ack("AA", "", "")),
            Verdict::Retry { .. }
        ));
    }

    #[test]
    fn ae_and_ar_are_refusals_kept_with_their_error() {
        assert_eq!(
            judge("X", &ack("AE", "X", "|PID-3 missing")),
            Verdict::Refused {
                ack_code: "AE".into(),
                error: "PID-3 missing".into()
            }
        );
        let with_err = Reply::Frame(
            b"MSH|^~\\&|E|H|S|H|1||ACK|A|P|2.5\rMSA|AR|X\rERR||PID^1^3|101^Required^HL70357|E||||unknown MRN\r"
                .to_vec(),
        );
        assert_eq!(
            judge("X", &with_err),
            Verdict::Refused {
                ack_code: "AR".into(),
                error: "unknown MRN".into()
            }
        );
    }

    #[test]
    fn silence_closure_garbage_and_unknown_codes_are_retried() {
        for reply in [
            Reply::Timeout,
            Reply::Closed,
            Reply::Failed("connection refused".into()),
            Reply::Frame(b"not hl7".to_vec()),
            ack("ZZ", "X", ""),
        ] {
            assert!(
                matches!(
                    judge("X", &reply),
                    Verdict::Retry {
                        drop_connection: true,
                        ..
                    }
                ),
                "{reply:?}"
            );
        }
    }

    #[test]
    fn backoff_doubles_up_to_its_ceiling() {
        let now = Utc.with_ymd_and_hms(2026, 12, 7, 8, 0, 0).unwrap();
        let b = Backoff {
            base: Duration::seconds(5),
            max: Duration::seconds(60),
        };
        let waits: Vec<i64> = (1..=6)
            .map(|n| (b.next_attempt(n, now) - now).num_seconds())
            .collect();
        assert_eq!(waits, [5, 10, 20, 40, 60, 60]);
        assert_eq!((b.next_attempt(u32::MAX, now) - now).num_seconds(), 60);
    }
}
