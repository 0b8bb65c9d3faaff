//! From saved answers to escalations with the real scripts, the way the store will drive it:
//! every autosave re-evaluates the script and feeds each finding to `decide`.

use std::path::Path;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{json, Value};
use suifang::followup::escalation::{
    decide, due_reescalations, Decision, DepartmentCode, DepartmentRoster, Escalation,
    EscalationId, FindingContext, Level, PatientId, Roster, Source, UserId,
};
use suifang::followup::rules::{evaluate, Answers};
use suifang::followup::script::{load_dir, validate_answer, QuestionId, Script, ScriptCatalog};

fn catalog() -> ScriptCatalog {
    match load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/scripts")) {
        Ok(c) => c,
        Err(e) => panic!("{e:#?}"),
    }
}

const NAMES: [&str; 6] = ["dr_duty", "dr_backup", "dr_head", "sup", "psy_1", "psy_2"];

fn u(s: &str) -> UserId {
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
            on_duty: Some(u("dr_duty")),
            backup: Some(u("dr_backup")),
            head: Some(u("dr_head")),
        },
    );
    r.supervisors = vec![u("sup")];
    r.roles
        .insert("psychiatry_liaison".into(), vec![u("psy_1"), u("psy_2")]);
    r
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0)
        .single()
        .expect("valid date")
}

struct Call<'a> {
    script: &'a Script,
    answers: Answers,
    rows: Vec<Escalation>,
    ctx: FindingContext,
}

impl Call<'_> {
    /// One autosave: validate, store the answer, evaluate, decide, persist.
    fn save(&mut self, q: &str, v: Value, now: DateTime<Utc>) {
        let a = validate_answer(self.script, q, v).expect("valid answer");
        self.answers.insert(QuestionId(q.into()), a);
        for f in evaluate(self.script, &self.answers, &[], now) {
            match decide(&self.rows, &f, &self.ctx, &roster(), now) {
                Decision::Open(new) => {
                    let id = EscalationId(self.rows.len() as i64 + 1);
                    self.rows.push(Escalation::open(id, new));
                }
                Decision::Update(up) => {
                    if let Some(r) = self.rows.iter_mut().find(|r| r.id == up.id) {
                        r.apply(&up);
                    }
                }
                Decision::Nothing(_) => {}
            }
        }
    }
}

fn call(script: &Script) -> Call<'_> {
    Call {
        script,
        answers: Answers::new(),
        rows: Vec::new(),
        ctx: FindingContext {
            patient: PatientId(1),
            department: DepartmentCode("cardiology".into()),
            source: Source::Answer { call: None },
        },
    }
}

#[test]
fn autosaves_after_an_abnormal_answer_do_not_duplicate() {
    let c = catalog();
    let mut call = call(c.get("heart-failure").expect("script"));
    call.save("breathless_at_rest", json!(true), t0());
    call.save("orthopnea", json!(false), t0());
    call.save("leg_swelling", json!(false), t0());
    call.save("notes", json!("sleeps in a chair"), t0());
    // 50 retries of the same save (the console retries on a flaky network).
    for i in 0..50 {
        call.save(
            "breathless_at_rest",
            json!(true),
            t0() + Duration::seconds(i),
        );
    }
    assert_eq!(call.rows.len(), 1);
    let e = &call.rows[0];
    assert_eq!(e.key.rule.as_str(), "hf-breathless-at-rest");
    assert_eq!(e.evidence.len(), 1);
    let notified: Vec<_> = e.notified.iter().map(|n| name(&n.user)).collect();
    assert_eq!(
        notified,
        ["dr_duty", "dr_backup"],
        "urgent reaches two doctors"
    );
    assert_eq!(e.ack_due_at, t0() + Duration::minutes(15));
    assert!(e.evidence[0]
        .evidence
        .to_string()
        .contains("heart-failure v3: breathless_at_rest; breathless_at_rest (Are you short of breath even when sitting or resting?) = yes"));
}

#[test]
fn phq_item9_goes_to_the_liaison_role_and_reescalates_once_per_level_across_restart() {
    let c = catalog();
    let mut call = call(c.get("phq").expect("script"));
    call.save("phq1", json!("not_at_all"), t0());
    call.save("phq2", json!("several_days"), t0());
    call.save("phq9", json!("several_days"), t0());
    assert_eq!(call.rows.len(), 1);
    let e = &call.rows[0];
    assert_eq!(e.key.rule.as_str(), "phq-item9-self-harm");
    let first: Vec<_> = e.notified.iter().map(|n| name(&n.user)).collect();
    assert_eq!(first, ["psy_1", "psy_2"]);

    // Server stops; the rows survive; the clock moves past the 15-minute SLA; it starts again.
    let mut rows: Vec<Escalation> =
        serde_json::from_str(&serde_json::to_string(&call.rows).expect("ser")).expect("de");
    let mut levels = Vec::new();
    for minutes in [16, 16, 20, 32, 32, 48, 64, 500] {
        let now = t0() + Duration::minutes(minutes);
        for r in due_reescalations(&rows, &roster(), now) {
            levels.push((minutes, r.to));
            if let Some(row) = rows.iter_mut().find(|x| x.id == r.id) {
                row.apply_reescalation(&r);
            }
        }
    }
    assert_eq!(
        levels,
        [
            (16, Level::Backup),
            (32, Level::Head),
            (48, Level::Supervisor)
        ]
    );
}
