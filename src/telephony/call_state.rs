//! Where a live call stands, and the one place that says which moves between states are legal.
//!
//! The names ([`CallState::as_str`], serde) are the wire and database names: the `calls.state`
//! column, the `state` of `call.state` live events and the console's JavaScript all use them,
//! so they must not change.

use std::fmt;

/// The state of a call the call center holds (`telephony::center`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    /// Click-to-call from a desk phone: the nurse's phone rings; the patient is not called yet.
    AgentRinging,
    /// The INVITE to the patient is out; no provisional response yet.
    Dialing,
    /// The patient's phone rings (outbound), or a call-back waits for a nurse (inbound).
    Ringing,
    Answered,
    Held,
    /// A call-back nobody could take: the caller hears the greeting and leaves a message.
    Voicemail,
    Ended,
}

/// A move [`CallState::move_to`] refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a call cannot go from {from} to {to}")]
pub struct IllegalMove {
    pub from: CallState,
    pub to: CallState,
}

impl CallState {
    pub const ALL: [CallState; 7] = [
        CallState::AgentRinging,
        CallState::Dialing,
        CallState::Ringing,
        CallState::Answered,
        CallState::Held,
        CallState::Voicemail,
        CallState::Ended,
    ];

    /// The wire and database name.
    pub fn as_str(self) -> &'static str {
        match self {
            CallState::AgentRinging => "agent_ringing",
            CallState::Dialing => "dialing",
            CallState::Ringing => "ringing",
            CallState::Answered => "answered",
            CallState::Held => "held",
            CallState::Voicemail => "voicemail",
            CallState::Ended => "ended",
        }
    }

    /// The state named `name` (a wire or database name), if there is one.
    pub fn from_name(name: &str) -> Option<CallState> {
        CallState::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Nobody has answered yet (the nurse's desk phone or the patient's phone still rings).
    pub fn is_unanswered(self) -> bool {
        matches!(
            self,
            CallState::AgentRinging | CallState::Dialing | CallState::Ringing
        )
    }

    /// Whether a call in this state may move to `to`. Any call may end; a repeated hold or
    /// resume is allowed (the trunk takes a re-INVITE for it), nothing else stays put.
    pub fn can_move_to(self, to: CallState) -> bool {
        use CallState::*;
        match (self, to) {
            (Ended, _) => false,
            (_, Ended) => true,
            (AgentRinging, Dialing) => true,
            (Dialing, Ringing | Answered) => true,
            (Ringing, Answered | Voicemail) => true,
            (Answered | Held, Answered | Held) => true,
            _ => false,
        }
    }

    /// The state after a move to `to`, or why the move is refused.
    pub fn move_to(self, to: CallState) -> Result<CallState, IllegalMove> {
        if self.can_move_to(to) {
            Ok(to)
        } else {
            Err(IllegalMove { from: self, to })
        }
    }
}

impl fmt::Display for CallState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::CallState::*;
    use super::*;

    #[test]
    fn wire_names_are_the_stored_ones() {
        let names: Vec<&str> = CallState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "agent_ringing",
                "dialing",
                "ringing",
                "answered",
                "held",
                "voicemail",
                "ended"
            ]
        );
        for s in CallState::ALL {
            assert_eq!(CallState::from_name(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(s.to_string(), s.as_str());
        }
        assert_eq!(CallState::from_name("released"), None);
        assert_eq!(CallState::from_name("Answered"), None);
    }

    #[test]
    fn the_moves_the_center_makes_are_legal() {
        // browser dial, desk-phone click-to-call, call-back, voicemail, hold and resume
        let paths: [&[CallState]; 5] = [
            &[Dialing, Ringing, Answered, Held, Answered, Ended],
            &[AgentRinging, Dialing, Answered, Ended],
            &[Ringing, Answered, Held, Held, Ended],
            &[Ringing, Voicemail, Ended],
            &[Dialing, Ended],
        ];
        for path in paths {
            let mut state = path[0];
            for &next in &path[1..] {
                state = state.move_to(next).unwrap();
            }
            assert_eq!(state, *path.last().unwrap());
        }
    }

    #[test]
    fn every_live_state_may_end_and_an_ended_call_stays_ended() {
        for s in CallState::ALL {
            assert_eq!(s.can_move_to(Ended), s != Ended, "{s} -> ended");
            if s != Ended {
                assert!(!Ended.can_move_to(s), "ended -> {s}");
            }
        }
    }

    #[test]
    fn the_rest_is_refused() {
        let legal = [
            (AgentRinging, Dialing),
            (Dialing, Ringing),
            (Dialing, Answered),
            (Ringing, Answered),
            (Ringing, Voicemail),
            (Answered, Answered),
            (Answered, Held),
            (Held, Held),
            (Held, Answered),
        ];
        for from in CallState::ALL {
            for to in CallState::ALL {
                if to == Ended {
                    continue;
                }
                let expected = legal.contains(&(from, to));
                assert_eq!(from.can_move_to(to), expected, "{from} -> {to}");
                match from.move_to(to) {
                    Ok(next) => assert!(expected && next == to),
                    Err(e) => {
                        assert!(!expected);
                        assert_eq!(e, IllegalMove { from, to });
                    }
                }
            }
        }
        // a hold before the answer, a voicemail on a placed call, ringing again
        assert!(!Dialing.can_move_to(Held));
        assert!(!Dialing.can_move_to(Voicemail));
        assert!(!Answered.can_move_to(Ringing));
        assert!(!Voicemail.can_move_to(Held));
        assert!(!AgentRinging.can_move_to(Answered));
    }

    #[test]
    fn unanswered_states() {
        let unanswered: Vec<CallState> = CallState::ALL
            .into_iter()
            .filter(|s| s.is_unanswered())
            .collect();
        assert_eq!(unanswered, [AgentRinging, Dialing, Ringing]);
    }
}
