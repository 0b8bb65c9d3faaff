//! The live event bus: what happened now (an escalation opened, a call changed state, the
//! queue moved), addressed to an audience. One broadcast channel; whoever shows events (the
//! console's Server-Sent Events stream in `api::events`, the agent WebSocket) subscribes and
//! filters for its user. Publishers — the call center, the transcription pipeline, the
//! escalation worker, the API — see only this module, never the web layer.

use serde::Serialize;
use serde_json::Value;
use tokio::sync::broadcast;

use crate::auth::role::Role;
use crate::store::users::User;

/// Who should see an event.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", content = "ids", rename_all = "snake_case")]
pub enum Audience {
    Users(Vec<i64>),
    Roles(Vec<Role>),
    /// These users and everyone with one of these roles.
    UsersAndRoles(Vec<i64>, Vec<Role>),
}

/// One live event.
#[derive(Debug, Clone, Serialize)]
pub struct LiveEvent {
    /// Event name, e.g. `escalation.opened`.
    pub name: String,
    pub audience: Audience,
    pub data: Value,
}

impl LiveEvent {
    pub fn visible_to(&self, user: &User) -> bool {
        match &self.audience {
            Audience::Users(ids) => ids.contains(&user.id),
            Audience::Roles(roles) => roles.contains(&user.role),
            Audience::UsersAndRoles(ids, roles) => {
                ids.contains(&user.id) || roles.contains(&user.role)
            }
        }
    }
}

/// Fan-out of live events; cheap to clone.
#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<LiveEvent>,
    /// Set when the server shuts down: open streams end, so graceful shutdown does not wait
    /// forever for consoles that never hang up.
    closing: tokio::sync::watch::Sender<bool>,
    /// Bumped whenever sessions end (log-out, disable, password reset, log-out-everywhere):
    /// each open stream checks that its own session still stands, so a live feed of patients'
    /// escalations does not outlive the session that opened it (issue 21 item 7).
    sessions_ended: tokio::sync::watch::Sender<u64>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus::new(1024)
    }
}

impl EventBus {
    pub fn new(capacity: usize) -> EventBus {
        EventBus {
            tx: broadcast::channel(capacity).0,
            closing: tokio::sync::watch::channel(false).0,
            sessions_ended: tokio::sync::watch::channel(0).0,
        }
    }

    /// Publishes to whoever is connected now; returns how many connections received it.
    pub fn publish(&self, event: LiveEvent) -> usize {
        self.tx.send(event).unwrap_or(0)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.tx.subscribe()
    }

    /// Ends every open stream (called when shutdown begins).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Some sessions were ended: open streams re-check theirs.
    pub fn sessions_ended(&self) {
        self.sessions_ended.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Turns true when shutdown begins.
    pub fn closing(&self) -> tokio::sync::watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Changes whenever some sessions were ended.
    pub fn sessions_ending(&self) -> tokio::sync::watch::Receiver<u64> {
        self.sessions_ended.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64, role: Role) -> User {
        User {
            id,
            username: "u".into(),
            display_name: "u".into(),
            role,
            department: None,
            active: true,
            discipline: None,
        }
    }

    #[test]
    fn events_reach_only_their_audience() {
        let ev = LiveEvent {
            name: "x".into(),
            audience: Audience::Users(vec![2]),
            data: Value::Null,
        };
        assert!(ev.visible_to(&user(2, Role::Doctor)));
        assert!(!ev.visible_to(&user(3, Role::Doctor)));
        let ev = LiveEvent {
            name: "x".into(),
            audience: Audience::Roles(vec![Role::Supervisor]),
            data: Value::Null,
        };
        assert!(ev.visible_to(&user(9, Role::Supervisor)));
        assert!(!ev.visible_to(&user(9, Role::Nurse)));
    }
}
