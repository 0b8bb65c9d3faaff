//! Care teams and duty shifts in SQLite (migration 0013; issue 20 items 2 and 3).
//!
//! The routing itself is pure ([`crate::followup::escalation::Roster::chain`]); this module keeps
//! the rows and turns them into the roster's `on_shift` and `care_teams` for a given `now`
//! ([`fill_roster`]). The team-review workflow (issue 20 item 4) reads the same rows through
//! [`patient_care_team`] and [`members_by_discipline`].

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveTime, Timelike, Utc};
use rusqlite::{params, Connection, Transaction};
use serde::Serialize;

use super::{optional, StoreError};
use crate::followup::discipline::Discipline;
use crate::followup::escalation::shift::{Holidays, Shift, Weekdays};
use crate::followup::escalation::{CareTeamRoster, DepartmentCode, Roster, UserId};
use crate::followup::pathway::Calendar;

/// One member of a care team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    /// `users.id`.
    pub user_id: i64,
    /// For the console.
    pub display_name: String,
    /// The discipline she serves in this team.
    pub discipline: Discipline,
    /// Whether she leads the team.
    pub lead: bool,
    /// Disabled users stay listed but are not routed to.
    pub active: bool,
}

/// A care team with its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CareTeam {
    /// `care_teams.id`.
    pub id: i64,
    /// The department whose patients it follows.
    pub department: String,
    /// The pathway it runs, if named.
    pub pathway: Option<String>,
    /// English name.
    pub name_en: String,
    /// Chinese name.
    pub name_zh: String,
    /// Members, leads first, then by discipline.
    pub members: Vec<Member>,
}

/// One duty shift row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShiftRow {
    /// `duty_shifts.id`.
    pub id: i64,
    /// Who.
    pub user_id: i64,
    /// For the console.
    pub display_name: String,
    /// As what.
    pub discipline: Discipline,
    /// When.
    #[serde(flatten)]
    pub shift: Shift,
}

fn discipline(col: usize, code: String) -> rusqlite::Result<Discipline> {
    Discipline::parse_code(&code).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn minute_of(t: NaiveTime) -> i64 {
    i64::from(t.hour() * 60 + t.minute())
}

fn time_of(minute: i64) -> NaiveTime {
    let m = u32::try_from(minute.clamp(0, 1439)).unwrap_or(0);
    NaiveTime::from_hms_opt(m / 60, m % 60, 0).unwrap_or(NaiveTime::MIN)
}

/// Creates the care team of a department. Conflict if the department already has one.
pub fn create_team(
    tx: &Transaction,
    department: &str,
    pathway: Option<&str>,
    name_en: &str,
    name_zh: &str,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let dept = super::patients::department_id(tx, department)?
        .ok_or_else(|| StoreError::NotFound(format!("department {department}")))?;
    let exists: Option<i64> = optional(tx.query_row(
        "SELECT id FROM care_teams WHERE department_id = ?1",
        [dept],
        |r| r.get(0),
    ))?;
    if let Some(id) = exists {
        return Err(StoreError::Conflict(format!(
            "department {department} already has care team {id}"
        )));
    }
    tx.execute(
        "INSERT INTO care_teams (department_id, pathway, name_en, name_zh, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        params![dept, pathway, name_en, name_zh, now.timestamp()],
    )?;
    Ok(tx.last_insert_rowid())
}

/// Adds a member to a team or changes her discipline or lead flag. Making her lead takes the
/// lead from whoever had it (one lead per team).
pub fn set_member(
    tx: &Transaction,
    team: i64,
    user: i64,
    discipline: &Discipline,
    lead: bool,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    get_team(tx, team)?;
    super::users::get_user(tx, user)?;
    if lead {
        tx.execute(
            "UPDATE care_team_members SET lead = 0 WHERE team_id = ?1 AND user_id != ?2",
            params![team, user],
        )?;
    }
    tx.execute(
        "INSERT INTO care_team_members (team_id, user_id, discipline, lead, added_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (team_id, user_id) DO UPDATE SET discipline = ?3, lead = ?4",
        params![team, user, discipline.as_str(), lead, now.timestamp()],
    )?;
    tx.execute(
        "UPDATE care_teams SET updated_at = ?2 WHERE id = ?1",
        params![team, now.timestamp()],
    )?;
    Ok(())
}

/// Removes a member from a team; NotFound if she was not in it.
pub fn remove_member(tx: &Transaction, team: i64, user: i64) -> Result<(), StoreError> {
    let n = tx.execute(
        "DELETE FROM care_team_members WHERE team_id = ?1 AND user_id = ?2",
        params![team, user],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound(format!(
            "user {user} in care team {team}"
        )));
    }
    Ok(())
}

fn members(conn: &Connection, team: i64) -> Result<Vec<Member>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT m.user_id, u.display_name, m.discipline, m.lead, u.active
         FROM care_team_members m JOIN users u ON u.id = m.user_id
         WHERE m.team_id = ?1 ORDER BY m.lead DESC, m.discipline, u.display_name, m.user_id",
    )?;
    let rows = stmt.query_map([team], |r| {
        Ok(Member {
            user_id: r.get(0)?,
            display_name: r.get(1)?,
            discipline: discipline(2, r.get(2)?)?,
            lead: r.get(3)?,
            active: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

const TEAM: &str = "SELECT t.id, d.code, t.pathway, t.name_en, t.name_zh
    FROM care_teams t JOIN departments d ON d.id = t.department_id";

fn team_row(r: &rusqlite::Row) -> rusqlite::Result<CareTeam> {
    Ok(CareTeam {
        id: r.get(0)?,
        department: r.get(1)?,
        pathway: r.get(2)?,
        name_en: r.get(3)?,
        name_zh: r.get(4)?,
        members: Vec::new(),
    })
}

/// One care team with its members.
pub fn get_team(conn: &Connection, id: i64) -> Result<CareTeam, StoreError> {
    let mut team = optional(conn.query_row(&format!("{TEAM} WHERE t.id = ?1"), [id], team_row))?
        .ok_or_else(|| StoreError::NotFound(format!("care team {id}")))?;
    team.members = members(conn, id)?;
    Ok(team)
}

/// Every care team with its members, by department code.
pub fn list_teams(conn: &Connection) -> Result<Vec<CareTeam>, StoreError> {
    let mut stmt = conn.prepare(&format!("{TEAM} ORDER BY d.code"))?;
    let mut teams: Vec<CareTeam> = stmt.query_map([], team_row)?.collect::<Result<_, _>>()?;
    for t in &mut teams {
        t.members = members(conn, t.id)?;
    }
    Ok(teams)
}

/// The patient's care team: that of the department of her latest discharge (the department
/// whose duty roster answers for her), if it has one. For the team-review workflow.
pub fn patient_care_team(conn: &Connection, patient: i64) -> Result<Option<CareTeam>, StoreError> {
    let id: Option<i64> = optional(conn.query_row(
        "SELECT t.id FROM discharges x JOIN care_teams t ON t.department_id = x.department_id
         WHERE x.patient_id = ?1 ORDER BY x.discharged_at DESC LIMIT 1",
        [patient],
        |r| r.get(0),
    ))?;
    id.map(|id| get_team(conn, id)).transpose()
}

/// Active members of the patient's care team who serve in `discipline` (empty when she has no
/// team or the team has nobody of it). For the team-review workflow: who signs off for pharmacy.
pub fn members_by_discipline(
    conn: &Connection,
    patient: i64,
    discipline: &Discipline,
) -> Result<Vec<UserId>, StoreError> {
    Ok(patient_care_team(conn, patient)?
        .map(|t| {
            t.members
                .into_iter()
                .filter(|m| m.active && m.discipline == *discipline)
                .map(|m| UserId(m.user_id))
                .collect()
        })
        .unwrap_or_default())
}

/// Adds a recurring shift for a user as a discipline; returns its id.
pub fn add_shift(
    tx: &Transaction,
    user: i64,
    discipline: &Discipline,
    shift: &Shift,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    super::users::get_user(tx, user)?;
    if shift.weekdays.bits() == 0 {
        return Err(StoreError::Invalid(
            "a shift needs at least one weekday".into(),
        ));
    }
    tx.execute(
        "INSERT INTO duty_shifts (user_id, discipline, weekdays, start_minute, end_minute,
             holidays, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            user,
            discipline.as_str(),
            shift.weekdays.bits(),
            minute_of(shift.start),
            minute_of(shift.end),
            shift.holidays.as_str(),
            now.timestamp()
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

/// Removes a shift; NotFound if there is none with this id. Returns what was removed (audit).
pub fn remove_shift(tx: &Transaction, id: i64) -> Result<ShiftRow, StoreError> {
    let row = list_shifts(tx)?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or_else(|| StoreError::NotFound(format!("shift {id}")))?;
    tx.execute("DELETE FROM duty_shifts WHERE id = ?1", [id])?;
    Ok(row)
}

/// Every shift (active users or not), by discipline and start.
pub fn list_shifts(conn: &Connection) -> Result<Vec<ShiftRow>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT s.id, s.user_id, u.display_name, s.discipline, s.weekdays, s.start_minute,
             s.end_minute, s.holidays, u.active
         FROM duty_shifts s JOIN users u ON u.id = s.user_id
         ORDER BY s.discipline, s.start_minute, s.id",
    )?;
    let rows = stmt.query_map([], |r| {
        let holidays: String = r.get(7)?;
        Ok(ShiftRow {
            id: r.get(0)?,
            user_id: r.get(1)?,
            display_name: r.get(2)?,
            discipline: discipline(3, r.get(3)?)?,
            shift: Shift {
                weekdays: Weekdays::from_bits(r.get(4)?),
                start: time_of(r.get(5)?),
                end: time_of(r.get(6)?),
                holidays: Holidays::parse(&holidays).unwrap_or_default(),
            },
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Who of each discipline is on shift at `now` (hospital local time, holidays from the
/// calendar): active users only, each once per discipline.
pub fn on_shift(
    conn: &Connection,
    now: DateTime<Utc>,
    calendar: &Calendar,
) -> Result<BTreeMap<Discipline, Vec<UserId>>, StoreError> {
    let local = now.with_timezone(&calendar.tz).naive_local();
    let mut out: BTreeMap<Discipline, Vec<UserId>> = BTreeMap::new();
    let active: Vec<i64> = conn
        .prepare("SELECT id FROM users WHERE active = 1")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for s in list_shifts(conn)? {
        if active.contains(&s.user_id) && s.shift.covers(local, &calendar.holidays) {
            let users = out.entry(s.discipline).or_default();
            if !users.contains(&UserId(s.user_id)) {
                users.push(UserId(s.user_id));
            }
        }
    }
    Ok(out)
}

/// Puts who is on shift at `now` and every department's care team (active members) into the
/// roster.
pub fn fill_roster(
    conn: &Connection,
    roster: &mut Roster,
    now: DateTime<Utc>,
    calendar: &Calendar,
) -> Result<(), StoreError> {
    roster.on_shift = on_shift(conn, now, calendar)?;
    for team in list_teams(conn)? {
        let mut r = CareTeamRoster::default();
        for m in team.members.into_iter().filter(|m| m.active) {
            if m.lead {
                r.lead = Some(UserId(m.user_id));
            }
            r.members
                .entry(m.discipline)
                .or_default()
                .push(UserId(m.user_id));
        }
        roster.care_teams.insert(DepartmentCode(team.department), r);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::followup::escalation::shift::parse_time;

    fn d(code: &str) -> Discipline {
        Discipline::parse_code(code).expect("code")
    }

    fn calendar() -> Calendar {
        Calendar {
            tz: chrono_tz::Asia::Shanghai,
            // Wednesday 2026-12-09 is a holiday in these tests.
            holidays: vec![chrono::NaiveDate::from_ymd_opt(2026, 12, 9).expect("date")],
            tcm_two_business_days: false,
        }
    }

    /// Local Shanghai time as UTC.
    fn local(y: i32, m: u32, day: u32, h: u32, min: u32) -> DateTime<Utc> {
        chrono_tz::Asia::Shanghai
            .with_ymd_and_hms(y, m, day, h, min, 0)
            .single()
            .expect("valid")
            .with_timezone(&Utc)
    }

    fn setup(tx: &Transaction) -> Result<i64, StoreError> {
        tx.execute_batch(
            "INSERT INTO departments (id, code, name_en, name_zh) VALUES (1, 'cardiology', 'C', '心');
             INSERT INTO users (id, username, display_name, role, password_hash, created_at) VALUES
                 (1, 'card', 'Dr Card', 'doctor', 'x', 0),
                 (2, 'pharm', 'Pharm', 'doctor', 'x', 0),
                 (3, 'diet', 'Diet', 'doctor', 'x', 0),
                 (4, 'gone', 'Gone', 'doctor', 'x', 0);
             UPDATE users SET active = 0 WHERE id = 4;
             INSERT INTO patients (id, mrn, name, phone, created_at, updated_at)
                 VALUES (1, 'M1', 'p', '+8613800000000', 0, 0);
             INSERT INTO discharges (patient_id, department_id, discharged_at, created_at)
                 VALUES (1, 1, 0, 0);",
        )?;
        create_team(
            tx,
            "cardiology",
            Some("hf"),
            "HF team",
            "心衰团队",
            Utc::now(),
        )
    }

    #[test]
    fn teams_have_one_lead_and_members_by_discipline() {
        let (_dir, store) = crate::store::temp_store();
        let (team, pharmacists, dup) = store
            .write_blocking(|tx| {
                let id = setup(tx)?;
                let now = Utc::now();
                set_member(tx, id, 1, &d("cardiology"), true, now)?;
                set_member(tx, id, 2, &d("pharmacy"), false, now)?;
                set_member(tx, id, 4, &d("pharmacy"), false, now)?;
                set_member(tx, id, 3, &d("nutrition"), true, now)?; // takes the lead
                let dup = create_team(tx, "cardiology", None, "again", "again", now);
                Ok((
                    get_team(tx, id)?,
                    members_by_discipline(tx, 1, &d("pharmacy"))?,
                    dup,
                ))
            })
            .expect("store");
        let leads: Vec<i64> = team
            .members
            .iter()
            .filter(|m| m.lead)
            .map(|m| m.user_id)
            .collect();
        assert_eq!(leads, vec![3]);
        // The disabled pharmacist is listed but not a member for routing or sign-off.
        assert_eq!(team.members.len(), 4);
        assert_eq!(pharmacists, vec![UserId(2)]);
        assert!(matches!(dup, Err(StoreError::Conflict(_))));
    }

    #[test]
    fn the_roster_holds_who_is_on_shift_at_now_in_hospital_time() {
        let (_dir, store) = crate::store::temp_store();
        store
            .write_blocking(|tx| {
                let id = setup(tx)?;
                set_member(tx, id, 1, &d("cardiology"), true, Utc::now())?;
                let office = Shift {
                    weekdays: Weekdays::parse("mon-fri").expect("days"),
                    start: parse_time("08:00").expect("t"),
                    end: parse_time("17:00").expect("t"),
                    holidays: Holidays::Skip,
                };
                add_shift(tx, 2, &d("pharmacy"), &office, Utc::now())?;
                add_shift(tx, 4, &d("pharmacy"), &office, Utc::now())?; // disabled
                let night = Shift {
                    start: parse_time("22:00").expect("t"),
                    end: parse_time("06:00").expect("t"),
                    ..office
                };
                add_shift(tx, 3, &d("nutrition"), &night, Utc::now())?;
                Ok(())
            })
            .expect("store");
        let roster_at = |at: DateTime<Utc>| {
            store
                .read_blocking(move |c| {
                    let mut r = Roster::default();
                    fill_roster(c, &mut r, at, &calendar())?;
                    Ok(r)
                })
                .expect("roster")
        };
        // Monday 2026-12-07 10:00 in Shanghai (02:00 UTC): the pharmacist is on.
        let r = roster_at(local(2026, 12, 7, 10, 0));
        assert_eq!(r.on_shift.get(&d("pharmacy")), Some(&vec![UserId(2)]));
        assert_eq!(r.on_shift.get(&d("nutrition")), None);
        let team = &r.care_teams[&DepartmentCode("cardiology".into())];
        assert_eq!(team.lead, Some(UserId(1)));
        // 18:00 local: off; the holiday Wednesday: off; Tuesday 03:00 after Monday's night: on.
        assert!(roster_at(local(2026, 12, 7, 18, 0)).on_shift.is_empty());
        assert!(!roster_at(local(2026, 12, 9, 10, 0))
            .on_shift
            .contains_key(&d("pharmacy")));
        assert_eq!(
            roster_at(local(2026, 12, 8, 3, 0))
                .on_shift
                .get(&d("nutrition")),
            Some(&vec![UserId(3)])
        );
    }
}
