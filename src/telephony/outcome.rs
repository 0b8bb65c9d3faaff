//! How a SIP call's end becomes a call row's end reason and, for unanswered outbound calls to
//! a task, the task's disposition (which drives the retry policy).

use crate::followup::retry::Disposition;
use crate::sip::ua::{CallOutcome, Party};

/// What the call center records when a call ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndRecord {
    /// `calls.end_reason`.
    pub reason: String,
    /// Recorded on the task automatically; `None` when the nurse decides (answered calls) or
    /// when the failure was ours (trunk down), which must not use up the patient's attempts.
    pub disposition: Option<Disposition>,
    /// The final SIP status where one stands for the outcome.
    pub sip_status: Option<u16>,
}

/// Maps an outcome. `answered` is whether the call got to talk at all.
pub fn end_record(outcome: CallOutcome) -> EndRecord {
    let (reason, disposition, sip_status) = match outcome {
        CallOutcome::Completed { by: Party::Local } => ("hangup_by_agent".into(), None, None),
        CallOutcome::Completed { by: Party::Remote } => ("hangup_by_patient".into(), None, None),
        CallOutcome::Busy => ("busy".into(), Some(Disposition::Busy), Some(486)),
        CallOutcome::NoAnswer => ("no_answer".into(), Some(Disposition::NoAnswer), Some(480)),
        // 603: the patient pressed "decline". They are there but cannot talk now: retried
        // like busy. Repeated declines reach the attempt limit and flag the task for the
        // supervisor, who decides whether it is a refusal.
        CallOutcome::Declined => ("declined".into(), Some(Disposition::Busy), Some(603)),
        CallOutcome::WrongNumber => (
            "wrong_number".into(),
            Some(Disposition::WrongNumber),
            Some(404),
        ),
        // the nurse gave up while it rang: the patient did not answer
        CallOutcome::Cancelled => (
            "cancelled_while_ringing".into(),
            Some(Disposition::NoAnswer),
            Some(487),
        ),
        CallOutcome::CancelledByRemote => ("caller_hung_up_while_ringing".into(), None, Some(487)),
        CallOutcome::AuthFailed => ("trunk_rejected_credentials".into(), None, Some(407)),
        CallOutcome::Unreachable => ("trunk_unreachable".into(), None, Some(408)),
        CallOutcome::MediaFailed => ("no_common_codec".into(), None, Some(488)),
        CallOutcome::AckTimeout => ("ack_timeout".into(), None, None),
        CallOutcome::Failed { status } => (format!("sip_{status}"), None, Some(status)),
    };
    EndRecord {
        reason,
        disposition,
        sip_status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patient_side_failures_dispose_the_task_and_ours_do_not() {
        let d = |o| end_record(o).disposition;
        assert_eq!(d(CallOutcome::Busy), Some(Disposition::Busy));
        assert_eq!(d(CallOutcome::NoAnswer), Some(Disposition::NoAnswer));
        assert_eq!(d(CallOutcome::Declined), Some(Disposition::Busy));
        assert_eq!(d(CallOutcome::WrongNumber), Some(Disposition::WrongNumber));
        assert_eq!(d(CallOutcome::Cancelled), Some(Disposition::NoAnswer));
        assert_eq!(d(CallOutcome::Unreachable), None);
        assert_eq!(d(CallOutcome::Failed { status: 503 }), None);
        assert_eq!(d(CallOutcome::Completed { by: Party::Remote }), None);
        assert_eq!(
            end_record(CallOutcome::Failed { status: 503 }).reason,
            "sip_503"
        );
    }
}
