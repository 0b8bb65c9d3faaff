use chrono::TimeZone;

use super::*;
use crate::followup::script::QuestionId;

/// Users by name for readable tests; ids as in `users.id`.
const NAMES: [&str; 8] = [
    "dr_duty",
    "dr_backup",
    "dr_head",
    "sup_1",
    "sup_2",
    "st_1",
    "st_2",
    "dr_neuro",
];

fn user(s: &str) -> UserId {
    let i = NAMES.iter().position(|n| *n == s).expect("known test user");
    UserId(i as i64 + 1)
}

fn name(u: &UserId) -> &'static str {
    NAMES[(u.0 - 1) as usize]
}

fn roster() -> Roster {
    let mut r = Roster::default();
    r.departments.insert(
        DepartmentCode("cardiology".into()),
        DepartmentRoster {
            on_duty: Some(user("dr_duty")),
            backup: Some(user("dr_backup")),
            head: Some(user("dr_head")),
        },
    );
    r.departments.insert(
        DepartmentCode("neurology".into()),
        DepartmentRoster {
            on_duty: Some(user("dr_neuro")),
            backup: None,
            head: None,
        },
    );
    r.supervisors = vec![user("sup_1"), user("sup_2")];
    r.groups
        .insert("stroke_team".into(), vec![user("st_1"), user("st_2")]);
    r
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 8, 0, 0)
        .single()
        .expect("valid date")
}

fn finding(rule: &str, severity: Severity, answer: &str) -> Finding {
    Finding {
        script: ScriptCode("heart-failure".into()),
        rule: RuleId(rule.into()),
        severity,
        route: Route::PatientDepartment,
        ack_sla_minutes: 30,
        advice_en: None,
        advice_zh: None,
        tags: Vec::new(),
        evidence: Evidence {
            script: ScriptCode("heart-failure".into()),
            script_version: 1,
            condition: "breathless_at_rest".into(),
            answers: vec![(
                QuestionId("breathless_at_rest".into()),
                "Breathless at rest?".into(),
                answer.into(),
            )],
            trends: vec![],
            excerpts: vec![],
            labs: vec![],
        },
    }
}

fn ctx(patient: &str) -> FindingContext {
    let id = patient.trim_start_matches('p').parse().expect("pN");
    FindingContext {
        patient: PatientId(id),
        department: DepartmentCode("cardiology".into()),
        source: Source::Answer {
            call: Some(CallId("call-1".into())),
        },
    }
}

/// Decides and persists, as the store does after each saved answer.
fn feed(
    rows: &mut Vec<Escalation>,
    f: &Finding,
    c: &FindingContext,
    r: &Roster,
    now: DateTime<Utc>,
) {
    let d = decide(rows, f, c, r, now);
    persist(rows, d);
}

/// What the store does with a decision: insert, update or nothing.
fn persist(rows: &mut Vec<Escalation>, d: Decision) {
    match d {
        Decision::Open(new) => {
            let id = EscalationId(rows.len() as i64 + 1);
            rows.push(Escalation::open(id, new));
        }
        Decision::Update(u) => {
            if let Some(row) = rows.iter_mut().find(|r| r.id == u.id) {
                row.apply(&u);
            }
        }
        Decision::Nothing(_) => {}
    }
}

fn users(n: &[Notified]) -> Vec<&str> {
    n.iter().map(|n| name(&n.user)).collect()
}

#[test]
fn recipients_by_severity() {
    let r = roster();
    let dept = DepartmentCode("cardiology".into());
    let cases = [
        (Severity::Routine, Level::Primary, vec!["dr_duty"]),
        (Severity::High, Level::Primary, vec!["dr_duty"]),
        (
            Severity::Urgent,
            Level::Backup,
            vec!["dr_duty", "dr_backup"],
        ),
        (
            Severity::Emergency,
            Level::Backup,
            vec!["dr_duty", "dr_backup"],
        ),
    ];
    for (sev, level, want) in cases {
        let (l, got) = r.first_recipients(&Route::PatientDepartment, &dept, sev);
        let got: Vec<_> = got.iter().map(name).collect();
        assert_eq!((l, got), (level, want), "{sev}");
    }
    // Neurology has no backup or head: urgent still reaches two people, via the supervisors
    // (all of them: a level is never split).
    let (l, got) = r.first_recipients(
        &Route::PatientDepartment,
        &DepartmentCode("neurology".into()),
        Severity::Urgent,
    );
    assert_eq!(l, Level::Supervisor);
    assert_eq!(got, vec![user("dr_neuro"), user("sup_1"), user("sup_2")]);
    // A named group: all members first.
    let (l, got) = r.first_recipients(
        &Route::Group("stroke_team".into()),
        &dept,
        Severity::Emergency,
    );
    assert_eq!((l, got), (Level::Primary, vec![user("st_1"), user("st_2")]));
}

#[test]
fn fifty_findings_same_rule_and_patient_make_one_escalation() {
    let r = roster();
    let mut rows = Vec::new();
    for i in 0..50 {
        // Retries of the same answer and edits with new values alike.
        let f = finding(
            "hf-rest",
            Severity::Urgent,
            if i % 2 == 0 { "yes" } else { "yes, worse" },
        );
        let d = decide(
            &rows,
            &f,
            &ctx("p1"),
            &r,
            t0() + Duration::seconds(i as i64),
        );
        persist(&mut rows, d);
    }
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].evidence.len(),
        2,
        "identical evidence is recorded once"
    );
    assert_eq!(
        users(&rows[0].notified),
        ["dr_duty", "dr_backup"],
        "notified once"
    );
    // Another patient, or another rule, is another escalation.
    feed(
        &mut rows,
        &finding("hf-rest", Severity::Urgent, "yes"),
        &ctx("p2"),
        &r,
        t0(),
    );
    feed(
        &mut rows,
        &finding("hf-weight", Severity::High, "72"),
        &ctx("p1"),
        &r,
        t0(),
    );
    assert_eq!(rows.len(), 3);
}

#[test]
fn higher_severity_reopens_and_notifies_again() {
    let r = roster();
    let mut rows = Vec::new();
    feed(
        &mut rows,
        &finding("x", Severity::High, "a"),
        &ctx("p1"),
        &r,
        t0(),
    );
    rows[0]
        .acknowledge(user("dr_duty"), t0())
        .expect("open escalation can be acknowledged");
    let later = t0() + Duration::minutes(5);
    let d = decide(
        &rows,
        &finding("x", Severity::Emergency, "b"),
        &ctx("p1"),
        &r,
        later,
    );
    let Decision::Update(ref u) = d else {
        panic!("expected an update, got {d:?}")
    };
    assert!(u.raised.is_some());
    persist(&mut rows, d);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, Status::Open);
    assert_eq!(rows[0].severity, Severity::Emergency);
    assert_eq!(rows[0].ack_due_at, later + Duration::minutes(30));
    // A lower severity later only adds evidence.
    let d = decide(
        &rows,
        &finding("x", Severity::High, "c"),
        &ctx("p1"),
        &r,
        later,
    );
    assert!(matches!(
        d,
        Decision::Update(EscalationUpdate { raised: None, .. })
    ));
}

#[test]
fn acknowledge_and_resolve() {
    let r = roster();
    let mut rows = Vec::new();
    feed(
        &mut rows,
        &finding("x", Severity::Urgent, "a"),
        &ctx("p1"),
        &r,
        t0(),
    );
    let e = &mut rows[0];
    assert_eq!(e.acknowledge(user("dr_duty"), t0()), Ok(()));
    assert_eq!(
        e.acknowledge(user("dr_duty"), t0()),
        Ok(()),
        "idempotent for the same doctor"
    );
    assert!(matches!(
        e.acknowledge(user("dr_backup"), t0()),
        Err(EscalationError::AlreadyAcknowledged { .. })
    ));
    assert_eq!(
        e.resolve(user("dr_duty"), Action::CallPatient, "  ", t0()),
        Err(EscalationError::EmptyNote)
    );
    assert_eq!(
        e.resolve(user("dr_duty"), Action::AdviseEr, "Sent to ER", t0()),
        Ok(())
    );
    assert!(matches!(
        e.resolve(user("dr_duty"), Action::Other, "again", t0()),
        Err(EscalationError::AlreadyResolved(_))
    ));
    // Acknowledged or resolved escalations never re-escalate.
    assert!(due_reescalations(&rows, &r, t0() + Duration::days(1)).is_empty());
    // After resolution the same rule opens a new escalation.
    let d = decide(
        &rows,
        &finding("x", Severity::Urgent, "a"),
        &ctx("p1"),
        &r,
        t0(),
    );
    assert!(matches!(d, Decision::Open(_)));
}

/// Runs the timer at `now` and applies what it returns, as the store would.
fn tick(
    rows: &mut [Escalation],
    r: &Roster,
    now: DateTime<Utc>,
) -> Vec<(Level, Level, Vec<String>)> {
    let due = due_reescalations(rows, r, now);
    for d in &due {
        if let Some(row) = rows.iter_mut().find(|x| x.id == d.id) {
            row.apply_reescalation(d);
        }
    }
    due.iter()
        .map(|d| {
            (
                d.from,
                d.to,
                d.notify.iter().map(|n| name(&n.user).to_owned()).collect(),
            )
        })
        .collect()
}

#[test]
fn reescalation_chain_each_level_exactly_once() {
    let r = roster();
    let mut rows = Vec::new();
    feed(
        &mut rows,
        &finding("x", Severity::High, "a"),
        &ctx("p1"),
        &r,
        t0(),
    );
    let m = |n| t0() + Duration::minutes(n);
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert!(tick(&mut rows, &r, m(29)).is_empty(), "before the SLA");
    assert_eq!(
        tick(&mut rows, &r, m(30)),
        [(Level::Primary, Level::Backup, s(&["dr_backup"]))]
    );
    assert!(
        tick(&mut rows, &r, m(30)).is_empty(),
        "same instant again: nothing"
    );
    assert!(tick(&mut rows, &r, m(59)).is_empty());
    assert_eq!(
        tick(&mut rows, &r, m(60)),
        [(Level::Backup, Level::Head, s(&["dr_head"]))]
    );
    assert_eq!(
        tick(&mut rows, &r, m(95)),
        [(Level::Head, Level::Supervisor, s(&["sup_1", "sup_2"]))]
    );
    assert!(
        tick(&mut rows, &r, m(10_000)).is_empty(),
        "the chain ends at the supervisors"
    );
    let levels: Vec<_> = rows[0].notified.iter().map(|n| n.level).collect();
    assert_eq!(
        levels,
        [
            Level::Primary,
            Level::Backup,
            Level::Head,
            Level::Supervisor,
            Level::Supervisor
        ]
    );
}

#[test]
fn urgent_starts_at_backup_and_missing_levels_are_skipped() {
    let r = roster();
    let mut rows = Vec::new();
    feed(
        &mut rows,
        &finding("x", Severity::Urgent, "a"),
        &ctx("p1"),
        &r,
        t0(),
    );
    let first = tick(&mut rows, &r, t0() + Duration::minutes(30));
    assert_eq!(
        first[0].1,
        Level::Head,
        "backup was already called with the on-duty doctor"
    );
    let mut c = ctx("p2");
    c.department = DepartmentCode("neurology".into());
    let mut rows = Vec::new();
    feed(&mut rows, &finding("x", Severity::High, "a"), &c, &r, t0());
    let first = tick(&mut rows, &r, t0() + Duration::minutes(30));
    assert_eq!(
        first[0].1,
        Level::Supervisor,
        "no backup, no head in neurology"
    );
}

#[test]
fn restart_gives_the_same_answer_from_persisted_rows() {
    let r = roster();
    let mut rows = Vec::new();
    feed(
        &mut rows,
        &finding("x", Severity::Urgent, "a"),
        &ctx("p1"),
        &r,
        t0(),
    );
    feed(
        &mut rows,
        &finding("y", Severity::High, "a"),
        &ctx("p1"),
        &r,
        t0(),
    );
    // "Stop the server": all that survives is the serialized rows. "Move the clock" past the SLA.
    let saved = serde_json::to_string(&rows).expect("rows serialize");
    let after = t0() + Duration::hours(3);
    let before_restart = due_reescalations(&rows, &r, after);
    let mut restored: Vec<Escalation> = serde_json::from_str(&saved).expect("rows deserialize");
    assert_eq!(restored, rows);
    let after_restart = due_reescalations(&restored, &r, after);
    assert_eq!(before_restart, after_restart);
    assert_eq!(after_restart.len(), 2);
    // Applied and persisted once, the next run (another restart) notifies nobody again.
    tick(&mut restored, &r, after);
    let saved = serde_json::to_string(&restored).expect("rows serialize");
    let again: Vec<Escalation> = serde_json::from_str(&saved).expect("rows deserialize");
    assert!(due_reescalations(&again, &r, after).is_empty());
}

#[test]
fn transcript_source_is_kept() {
    let r = roster();
    let mut c = ctx("p1");
    c.source = Source::Transcript {
        call: CallId("call-9".into()),
        phrase: "胸口疼".into(),
        segment: Some("昨天胸口疼".into()),
        audio: Some("/api/v1/recordings/3/audio#t=65.0".into()),
    };
    let d = decide(&[], &finding("x", Severity::Emergency, "a"), &c, &r, t0());
    let Decision::Open(new) = d else {
        panic!("expected open")
    };
    assert_eq!(new.evidence.source, c.source);
}

#[test]
fn webhook_payload_carries_ids_not_identities() {
    let r = roster();
    let mut rows = Vec::new();
    feed(
        &mut rows,
        &finding("x", Severity::Urgent, "a"),
        &ctx("p1"),
        &r,
        t0(),
    );
    let body = webhook::payload(
        &rows[0],
        webhook::WebhookEvent::Opened,
        &rows[0].notified,
        t0(),
    );
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["event"], "opened");
    assert_eq!(v["severity"], "urgent");
    assert_eq!(v["traffic_light"], "red");
    assert_eq!(v["patient_id"], 1);
    assert_eq!(v["recipients"], serde_json::json!([1, 2]));
    assert_eq!(v["rule"], "x");
    // Answers can be identifying free text: only the rule's condition is sent.
    assert!(!body.contains("Breathless at rest?"));
}
