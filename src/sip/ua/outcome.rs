//! How a call ended, in terms the follow-up queue can act on (retry later, mark wrong number…).

/// Which side ended an answered call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    /// We (the nurse or the system) hung up.
    Local,
    /// The patient hung up.
    Remote,
}

/// Final result of a call attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// The call was answered and later hung up.
    Completed {
        /// Who sent the BYE.
        by: Party,
    },
    /// 486 Busy Here / 600 Busy Everywhere.
    Busy,
    /// 480 Temporarily Unavailable, 408 Request Timeout, or our ring timeout expired.
    NoAnswer,
    /// 603 Decline: the patient rejected the call.
    Declined,
    /// 404 Not Found, 484 Address Incomplete, 604 Does Not Exist Anywhere, 410 Gone.
    WrongNumber,
    /// We cancelled before an answer (nurse hung up while ringing).
    Cancelled,
    /// The caller cancelled an inbound call before we answered.
    CancelledByRemote,
    /// The trunk kept rejecting our credentials (401/407 after one authenticated retry).
    AuthFailed,
    /// No response at all (timer B): trunk down or unreachable.
    Unreachable,
    /// Answered, but no usable media could be agreed (no common codec, bad SDP).
    MediaFailed,
    /// Our 2xx to an inbound call was never ACKed (§13.3.1.4).
    AckTimeout,
    /// Any other final status.
    Failed {
        /// SIP status code.
        status: u16,
    },
}

impl CallOutcome {
    /// Maps a final non-2xx response to INVITE (RFC 3261 §21) to an outcome.
    pub fn from_status(status: u16) -> Self {
        match status {
            486 | 600 => CallOutcome::Busy,
            480 | 408 => CallOutcome::NoAnswer,
            603 => CallOutcome::Declined,
            404 | 410 | 484 | 604 => CallOutcome::WrongNumber,
            401 | 407 => CallOutcome::AuthFailed,
            _ => CallOutcome::Failed { status },
        }
    }

    /// True when trying again later makes sense (busy, no answer, network trouble).
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            CallOutcome::Busy
                | CallOutcome::NoAnswer
                | CallOutcome::Unreachable
                | CallOutcome::MediaFailed
                | CallOutcome::Failed { status: 500..=599 }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_table() {
        for (status, want) in [
            (486, CallOutcome::Busy),
            (600, CallOutcome::Busy),
            (480, CallOutcome::NoAnswer),
            (408, CallOutcome::NoAnswer),
            (603, CallOutcome::Declined),
            (404, CallOutcome::WrongNumber),
            (484, CallOutcome::WrongNumber),
            (604, CallOutcome::WrongNumber),
            (407, CallOutcome::AuthFailed),
            (503, CallOutcome::Failed { status: 503 }),
            (488, CallOutcome::Failed { status: 488 }),
        ] {
            assert_eq!(CallOutcome::from_status(status), want, "{status}");
        }
        assert!(CallOutcome::Busy.is_retryable());
        assert!(CallOutcome::Failed { status: 503 }.is_retryable());
        assert!(!CallOutcome::WrongNumber.is_retryable());
        assert!(!CallOutcome::Declined.is_retryable());
    }
}
