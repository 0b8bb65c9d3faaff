//! Who is on duty, and the order in which people are called when nobody answers.
//!
//! Issue 20 item 3 adds the multidisciplinary team: who of each discipline is on shift now
//! (evaluated from shift rows by [`super::shift`], by the store, for `now`) and each department's
//! care team. A discipline route's chain is: that discipline on shift → the patient's care-team
//! lead → the department's on-duty doctor → backup → head → supervisors. The first of these that
//! names somebody is the primary level; the rest of the first three join the backup level (the
//! persisted levels stay four), so an unacknowledged medication question goes pharmacist → team
//! lead and on-duty doctor → head → supervisors, and nothing is ever routed to nobody while a
//! supervisor exists.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{DepartmentCode, UserId};
use crate::followup::discipline::Discipline;
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
    /// Who of each discipline is on shift at the roster's `now` (active users only).
    #[serde(default)]
    pub on_shift: BTreeMap<Discipline, Vec<UserId>>,
    /// The care team of each department (the patient's care team is that of her department).
    #[serde(default)]
    pub care_teams: BTreeMap<DepartmentCode, CareTeamRoster>,
}

/// One care team as the routing sees it: its lead and its members by discipline.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CareTeamRoster {
    /// The team's lead (the second step of a discipline route's chain).
    pub lead: Option<UserId>,
    /// Active members, by discipline.
    pub members: BTreeMap<Discipline, Vec<UserId>>,
}

impl Roster {
    /// Who of `discipline` is on shift now, the patient's care-team members first.
    pub fn on_shift_for(
        &self,
        discipline: &Discipline,
        department: &DepartmentCode,
    ) -> Vec<UserId> {
        let on = self
            .on_shift
            .get(discipline)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let team = self
            .care_teams
            .get(department)
            .and_then(|t| t.members.get(discipline))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let mut out: Vec<UserId> = on.iter().filter(|u| team.contains(u)).cloned().collect();
        out.extend(on.iter().filter(|u| !team.contains(u)).cloned());
        out
    }

    /// Members of the department's care team who are on shift now (any discipline).
    fn care_team_on_shift(&self, department: &DepartmentCode) -> Vec<UserId> {
        let Some(team) = self.care_teams.get(department) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (d, members) in &team.members {
            let on = self.on_shift.get(d).map(Vec::as_slice).unwrap_or(&[]);
            out.extend(members.iter().filter(|m| on.contains(m)).cloned());
        }
        out
    }
}

impl Roster {
    /// The fallback chain for a route, in order, each person with their level. Group and role
    /// routes put their members first and fall back on the department's backup, head and the
    /// supervisors; an unknown or empty group falls back on the on-duty doctor (a group with
    /// nobody on it must still reach someone). Discipline and care-team routes: see the module
    /// documentation.
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
        let lead = self.care_teams.get(department).and_then(|t| t.lead.clone());
        match route {
            Route::Group(_) | Route::Role(_) => {
                let members = match route {
                    Route::Group(g) => self.groups.get(g),
                    Route::Role(r) => self.roles.get(r),
                    _ => None,
                };
                match members {
                    Some(ms) if !ms.is_empty() => {
                        ms.iter().for_each(|m| push(Level::Primary, Some(m)))
                    }
                    // Unknown or empty group/role: the finding still goes to the on-duty doctor.
                    _ => push(Level::Primary, dept.on_duty.as_ref()),
                }
            }
            Route::PatientDepartment | Route::Department(_) | Route::OnDutyDoctor => {
                push(Level::Primary, dept.on_duty.as_ref())
            }
            Route::Discipline(_) | Route::CareTeam => {
                let first = match route {
                    Route::Discipline(d) => self.on_shift_for(d, department),
                    _ => {
                        let mut team = self.care_team_on_shift(department);
                        team.extend(lead.clone());
                        team
                    }
                };
                // discipline on shift → care-team lead → on-duty doctor: the first that names
                // somebody is primary, the others wait at the backup level.
                let mut fallbacks = vec![lead.clone(), dept.on_duty.clone()]
                    .into_iter()
                    .flatten();
                if first.is_empty() {
                    push(Level::Primary, fallbacks.next().as_ref());
                } else {
                    first.iter().for_each(|u| push(Level::Primary, Some(u)));
                }
                fallbacks.for_each(|u| push(Level::Backup, Some(&u)));
            }
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

#[cfg(test)]
#[path = "roster_tests.rs"]
mod tests;
