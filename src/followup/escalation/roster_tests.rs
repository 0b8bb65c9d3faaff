//! The multidisciplinary chain (issue 20 item 3): discipline on shift → care-team lead →
//! on-duty doctor → backup → head → supervisors, never empty.

use super::*;

const CARDIO: &str = "cardiology";

fn u(i: i64) -> UserId {
    UserId(i)
}
// 1 on-duty cardiologist, 2 backup, 3 head, 4 supervisor, 5 team pharmacist, 6 other pharmacist,
// 7 team lead, 8 team dietitian.
fn d(code: &str) -> Discipline {
    Discipline::parse_code(code).expect("code")
}

fn roster(pharmacist_on_shift: bool) -> Roster {
    let mut r = Roster::default();
    let dept = DepartmentCode(CARDIO.into());
    r.departments.insert(
        dept.clone(),
        DepartmentRoster {
            on_duty: Some(u(1)),
            backup: Some(u(2)),
            head: Some(u(3)),
        },
    );
    r.supervisors = vec![u(4)];
    let mut team = CareTeamRoster {
        lead: Some(u(7)),
        ..Default::default()
    };
    team.members.insert(d("pharmacy"), vec![u(5)]);
    team.members.insert(d("nutrition"), vec![u(8)]);
    r.care_teams.insert(dept, team);
    if pharmacist_on_shift {
        r.on_shift.insert(d("pharmacy"), vec![u(6), u(5)]);
    }
    r.on_shift.insert(d("nutrition"), vec![u(8)]);
    r
}

fn chain(r: &Roster, route: Route) -> Vec<(Level, i64)> {
    r.chain(&route, &DepartmentCode(CARDIO.into()))
        .into_iter()
        .map(|(l, u)| (l, u.0))
        .collect()
}

#[test]
fn a_discipline_on_shift_is_primary_team_members_first() {
    let r = roster(true);
    assert_eq!(
        chain(&r, Route::Discipline(d("pharmacy"))),
        vec![
            (Level::Primary, 5),
            (Level::Primary, 6),
            (Level::Backup, 7),
            (Level::Backup, 1),
            (Level::Backup, 2),
            (Level::Head, 3),
            (Level::Supervisor, 4),
        ]
    );
    // A high finding reaches the pharmacists only, not the cardiologist.
    let (level, who) = r.first_recipients(
        &Route::Discipline(d("pharmacy")),
        &DepartmentCode(CARDIO.into()),
        Severity::High,
    );
    assert_eq!((level, who), (Level::Primary, vec![u(5), u(6)]));
}

#[test]
fn off_shift_the_discipline_falls_back_on_the_team_lead_then_the_on_duty_doctor() {
    let mut r = roster(false);
    assert_eq!(
        chain(&r, Route::Discipline(d("pharmacy")))[..2],
        [(Level::Primary, 7), (Level::Backup, 1)]
    );
    // No team lead: the on-duty doctor.
    r.care_teams.values_mut().for_each(|t| t.lead = None);
    assert_eq!(
        chain(&r, Route::Discipline(d("pharmacy")))[0],
        (Level::Primary, 1)
    );
    // No care team, no duty roster: the supervisors still hear it.
    r.care_teams.clear();
    r.departments.clear();
    assert_eq!(
        chain(&r, Route::Discipline(d("pharmacy"))),
        vec![(Level::Supervisor, 4)]
    );
}

#[test]
fn the_care_team_route_reaches_members_on_shift_and_the_lead() {
    let r = roster(true);
    let c = chain(&r, Route::CareTeam);
    assert_eq!(
        c[..4],
        [
            (Level::Primary, 8),
            (Level::Primary, 5),
            (Level::Primary, 7),
            (Level::Backup, 1)
        ]
    );
    // A department without a care team: the on-duty doctor.
    assert_eq!(
        r.chain(&Route::CareTeam, &DepartmentCode("neurology".into())),
        vec![(Level::Supervisor, u(4))]
    );
}

#[test]
fn the_on_duty_doctor_route_ignores_disciplines() {
    let r = roster(true);
    assert_eq!(
        chain(&r, Route::OnDutyDoctor),
        vec![
            (Level::Primary, 1),
            (Level::Backup, 2),
            (Level::Head, 3),
            (Level::Supervisor, 4)
        ]
    );
}

#[test]
fn route_spellings_parse_and_round_trip() {
    for (json, want) in [
        (r#""pharmacy""#, Route::Discipline(d("pharmacy"))),
        (
            r#"{"discipline":"pharmacy"}"#,
            Route::Discipline(d("pharmacy")),
        ),
        (r#""care_team""#, Route::CareTeam),
        (r#""on_duty_doctor""#, Route::OnDutyDoctor),
        (r#""patient_department""#, Route::PatientDepartment),
        (
            r#"{"department":"cardiology"}"#,
            Route::Department(CARDIO.into()),
        ),
        (
            r#"{"role":"psychiatry_liaison"}"#,
            Route::Role("psychiatry_liaison".into()),
        ),
    ] {
        let r: Route = serde_json::from_str(json).expect(json);
        assert_eq!(r, want, "{json}");
        let back: Route = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, want);
    }
    for bad in [r#""Pharmacy""#, r#"{"ward":"x"}"#, r#""social work""#] {
        assert!(serde_json::from_str::<Route>(bad).is_err(), "{bad}");
    }
}

/// An unacknowledged medication question re-escalates from the pharmacist to the team lead and
/// the on-duty doctor together (the backup level), then the head, then the supervisors.
#[test]
fn an_unacknowledged_discipline_finding_walks_the_chain() {
    use chrono::{Duration, TimeZone, Utc};

    use crate::followup::escalation::{
        due_reescalations, CallId, DedupeKey, Escalation, EscalationId, EvidenceEntry, Notified,
        PatientId, Source, Status,
    };
    use crate::followup::rules::Evidence;
    use crate::followup::script::{RuleId, ScriptCode};

    let r = roster(true);
    let t0 = Utc
        .with_ymd_and_hms(2026, 12, 7, 2, 0, 0)
        .single()
        .expect("t0");
    let route = Route::Discipline(d("pharmacy"));
    let dept = DepartmentCode(CARDIO.into());
    let (level, first) = r.first_recipients(&route, &dept, Severity::High);
    let mut e = Escalation {
        id: EscalationId(1),
        key: DedupeKey {
            patient: PatientId(1),
            script: ScriptCode("heart-failure".into()),
            rule: RuleId("hf-meds-not-taken".into()),
        },
        department: dept,
        route,
        severity: Severity::High,
        ack_sla_minutes: 240,
        level,
        ack_due_at: t0 + Duration::minutes(240),
        status: Status::Open,
        opened_at: t0,
        notified: first
            .into_iter()
            .map(|user| Notified {
                user,
                level,
                at: t0,
            })
            .collect(),
        evidence: vec![EvidenceEntry {
            at: t0,
            source: Source::Answer {
                call: Some(CallId("c".into())),
            },
            severity: Severity::High,
            evidence: Evidence {
                script: ScriptCode("heart-failure".into()),
                script_version: 3,
                condition: "not meds_taken".into(),
                answers: vec![],
                trends: vec![],
                excerpts: vec![],
                labs: vec![],
            },
            advice: None,
        }],
    };
    let mut steps = Vec::new();
    let mut now = t0;
    for _ in 0..4 {
        now += Duration::minutes(241);
        let due = due_reescalations(std::slice::from_ref(&e), &r, now);
        let Some(step) = due.first() else { break };
        steps.push((
            step.to,
            step.notify.iter().map(|n| n.user.0).collect::<Vec<_>>(),
        ));
        e.apply_reescalation(step);
    }
    assert_eq!(
        steps,
        vec![
            (Level::Backup, vec![7, 1, 2]),
            (Level::Head, vec![3]),
            (Level::Supervisor, vec![4]),
        ]
    );
}
