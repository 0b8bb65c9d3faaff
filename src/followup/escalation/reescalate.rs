//! The SLA timer as a pure function over persisted rows.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{deadline, Escalation, EscalationId, Level, Notified, Roster};

/// Move one unacknowledged escalation to the next level of its chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reescalation {
    /// Which escalation.
    pub id: EscalationId,
    /// Level it was at.
    pub from: Level,
    /// Level it moves to.
    pub to: Level,
    /// Who to notify now (everyone at the new level not notified before).
    pub notify: Vec<Notified>,
    /// New acknowledgement deadline: `now` + the rule's SLA. Counting from `now`, not from the
    /// missed deadline, gives the new level its full SLA even after a long outage.
    pub ack_due_at: DateTime<Utc>,
}

/// Escalations whose acknowledgement deadline has passed, each with its next level.
///
/// Each level is used at most once: the level only moves up, and applying the result
/// ([`Escalation::apply_reescalation`]) moves the deadline past `now`, so calling this again with
/// the updated rows — after a restart too — returns nothing until the next deadline. Levels with
/// nobody new on them (a department without a head) are skipped; once the supervisors have been
/// called there is nothing further and the escalation stays overdue on the consoles.
pub fn due_reescalations(
    escalations: &[Escalation],
    roster: &Roster,
    now: DateTime<Utc>,
) -> Vec<Reescalation> {
    let mut out = Vec::new();
    for e in escalations {
        if !e.awaits_ack() || e.ack_due_at > now {
            continue;
        }
        let chain = roster.chain(&e.route, &e.department);
        let fresh = |level: Level| -> Vec<Notified> {
            chain
                .iter()
                .filter(|(l, u)| *l == level && !e.notified.iter().any(|n| n.user == *u))
                .map(|(_, u)| Notified {
                    user: u.clone(),
                    level,
                    at: now,
                })
                .collect()
        };
        let next = [Level::Backup, Level::Head, Level::Supervisor]
            .into_iter()
            .filter(|l| *l > e.level)
            .map(|l| (l, fresh(l)))
            .find(|(_, notify)| !notify.is_empty());
        if let Some((to, notify)) = next {
            out.push(Reescalation {
                id: e.id.clone(),
                from: e.level,
                to,
                notify,
                ack_due_at: deadline(now, e.ack_sla_minutes),
            });
        }
    }
    out
}
