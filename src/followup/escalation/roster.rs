//! Who is on duty, and the order in which people are called when nobody answers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{DepartmentCode, UserId};
use crate::followup::script::{Route, Severity};

/// Where in the fallback chain a recipient sits. Ordered: an escalation only moves up.
///
/// Issue 3: on-duty doctor → backup doctor → department head → supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// The on-duty doctor (or the named group/role of the rule).
    Primary,
    /// The department's backup doctor.
    Backup,
    /// The department head.
    Head,
    /// The call-center supervisors; the last level.
    Supervisor,
}

/// Duty roster of one department at the time of the decision.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepartmentRoster {
    /// Doctor on duty now.
    pub on_duty: Option<UserId>,
    /// Backup doctor now.
    pub backup: Option<UserId>,
    /// Department head.
    pub head: Option<UserId>,
}

/// The duty roster the caller loads for `now`: per department, plus supervisors, roles and
/// named groups. A plain value so decisions are reproducible from what was persisted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roster {
    /// Per-department duty.
    pub departments: BTreeMap<DepartmentCode, DepartmentRoster>,
    /// Call-center supervisors (the last level of every chain).
    pub supervisors: Vec<UserId>,
    /// Members of each role (`psychiatry_liaison`).
    pub roles: BTreeMap<String, Vec<UserId>>,
    /// Members of each named group (`stroke_team`).
    pub groups: BTreeMap<String, Vec<UserId>>,
}

impl Roster {
    /// The fallback chain for a route, in order, each person with their level. Group and role
    /// routes put their members first and fall back on the department's backup, head and the
    /// supervisors; an unknown or empty group falls back on the on-duty doctor (a group with
    /// nobody on it must still reach someone).
    pub fn chain(&self, route: &Route, department: &DepartmentCode) -> Vec<(Level, UserId)> {
        let dept = self
            .departments
            .get(department)
            .cloned()
            .unwrap_or_default();
        let mut chain: Vec<(Level, UserId)> = Vec::new();
        let mut push = |level: Level, user: Option<&UserId>| {
            if let Some(u) = user {
                if !chain.iter().any(|(_, x)| x == u) {
                    chain.push((level, u.clone()));
                }
            }
        };
        let members = match route {
            Route::Group(g) => self.groups.get(g).map(Vec::as_slice),
            Route::Role(r) => self.roles.get(r).map(Vec::as_slice),
            Route::PatientDepartment | Route::Department(_) => None,
        };
        match members {
            Some(ms) if !ms.is_empty() => ms.iter().for_each(|m| push(Level::Primary, Some(m))),
            // Unknown or empty group/role: the finding still goes to the on-duty doctor.
            _ => push(Level::Primary, dept.on_duty.as_ref()),
        }
        push(Level::Backup, dept.backup.as_ref());
        push(Level::Head, dept.head.as_ref());
        self.supervisors
            .iter()
            .for_each(|s| push(Level::Supervisor, Some(s)));
        chain
    }

    /// First recipients of a new finding and the level that reached: everyone at the primary
    /// level, and for emergency/urgent at least two people (issue 3: "more than one"), taken
    /// down the chain — normally the on-duty and the backup doctor.
    pub fn first_recipients(
        &self,
        route: &Route,
        department: &DepartmentCode,
        severity: Severity,
    ) -> (Level, Vec<UserId>) {
        let chain = self.chain(route, department);
        let want = if severity.needs_more_than_one_recipient() {
            2
        } else {
            1
        };
        let mut level = Level::Primary;
        let mut out = Vec::new();
        for (l, u) in chain {
            // Never split a level: all primary members hear it, and if the chain reaches the
            // supervisors, all of them do.
            if l > level && out.len() >= want {
                break;
            }
            level = level.max(l);
            out.push(u);
        }
        (level, out)
    }
}
