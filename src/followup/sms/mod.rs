//! SMS to patients (issue 19): what a message is and which states it moves through, the
//! outbox's retry decisions, what a patient's reply means, the message texts, and Kannel's
//! `sendsms` interface. Pure: no sockets, no database, `now` passed in. The HTTP shells are
//! `service::sms` (the outbox worker) and `api::sms` (Kannel's callbacks).

pub mod kannel;
pub mod outbox;
pub mod reply;
pub mod template;

use serde::Serialize;

/// Where an outgoing SMS is. Moves: `Queued` → `Submitted` (smsbox answered 202) →
/// `Delivered` / `Failed` (a delivery report); `Queued` → `Queued` (a retry) → `Failed` (gave
/// up). `Submitted` may also go to `Buffered` (the carrier holds it) and on from there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting in the outbox for its (next) attempt.
    Queued,
    /// Accepted by the gateway; no delivery report yet.
    Submitted,
    /// The carrier holds it (handset off); a final report will follow.
    Buffered,
    /// The handset has it.
    Delivered,
    /// The gateway or the carrier refused it, or the outbox gave up.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::Submitted => "submitted",
            DeliveryState::Buffered => "buffered",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryState> {
        Some(match s {
            "queued" => DeliveryState::Queued,
            "submitted" => DeliveryState::Submitted,
            "buffered" => DeliveryState::Buffered,
            "delivered" => DeliveryState::Delivered,
            "failed" => DeliveryState::Failed,
            _ => return None,
        })
    }

    /// Whether a delivery report may move a message from `self` to `to`. Reports come in any
    /// order (Kannel's fake SMSC sends "SMSC ack" and "delivered" either way round), so a
    /// final state is never left, and an intermediate report never undoes a final one.
    pub fn may_move_to(self, to: DeliveryState) -> bool {
        match self {
            DeliveryState::Delivered | DeliveryState::Failed => false,
            DeliveryState::Queued => false,
            DeliveryState::Submitted => to != DeliveryState::Queued,
            DeliveryState::Buffered => {
                matches!(to, DeliveryState::Delivered | DeliveryState::Failed)
            }
        }
    }
}

/// What an SMS is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// The link to a task's questions.
    Link,
    /// One reminder when the link was not answered in time.
    Reminder,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Link => "link",
            MessageKind::Reminder => "reminder",
        }
    }

    pub fn parse(s: &str) -> Option<MessageKind> {
        match s {
            "link" => Some(MessageKind::Link),
            "reminder" => Some(MessageKind::Reminder),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_in_any_order_end_in_the_final_state() {
        use DeliveryState::*;
        // "SMSC ack" (buffered-like intermediate) after "delivered" does not undo it
        assert!(Submitted.may_move_to(Delivered));
        assert!(!Delivered.may_move_to(Buffered));
        assert!(!Delivered.may_move_to(Submitted));
        assert!(Buffered.may_move_to(Delivered));
        assert!(!Buffered.may_move_to(Submitted));
        assert!(!Failed.may_move_to(Delivered));
        // a queued message has no gateway id yet: no report can be about it
        assert!(!Queued.may_move_to(Delivered));
        for s in [Queued, Submitted, Buffered, Delivered, Failed] {
            assert_eq!(DeliveryState::parse(s.as_str()), Some(s));
        }
        assert_eq!(DeliveryState::parse("sent"), None);
    }
}
