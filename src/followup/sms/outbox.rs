//! The outbox's decisions: what smsbox's answer to a `sendsms` request means, when the next
//! attempt is, when to give up, and when a link earns its one reminder. The worker
//! (`service::sms`) does the I/O and stores what these functions decide.

use chrono::{DateTime, Duration, Utc};

/// How hard the outbox tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay before the second attempt; doubles each time.
    pub base: Duration,
    /// Longest delay between attempts.
    pub max_delay: Duration,
    /// Attempts in all before the message is failed.
    pub max_attempts: u32,
}

/// What one `sendsms` request came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// smsbox answered 202 (`0: Accepted for delivery` or `3: Queued for later delivery`).
    Accepted,
    /// smsbox answered, and not with 202.
    Refused { status: u16, body: String },
    /// No answer: connection refused, timeout, broken response.
    NoAnswer(String),
}

/// What the outbox does with the message next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// The gateway has it: wait for its delivery report.
    Submitted,
    /// Try again at this time; `error` says why this attempt did not go through.
    RetryAt { at: DateTime<Utc>, error: String },
    /// Do not try again.
    GiveUp { error: String },
}

/// smsbox's answer to a `sendsms` request, as an [`Attempt`].
pub fn classify(status: u16, body: &str) -> Attempt {
    if status == 202 {
        Attempt::Accepted
    } else {
        Attempt::Refused {
            status,
            body: body.trim().chars().take(200).collect(),
        }
    }
}

/// The decision after attempt number `attempts` (1 for the first) ended as `attempt`.
///
/// A 4xx is about this request (403 wrong user or password or a source address smsbox does
/// not allow, 400 a missing or malformed field): sending it again the same way cannot work,
/// so it fails at once with smsbox's words, for the operator to fix the configuration. A 5xx
/// (smsbox up, bearerbox not) and no answer at all are passing troubles: retried with
/// exponential backoff until `max_attempts`.
pub fn after_attempt(
    policy: &RetryPolicy,
    attempts: u32,
    attempt: &Attempt,
    now: DateTime<Utc>,
) -> Next {
    let error = match attempt {
        Attempt::Accepted => return Next::Submitted,
        Attempt::Refused { status, body } if (400..500).contains(status) => {
            return Next::GiveUp {
                error: format!("the SMS gateway refused the message ({status} {body})"),
            }
        }
        Attempt::Refused { status, body } => format!("the SMS gateway answered {status} {body}"),
        Attempt::NoAnswer(e) => format!("the SMS gateway did not answer: {e}"),
    };
    if attempts >= policy.max_attempts {
        return Next::GiveUp {
            error: format!("{error}; gave up after {attempts} attempts"),
        };
    }
    Next::RetryAt {
        at: now + backoff(policy, attempts),
        error,
    }
}

/// Delay after attempt `attempts`: base, 2×base, 4×base, … capped at `max_delay`.
pub fn backoff(policy: &RetryPolicy, attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(30);
    let delay = policy.base * (1i32 << doublings);
    delay.min(policy.max_delay)
}

/// Why a queued message is not sent at all (checked again just before each attempt: the
/// patient may have opted out or the task been done since it was queued).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withhold {
    /// The patient answered TD/STOP/退订.
    OptedOut,
    /// The task is no longer pending (done by phone, paused by an admission, cancelled).
    TaskClosed,
    /// The link was revoked, has expired or is locked.
    LinkUnusable,
}

impl Withhold {
    pub fn reason(self) -> &'static str {
        match self {
            Withhold::OptedOut => "not sent: the patient opted out of SMS",
            Withhold::TaskClosed => "not sent: the task is no longer pending",
            Withhold::LinkUnusable => "not sent: the link was revoked, expired or locked",
        }
    }
}

/// What is known about a queued message's patient, task and link just before sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendCheck {
    pub opted_out: bool,
    pub task_pending: bool,
    pub link_usable: bool,
}

/// Whether the message may go out.
pub fn may_send(check: SendCheck) -> Result<(), Withhold> {
    if check.opted_out {
        Err(Withhold::OptedOut)
    } else if !check.task_pending {
        Err(Withhold::TaskClosed)
    } else if !check.link_usable {
        Err(Withhold::LinkUnusable)
    } else {
        Ok(())
    }
}

/// A link's state as the reminder sweep sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkProgress {
    /// When its first SMS was accepted by the gateway (`None`: not sent yet).
    pub sent_at: Option<DateTime<Utc>>,
    pub reminded: bool,
    pub completed: bool,
    pub usable: bool,
}

/// Whether a link gets its one reminder now (`sms.remind_after_hours` after it was sent).
pub fn reminder_due(link: LinkProgress, remind_after: Duration, now: DateTime<Utc>) -> bool {
    match link.sent_at {
        Some(sent) => {
            !link.reminded && !link.completed && link.usable && now - sent >= remind_after
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            base: Duration::seconds(30),
            max_delay: Duration::seconds(600),
            max_attempts: 4,
        }
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap()
    }

    #[test]
    fn smsbox_202_is_submitted_and_other_codes_are_refusals() {
        assert_eq!(classify(202, "0: Accepted for delivery"), Attempt::Accepted);
        assert_eq!(
            classify(202, "3: Queued for later delivery"),
            Attempt::Accepted
        );
        assert_eq!(
            classify(403, "Authorization failed for sendsms\n"),
            Attempt::Refused {
                status: 403,
                body: "Authorization failed for sendsms".into()
            }
        );
        assert_eq!(
            after_attempt(&policy(), 1, &Attempt::Accepted, t0()),
            Next::Submitted
        );
    }

    #[test]
    fn a_refusal_of_the_request_is_not_retried() {
        let next = after_attempt(&policy(), 1, &classify(403, "Authorization failed"), t0());
        match next {
            Next::GiveUp { error } => {
                assert!(error.contains("403 Authorization failed"), "{error}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn passing_troubles_back_off_then_give_up() {
        let down = Attempt::NoAnswer("connection refused".into());
        let p = policy();
        let at = |n| match after_attempt(&p, n, &down, t0()) {
            Next::RetryAt { at, error } => {
                assert!(error.contains("connection refused"));
                (at - t0()).num_seconds()
            }
            other => panic!("attempt {n}: {other:?}"),
        };
        assert_eq!([at(1), at(2), at(3)], [30, 60, 120]);
        assert!(matches!(
            after_attempt(&p, 4, &down, t0()),
            Next::GiveUp { .. }
        ));
        let busy = classify(503, "Sendsms temporarily unavailable");
        assert!(matches!(
            after_attempt(&p, 1, &busy, t0()),
            Next::RetryAt { .. }
        ));
        // the cap holds however many attempts a generous policy allows
        let long = RetryPolicy {
            max_attempts: 100,
            ..p
        };
        assert_eq!(backoff(&long, 60), Duration::seconds(600));
    }

    #[test]
    fn nothing_goes_to_a_patient_who_opted_out_or_about_a_closed_task() {
        let ok = SendCheck {
            opted_out: false,
            task_pending: true,
            link_usable: true,
        };
        assert_eq!(may_send(ok), Ok(()));
        assert_eq!(
            may_send(SendCheck {
                opted_out: true,
                ..ok
            }),
            Err(Withhold::OptedOut)
        );
        assert_eq!(
            may_send(SendCheck {
                task_pending: false,
                ..ok
            }),
            Err(Withhold::TaskClosed)
        );
        assert_eq!(
            may_send(SendCheck {
                link_usable: false,
                ..ok
            }),
            Err(Withhold::LinkUnusable)
        );
    }

    #[test]
    fn one_reminder_after_the_configured_hours() {
        let link = LinkProgress {
            sent_at: Some(t0()),
            reminded: false,
            completed: false,
            usable: true,
        };
        let after = Duration::hours(24);
        assert!(!reminder_due(link, after, t0() + Duration::hours(23)));
        assert!(reminder_due(link, after, t0() + Duration::hours(24)));
        for done in [
            LinkProgress {
                reminded: true,
                ..link
            },
            LinkProgress {
                completed: true,
                ..link
            },
            LinkProgress {
                usable: false,
                ..link
            },
            LinkProgress {
                sent_at: None,
                ..link
            },
        ] {
            assert!(
                !reminder_due(done, after, t0() + Duration::hours(48)),
                "{done:?}"
            );
        }
    }
}
