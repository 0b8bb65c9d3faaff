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
    /// The final response to the INVITE that was on the wire (see `CallEvent::Ended`), never
    /// one inferred from the outcome: a Timer B timeout has none, a 408 stays 408.
    pub sip_status: Option<u16>,
}

/// Maps an outcome and the final status that was on the wire.
pub fn end_record(outcome: CallOutcome, sip_status: Option<u16>) -> EndRecord {
    let (reason, disposition) = match outcome {
        CallOutcome::Completed { by: Party::Local } => ("hangup_by_agent".into(), None),
        CallOutcome::Completed { by: Party::Remote } => ("hangup_by_patient".into(), None),
        CallOutcome::Busy => ("busy".into(), Some(Disposition::Busy)),
        CallOutcome::NoAnswer => ("no_answer".into(), Some(Disposition::NoAnswer)),
        // 603: the patient pressed "decline". They are there but cannot talk now: retried
        // like busy. Repeated declines reach the attempt limit and flag the task for the
        // supervisor, who decides whether it is a refusal.
        CallOutcome::Declined => ("declined".into(), Some(Disposition::Busy)),
        CallOutcome::WrongNumber => ("wrong_number".into(), Some(Disposition::WrongNumber)),
        // the nurse gave up while it rang: the patient did not answer
        CallOutcome::Cancelled => (
            "cancelled_while_ringing".into(),
            Some(Disposition::NoAnswer),
        ),
        CallOutcome::CancelledByRemote => ("caller_hung_up_while_ringing".into(), None),
        CallOutcome::AuthFailed => ("trunk_rejected_credentials".into(), None),
        CallOutcome::Unreachable => ("trunk_unreachable".into(), None),
        CallOutcome::MediaFailed => ("no_common_codec".into(), None),
        CallOutcome::AckTimeout => ("ack_timeout".into(), None),
        CallOutcome::Failed { status } => (format!("sip_{status}"), None),
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
        let d = |o| end_record(o, None).disposition;
        assert_eq!(d(CallOutcome::Busy), Some(Disposition::Busy));
        assert_eq!(d(CallOutcome::NoAnswer), Some(Disposition::NoAnswer));
        assert_eq!(d(CallOutcome::Declined), Some(Disposition::Busy));
        assert_eq!(d(CallOutcome::WrongNumber), Some(Disposition::WrongNumber));
        assert_eq!(d(CallOutcome::Cancelled), Some(Disposition::NoAnswer));
        assert_eq!(d(CallOutcome::Unreachable), None);
        assert_eq!(d(CallOutcome::Failed { status: 503 }), None);
        assert_eq!(d(CallOutcome::Completed { by: Party::Remote }), None);
        assert_eq!(
            end_record(CallOutcome::Failed { status: 503 }, Some(503)).reason,
            "sip_503"
        );
    }

    #[test]
    fn the_row_keeps_the_status_that_was_on_the_wire() {
        // a 408 from the trunk is a no-answer, and stays 408 in the record
        let r = end_record(CallOutcome::NoAnswer, Some(408));
        assert_eq!((r.reason.as_str(), r.sip_status), ("no_answer", Some(408)));
        // the nurse cancelled but the 200 crossed the CANCEL: no 487 was ever sent
        let r = end_record(CallOutcome::Cancelled, Some(200));
        assert_eq!(r.sip_status, Some(200));
        // Timer B: nothing came back at all
        assert_eq!(end_record(CallOutcome::Unreachable, None).sip_status, None);
    }
}
