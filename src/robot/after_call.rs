//! What the end of a robot call does to its task (issue 24), as a pure decision: the shell
//! (`telephony::robot`) writes it. Kept apart from the I/O so every end has a unit test.

use super::Outcome;
use crate::followup::pathway::CallMode;
use crate::followup::retry::Disposition;

/// Seconds before a robot task whose call failed on our side (trunk unreachable or rejecting
/// us, no common codec, SIP 5xx, or the call could not be placed at all) is dialled again.
/// Such a failure says nothing about the patient, so it counts no attempt; without the wait
/// the dialer would redial the task at every poll while the trunk is down.
pub const FAILED_ON_OUR_SIDE_RETRY_SECONDS: i64 = 300;

/// The task's next step after a robot call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStep {
    /// Every question was answered and confirmed: the task is completed.
    Complete,
    /// A nurse took the call live: she goes on with the task and disposes it.
    LeftToTheNurse,
    /// Answered but not finished (declined, no consent, unconfirmed answers, hung up): the
    /// task becomes the nurses'; `urgent` (a hand-off nobody took) puts it at the top of
    /// their queue as a call-back.
    ToNurses {
        /// A call-back after a hand-off nobody took.
        urgent: bool,
    },
    /// Never answered (no answer, busy, wrong number): `disposition` under the same retry
    /// policy as a nurse's; with `then_nurses` (a `robot_then_nurse` task) a task still
    /// pending afterwards goes to the nurses instead of waiting for the robot's next try.
    Retry {
        /// The attempt's disposition.
        disposition: Disposition,
        /// Hand a still pending task to the nurses.
        then_nurses: bool,
    },
    /// The call failed on our side: no attempt is counted; the task waits
    /// [`FAILED_ON_OUR_SIDE_RETRY_SECONDS`] before the robot dials it again.
    Defer,
}

/// The task's next step, from the conversation's outcome (`None`: the patient never spoke
/// with the robot), the disposition of a call never answered (`None`: it failed on our side
/// or was answered), and the task's mode.
pub fn task_step(
    outcome: Option<&Outcome>,
    unanswered: Option<Disposition>,
    mode: CallMode,
) -> TaskStep {
    match (outcome, unanswered) {
        (Some(Outcome::Completed), _) => TaskStep::Complete,
        (Some(Outcome::HandedOff { .. }), _) => TaskStep::LeftToTheNurse,
        (Some(Outcome::CallBack { .. }), _) => TaskStep::ToNurses { urgent: true },
        (
            Some(
                Outcome::Incomplete { .. }
                | Outcome::Declined
                | Outcome::NoConsent
                | Outcome::HungUp { .. },
            ),
            _,
        ) => TaskStep::ToNurses { urgent: false },
        (None, Some(disposition)) => TaskStep::Retry {
            disposition,
            then_nurses: mode == CallMode::RobotThenNurse,
        },
        (None, None) => TaskStep::Defer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::followup::script::QuestionId;
    use crate::robot::HandoffReason;

    const MODES: [CallMode; 2] = [CallMode::Robot, CallMode::RobotThenNurse];

    #[test]
    fn a_finished_conversation_decides_alone() {
        let q = QuestionId("breathless_rest".into());
        for mode in MODES {
            let step = |o: Outcome| task_step(Some(&o), None, mode);
            assert_eq!(step(Outcome::Completed), TaskStep::Complete);
            assert_eq!(
                step(Outcome::HandedOff {
                    reason: HandoffReason::PatientAsked
                }),
                TaskStep::LeftToTheNurse
            );
            assert_eq!(
                step(Outcome::CallBack {
                    reason: HandoffReason::PatientAsked
                }),
                TaskStep::ToNurses { urgent: true }
            );
            for unfinished in [
                Outcome::Incomplete {
                    unconfirmed: vec![q.clone()],
                },
                Outcome::Declined,
                Outcome::NoConsent,
                Outcome::HungUp {
                    during: Some(q.clone()),
                },
                Outcome::HungUp { during: None },
            ] {
                assert_eq!(
                    step(unfinished.clone()),
                    TaskStep::ToNurses { urgent: false },
                    "{unfinished:?} in {mode:?}"
                );
            }
        }
    }

    #[test]
    fn an_unanswered_call_follows_the_retry_policy_and_robot_then_nurse_goes_to_nurses() {
        for d in [
            Disposition::NoAnswer,
            Disposition::Busy,
            Disposition::WrongNumber,
        ] {
            assert_eq!(
                task_step(None, Some(d), CallMode::Robot),
                TaskStep::Retry {
                    disposition: d,
                    then_nurses: false
                }
            );
            assert_eq!(
                task_step(None, Some(d), CallMode::RobotThenNurse),
                TaskStep::Retry {
                    disposition: d,
                    then_nurses: true
                }
            );
        }
    }

    #[test]
    fn a_failure_on_our_side_counts_no_attempt_and_waits() {
        for mode in MODES {
            assert_eq!(task_step(None, None, mode), TaskStep::Defer);
        }
        // an outcome wins over a disposition the leg may also carry
        assert_eq!(
            task_step(
                Some(&Outcome::Completed),
                Some(Disposition::NoAnswer),
                CallMode::Robot
            ),
            TaskStep::Complete
        );
    }
}
