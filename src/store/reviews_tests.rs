//! Team reviews over a real SQLite file with the shipped scripts: opening from a team-review
//! task, sign-offs by discipline, actions that create or move tasks, closing.

use std::path::Path;

use chrono::{DateTime, Duration, TimeZone, Utc};
use rusqlite::params;
use serde_json::json;

use super::*;
use crate::followup::pathway::StepRole;
use crate::followup::script::load_dir;
use crate::store::users::get_user;
use crate::store::{temp_store, Store};

fn scripts() -> ScriptCatalog {
    load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/scripts")).expect("scripts")
}

fn calendar() -> Calendar {
    Calendar {
        tz: chrono_tz::Asia::Shanghai,
        holidays: vec![],
        tcm_two_business_days: false,
    }
}

fn now() -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(2026, 3, 15, 10, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

/// Users 1 cardiology doctor, 2 pharmacy doctor, 3 nursing nurse, 4 supervisor; one patient
/// with a pending team-review task (returned first), a pending day-30 review and a nurse call.
fn setup(store: &Store) -> (i64, i64, i64) {
    store
        .write_blocking(|tx| {
            for (id, role, discipline) in [
                (1, "doctor", Some("cardiology")),
                (2, "doctor", Some("pharmacy")),
                (3, "nurse", Some("nursing")),
                (4, "supervisor", None),
            ] {
                tx.execute(
                    "INSERT INTO users (id, username, display_name, role, password_hash, created_at, discipline)
                     VALUES (?1, ?2, ?2, ?3, 'x', 0, ?4)",
                    params![id, format!("u{id}"), role, discipline],
                )?;
            }
            tx.execute("INSERT INTO patients (mrn, name, phone, created_at, updated_at) VALUES ('M1', 'p', '+8613800000000', 0, 0)", [])?;
            let pid = tx.last_insert_rowid();
            let t = now().timestamp();
            let mut ids = Vec::new();
            for (script, role, offset) in [
                ("heart-failure-team-review", "team", 0),
                ("heart-failure-team-review", "team", 16),
                ("heart-failure", "nurse", 0),
            ] {
                let due = t + offset * 86_400;
                tx.execute(
                    "INSERT INTO followup_tasks (patient_id, step_name, script_code, role, priority, due_at, window_start_at, window_end_at, created_at, updated_at)
                     VALUES (?1, 's', ?2, ?3, 40, ?4, ?4, ?5, 0, 0)",
                    params![pid, script, role, due - 3600, due + 86_400],
                )?;
                ids.push(tx.last_insert_rowid());
            }
            Ok((ids[0], ids[1], ids[2]))
        })
        .unwrap()
}

fn user(store: &Store, id: i64) -> User {
    store.read_blocking(|c| get_user(c, id)).unwrap()
}

fn sign_as(store: &Store, review: i64, user_id: i64, answers: Value) -> Outcome<ReviewView> {
    let u = user(store, user_id);
    let answers: BTreeMap<String, Value> = serde_json::from_value(answers).unwrap();
    store.write_blocking(move |tx| {
        sign(
            tx,
            &scripts(),
            review,
            &u,
            Signature {
                text: "assessed".into(),
                answers,
            },
            now(),
        )
    })
}

fn open(store: &Store, task: i64) -> Result<(ReviewView, bool), StoreError> {
    store.write_blocking(move |tx| open_for_task(tx, &scripts(), task, 1, now()))
}

#[test]
fn a_review_opens_once_per_team_review_task_and_only_for_one() {
    let (_dir, store) = temp_store();
    let (review_task, _, nurse_task) = setup(&store);
    assert!(
        matches!(open(&store, nurse_task), Err(StoreError::Invalid(m)) if m.contains("not a team review"))
    );
    let (r, created) = open(&store, review_task).unwrap();
    assert!(created);
    assert_eq!(r.status, ReviewStatus::Open);
    let codes = |ds: &[Discipline]| ds.iter().map(|d| d.to_string()).collect::<Vec<_>>();
    assert_eq!(codes(&r.required), ["cardiology", "pharmacy", "nursing"]);
    assert_eq!(codes(&r.missing), ["cardiology", "pharmacy", "nursing"]);
    let (again, created) = open(&store, review_task).unwrap();
    assert_eq!((again.id, created), (r.id, false));
}

#[test]
fn three_disciplines_sign_then_the_review_closes_and_its_task_completes() {
    let (_dir, store) = temp_store();
    let (review_task, _, _) = setup(&store);
    let id = open(&store, review_task).unwrap().0.id;
    let close_now =
        |store: &Store, who: i64| store.write_blocking(move |tx| close(tx, id, who, now()));

    assert!(matches!(close_now(&store, 1).unwrap(), Err(ReviewError::Unsigned(m)) if m.len() == 3));
    let r = sign_as(
        &store,
        id,
        1,
        json!({"nyha_class": "iii", "congestion": true}),
    )
    .unwrap()
    .unwrap();
    assert_eq!(r.status, ReviewStatus::Signing);
    assert_eq!(
        r.assessments[0].answers["nyha_class"],
        json!({"type": "choice", "value": "iii"})
    );
    // abnormal: the pharmacist cannot answer the cardiologist's question, nor sign twice
    assert!(matches!(
        sign_as(&store, id, 2, json!({"congestion": false})),
        Err(StoreError::Invalid(m)) if m.starts_with("answers.congestion")
    ));
    assert!(matches!(
        sign_as(&store, id, 2, json!({"med_adherence": "sometimes"})),
        Err(StoreError::Invalid(m)) if m.starts_with("answers.med_adherence")
    ));
    sign_as(&store, id, 2, json!({"med_adherence": "partial"}))
        .unwrap()
        .unwrap();
    assert_eq!(
        sign_as(&store, id, 2, json!({})).unwrap().unwrap_err(),
        ReviewError::AlreadySigned(Discipline::parse_code("pharmacy").unwrap())
    );
    assert_eq!(
        sign_as(&store, id, 4, json!({})).unwrap().unwrap_err(),
        ReviewError::NoDiscipline
    );
    assert!(matches!(close_now(&store, 2).unwrap(), Err(ReviewError::Unsigned(m)) if m.len() == 1));
    sign_as(&store, id, 3, json!({"self_weighing": true}))
        .unwrap()
        .unwrap();

    let closed = close_now(&store, 3).unwrap().unwrap();
    assert_eq!(closed.status, ReviewStatus::Closed);
    assert!(closed.missing.is_empty());
    assert_eq!(closed.closed_by, Some(3));
    let status: String = store
        .read_blocking(|c| {
            Ok(c.query_row(
                "SELECT status FROM followup_tasks WHERE id = ?1",
                [review_task],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    assert_eq!(status, "completed");
    assert_eq!(
        sign_as(&store, id, 1, json!({})).unwrap().unwrap_err(),
        ReviewError::Closed
    );
}

#[test]
fn a_follow_up_action_makes_a_task_the_queue_offers_on_its_day() {
    let (_dir, store) = temp_store();
    let (review_task, day30, _) = setup(&store);
    let id = open(&store, review_task).unwrap().0.id;
    let act = |store: &Store, who: i64, action: ReviewAction| {
        let u = user(store, who);
        store.write_blocking(move |tx| {
            add_action(tx, &scripts(), &calendar(), id, &u, action, now())
        })
    };
    let a = act(
        &store,
        2,
        ReviewAction::FollowUpTask {
            script: "heart-failure".into(),
            role: StepRole::Team,
            in_days: 2,
            assignee: Some(Discipline::parse_code("pharmacy").unwrap()),
        },
    )
    .unwrap()
    .unwrap();
    let task_id = a.task_id.expect("a task was created");
    let task = store
        .read_blocking(|c| tasks::get_task(c, task_id, now()))
        .unwrap();
    assert_eq!(task.script_code.as_deref(), Some("heart-failure"));
    assert_eq!(task.role, "team");
    assert_eq!(
        task.step_name,
        "Clinical pharmacy follow-up (team review #1)"
    );
    assert_eq!(task.due_at.to_rfc3339(), "2026-03-16T16:00:00+00:00"); // 17 March, Shanghai
    let queued = |store: &Store, at: DateTime<Utc>| {
        store
            .write_blocking(move |tx| {
                tasks::build_queue(tx, at)?;
                Ok(tx.query_row(
                    "SELECT COUNT(*) FROM queue_entries WHERE task_id = ?1",
                    [task_id],
                    |r| r.get::<_, i64>(0),
                )?)
            })
            .unwrap()
    };
    assert_eq!(queued(&store, now()), 0, "not before its day");
    assert_eq!(
        queued(&store, now() + Duration::days(2)),
        1,
        "offered on its day"
    );

    // the team moves the day-30 review by a week; a script that does not exist is refused
    let due_before = store
        .read_blocking(|c| tasks::get_task(c, day30, now()))
        .unwrap()
        .due_at;
    act(
        &store,
        1,
        ReviewAction::AdjustPathway {
            task_id: day30,
            change: PathwayChange::Postpone { days: 7 },
        },
    )
    .unwrap()
    .unwrap();
    let moved = store
        .read_blocking(|c| tasks::get_task(c, day30, now()))
        .unwrap()
        .due_at;
    assert_eq!(moved - due_before, Duration::days(7));
    assert!(matches!(
        act(
            &store,
            1,
            ReviewAction::FollowUpTask {
                script: "no-such-script".into(),
                role: StepRole::Nurse,
                in_days: 2,
                assignee: None,
            }
        ),
        Err(StoreError::Invalid(m)) if m.starts_with("script:")
    ));
    assert!(matches!(
        act(
            &store,
            1,
            ReviewAction::AdjustPathway {
                task_id: review_task,
                change: PathwayChange::Cancel,
            }
        ),
        Err(StoreError::Invalid(m)) if m.contains("own task")
    ));
    let r = store.read_blocking(|c| get(c, id)).unwrap();
    assert_eq!(r.actions.len(), 2);
    assert_eq!(r.actions[1].task_id, Some(day30));
}
