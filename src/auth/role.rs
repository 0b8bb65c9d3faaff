use serde::{Deserialize, Serialize};

/// What a user may do is decided by role alone (HIPAA "minimum necessary").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Nurse,
    Supervisor,
    Doctor,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Nurse, Role::Supervisor, Role::Doctor, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Nurse => "nurse",
            Role::Supervisor => "supervisor",
            Role::Doctor => "doctor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Nurses dial through the server and never need to read a full number.
    pub fn sees_full_phone_numbers(self) -> bool {
        !matches!(self, Role::Nurse)
    }

    /// Which follow-up task role this user works in the queue.
    pub fn task_role(self) -> &'static str {
        match self {
            Role::Doctor => "team",
            _ => "nurse",
        }
    }
}
