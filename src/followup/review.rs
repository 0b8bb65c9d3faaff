//! The day-14/30 multidisciplinary team review (issue 20 item 4), as plain state and rules.
//!
//! A review belongs to one team-review task. Each discipline the script names signs its
//! assessment once; the review closes only when every `required_disciplines` of its script has
//! signed ([`close`]). Actions record what the team decided: a new follow-up task ("pharmacist
//! call in 2 days") or a change to the patient's pathway (a step postponed or cancelled). The
//! store applies them; this module decides whether they are allowed, with `now` as a parameter.

use std::fmt;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::discipline::Discipline;
use super::pathway::StepRole;
use super::script::AnswerValue;
use crate::auth::role::Role;

/// Lifecycle of a review: `Open` (nobody signed yet) → `Signing` (some disciplines signed) →
/// `Closed` (every required discipline signed and someone closed it). Nothing leaves `Closed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    Open,
    Signing,
    Closed,
}

impl ReviewStatus {
    /// Name as stored and served.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::Open => "open",
            ReviewStatus::Signing => "signing",
            ReviewStatus::Closed => "closed",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Open, Self::Signing, Self::Closed]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

impl fmt::Display for ReviewStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a review cannot change as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    #[error("the review is closed; open the patient's next review or add a note instead")]
    Closed,
    #[error("the review cannot close yet: waiting for {}", names(.0))]
    Unsigned(Vec<Discipline>),
    #[error("{0} has already signed this review")]
    AlreadySigned(Discipline),
    #[error("you have no discipline; an admin sets it (PUT /api/v1/users/{{id}}/discipline)")]
    NoDiscipline,
    #[error("nurses sign team reviews as nursing, not {0}")]
    NurseNotNursing(Discipline),
    #[error("only doctors with a discipline and nurses sign team reviews")]
    RoleCannotSign,
    #[error("{0} is not part of this review (its script names {1})")]
    NotInReview(Discipline, String),
    #[error("in_days must be 1 to {MAX_IN_DAYS}")]
    InDays,
}

fn names(ds: &[Discipline]) -> String {
    ds.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(", ")
}

/// Furthest ahead a follow-up task or a postponement may go: beyond the 30-day pathway the
/// next review decides.
pub const MAX_IN_DAYS: u32 = 60;

/// The discipline `role`/`discipline` signs as, if that user may sign a review that involves
/// `involved` (its required disciplines and those its questions name). Decision of issue 20:
/// clinicians log in as doctors with a discipline; nurses sign as `nursing` only.
pub fn signer(
    role: Role,
    discipline: Option<&Discipline>,
    involved: &[Discipline],
) -> Result<Discipline, ReviewError> {
    let d = discipline.ok_or(ReviewError::NoDiscipline)?;
    match role {
        Role::Doctor => {}
        Role::Nurse if d.as_str() == "nursing" => {}
        Role::Nurse => return Err(ReviewError::NurseNotNursing(d.clone())),
        Role::Supervisor | Role::Admin => return Err(ReviewError::RoleCannotSign),
    }
    if !involved.contains(d) {
        return Err(ReviewError::NotInReview(d.clone(), names(involved)));
    }
    Ok(d.clone())
}

/// Status after `discipline` signs, given who signed before.
pub fn sign(
    status: ReviewStatus,
    signed: &[Discipline],
    discipline: &Discipline,
) -> Result<ReviewStatus, ReviewError> {
    if status == ReviewStatus::Closed {
        return Err(ReviewError::Closed);
    }
    if signed.contains(discipline) {
        return Err(ReviewError::AlreadySigned(discipline.clone()));
    }
    Ok(ReviewStatus::Signing)
}

/// Required disciplines that have not signed, in the script's order.
pub fn missing(required: &[Discipline], signed: &[Discipline]) -> Vec<Discipline> {
    required
        .iter()
        .filter(|d| !signed.contains(d))
        .cloned()
        .collect()
}

/// Closing: allowed once every required discipline has signed.
pub fn close(
    status: ReviewStatus,
    required: &[Discipline],
    signed: &[Discipline],
) -> Result<ReviewStatus, ReviewError> {
    if status == ReviewStatus::Closed {
        return Err(ReviewError::Closed);
    }
    let waiting = missing(required, signed);
    if waiting.is_empty() {
        Ok(ReviewStatus::Closed)
    } else {
        Err(ReviewError::Unsigned(waiting))
    }
}

/// How an action changes a pending task of the patient's pathway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum PathwayChange {
    /// Move the step (due day and window) this many days later.
    Postpone { days: u32 },
    /// The team decided the contact is not needed (e.g. readmitted, seen in clinic).
    Cancel,
}

/// What the team decided, as recorded and applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ReviewAction {
    /// A new follow-up task (`pharmacy` call with the `heart-failure` script in 2 days).
    FollowUpTask {
        script: String,
        role: StepRole,
        in_days: u32,
        /// Who in the team should take it (shown on the task's name; routing by discipline is
        /// issue 20 item 3).
        assignee: Option<Discipline>,
    },
    /// A change to one pending task of the patient's pathway.
    AdjustPathway { task_id: i64, change: PathwayChange },
}

impl ReviewAction {
    /// Kind as stored.
    pub fn kind(&self) -> &'static str {
        match self {
            ReviewAction::FollowUpTask { .. } => "follow_up_task",
            ReviewAction::AdjustPathway { .. } => "adjust_pathway",
        }
    }

    /// Checks the numbers; the store checks that scripts and tasks exist.
    pub fn check(&self, status: ReviewStatus) -> Result<(), ReviewError> {
        if status == ReviewStatus::Closed {
            return Err(ReviewError::Closed);
        }
        let days = match self {
            ReviewAction::FollowUpTask { in_days, .. } => Some(*in_days),
            ReviewAction::AdjustPathway {
                change: PathwayChange::Postpone { days },
                ..
            } => Some(*days),
            ReviewAction::AdjustPathway { .. } => None,
        };
        match days {
            Some(d) if d == 0 || d > MAX_IN_DAYS => Err(ReviewError::InDays),
            _ => Ok(()),
        }
    }
}

/// The name a created task shows in the queue, in both languages.
pub fn follow_up_name(assignee: Option<&Discipline>, review_id: i64) -> (String, String) {
    let (en, zh) = match assignee.and_then(|a| {
        super::discipline::BUILT_IN
            .iter()
            .find(|(c, _, _)| *c == a.as_str())
    }) {
        Some((_, en, zh)) => (en.to_string(), zh.to_string()),
        None => match assignee {
            Some(a) => (a.to_string(), a.to_string()),
            None => ("Team".into(), "团队".into()),
        },
    };
    (
        format!("{en} follow-up (team review #{review_id})"),
        format!("{zh}随访（团队评估 #{review_id}）"),
    )
}

/// Direction of a question's answers over the review period.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "trend", rename_all = "snake_case")]
pub enum Trend {
    /// One answer: nothing to compare.
    Single,
    /// Numbers went up by `delta` (last minus first).
    Rising { delta: f64 },
    /// Numbers went down.
    Falling { delta: f64 },
    /// Same value first and last.
    Steady,
    /// A non-numeric answer changed (yes → no).
    Changed,
}

fn number(v: &AnswerValue) -> Option<f64> {
    match v {
        AnswerValue::Number(x) => Some(*x),
        AnswerValue::BloodPressure { systolic, .. } => Some(f64::from(*systolic)),
        AnswerValue::Scale(x) => Some(f64::from(*x)),
        _ => None,
    }
}

/// Trend of a question's answers, oldest first. Numbers (and the systolic of a blood pressure)
/// compare last with first; other answers say whether they changed.
pub fn trend(values: &[AnswerValue]) -> Trend {
    let (Some(first), Some(last)) = (values.first(), values.last()) else {
        return Trend::Single;
    };
    if values.len() < 2 {
        return Trend::Single;
    }
    match (number(first), number(last)) {
        (Some(a), Some(b)) => {
            // answers carry at most one decimal; round away float noise
            let delta = ((b - a) * 10.0).round() / 10.0;
            if delta > 0.0 {
                Trend::Rising { delta }
            } else if delta < 0.0 {
                Trend::Falling { delta }
            } else {
                Trend::Steady
            }
        }
        _ if first == last => Trend::Steady,
        _ => Trend::Changed,
    }
}

/// The due day and window of a task the team creates `in_days` from `today` (local): due at
/// the start of that day, workable for two days (like a nurse call's default window plus one).
pub fn follow_up_window(
    local_midnight: impl Fn(NaiveDate) -> DateTime<Utc>,
    today: NaiveDate,
    in_days: u32,
) -> (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>) {
    let due_day = today + Duration::days(i64::from(in_days));
    let due = local_midnight(due_day);
    let end = local_midnight(due_day + Duration::days(2)) - Duration::seconds(1);
    (due, due, end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn d(code: &str) -> Discipline {
        Discipline::parse_code(code).unwrap()
    }

    fn team() -> Vec<Discipline> {
        vec![d("cardiology"), d("pharmacy"), d("nursing")]
    }

    #[test]
    fn closing_needs_every_required_discipline() {
        let required = team();
        assert_eq!(
            close(ReviewStatus::Open, &required, &[]),
            Err(ReviewError::Unsigned(required.clone()))
        );
        assert_eq!(
            close(
                ReviewStatus::Signing,
                &required,
                &[d("cardiology"), d("nursing")]
            ),
            Err(ReviewError::Unsigned(vec![d("pharmacy")]))
        );
        // an extra discipline's sign-off does not stand in for a required one
        assert_eq!(
            close(
                ReviewStatus::Signing,
                &required,
                &[d("cardiology"), d("nutrition"), d("nursing")]
            ),
            Err(ReviewError::Unsigned(vec![d("pharmacy")]))
        );
        assert_eq!(
            close(
                ReviewStatus::Signing,
                &required,
                &[d("nursing"), d("pharmacy"), d("cardiology")]
            ),
            Ok(ReviewStatus::Closed)
        );
        assert_eq!(
            close(ReviewStatus::Closed, &required, &required),
            Err(ReviewError::Closed)
        );
    }

    #[test]
    fn each_discipline_signs_once_and_never_after_closing() {
        assert_eq!(
            sign(ReviewStatus::Open, &[], &d("pharmacy")),
            Ok(ReviewStatus::Signing)
        );
        assert_eq!(
            sign(ReviewStatus::Signing, &[d("pharmacy")], &d("pharmacy")),
            Err(ReviewError::AlreadySigned(d("pharmacy")))
        );
        assert_eq!(
            sign(ReviewStatus::Closed, &[], &d("pharmacy")),
            Err(ReviewError::Closed)
        );
    }

    #[test]
    fn who_signs_as_what() {
        let involved = team();
        let cases: [(Role, Option<&str>, Result<&str, ReviewError>); 7] = [
            (Role::Doctor, Some("cardiology"), Ok("cardiology")),
            (Role::Doctor, Some("pharmacy"), Ok("pharmacy")),
            (Role::Nurse, Some("nursing"), Ok("nursing")),
            (
                Role::Nurse,
                Some("pharmacy"),
                Err(ReviewError::NurseNotNursing(d("pharmacy"))),
            ),
            (Role::Doctor, None, Err(ReviewError::NoDiscipline)),
            (
                Role::Supervisor,
                Some("nursing"),
                Err(ReviewError::RoleCannotSign),
            ),
            (
                Role::Doctor,
                Some("psychology"),
                Err(ReviewError::NotInReview(
                    d("psychology"),
                    "cardiology, pharmacy, nursing".into(),
                )),
            ),
        ];
        for (role, disc, want) in cases {
            let disc = disc.map(d);
            assert_eq!(
                signer(role, disc.as_ref(), &involved),
                want.map(d),
                "{role:?} {disc:?}"
            );
        }
    }

    #[test]
    fn actions_parse_from_the_api_shape_and_check_their_days() {
        let a: ReviewAction = serde_json::from_value(json!({"kind": "follow_up_task",
            "script": "heart-failure", "role": "team", "in_days": 2, "assignee": "pharmacy"}))
        .unwrap();
        assert_eq!(a.kind(), "follow_up_task");
        assert_eq!(a.check(ReviewStatus::Signing), Ok(()));
        assert_eq!(a.check(ReviewStatus::Closed), Err(ReviewError::Closed));
        let p: ReviewAction = serde_json::from_value(
            json!({"kind": "adjust_pathway", "task_id": 7, "change": {"op": "postpone", "days": 3}}),
        )
        .unwrap();
        assert_eq!(
            p,
            ReviewAction::AdjustPathway {
                task_id: 7,
                change: PathwayChange::Postpone { days: 3 }
            }
        );
        let c: ReviewAction = serde_json::from_value(
            json!({"kind": "adjust_pathway", "task_id": 7, "change": {"op": "cancel"}}),
        )
        .unwrap();
        assert_eq!(c.check(ReviewStatus::Open), Ok(()));
        for bad in [0, MAX_IN_DAYS + 1] {
            let a = ReviewAction::FollowUpTask {
                script: "heart-failure".into(),
                role: StepRole::Nurse,
                in_days: bad,
                assignee: None,
            };
            assert_eq!(a.check(ReviewStatus::Open), Err(ReviewError::InDays));
        }
        assert!(serde_json::from_value::<ReviewAction>(
            json!({"kind": "follow_up_task", "script": "x", "role": "team", "in_days": 2, "assignee": "Pharmacy"})
        )
        .is_err());
    }

    #[test]
    fn trends_compare_first_and_last() {
        use AnswerValue::{BloodPressure, Number, YesNo};
        assert_eq!(trend(&[Number(70.0)]), Trend::Single);
        assert_eq!(
            trend(&[Number(70.0), Number(71.0), Number(72.5)]),
            Trend::Rising { delta: 2.5 }
        );
        assert_eq!(
            trend(&[Number(72.5), Number(70.1)]),
            Trend::Falling { delta: -2.4 }
        );
        let bp = |systolic, diastolic| BloodPressure {
            systolic,
            diastolic,
        };
        assert_eq!(
            trend(&[bp(150, 90), bp(130, 80)]),
            Trend::Falling { delta: -20.0 }
        );
        assert_eq!(trend(&[YesNo(true), YesNo(true)]), Trend::Steady);
        assert_eq!(trend(&[YesNo(true), YesNo(false)]), Trend::Changed);
    }

    #[test]
    fn follow_up_tasks_are_due_on_their_day_for_two_days() {
        let midnight = |day: NaiveDate| {
            day.and_hms_opt(0, 0, 0).unwrap().and_utc() - Duration::hours(8) // Asia/Shanghai
        };
        let today = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        let (due, start, end) = follow_up_window(midnight, today, 2);
        assert_eq!(due.to_rfc3339(), "2026-12-08T16:00:00+00:00");
        assert_eq!(start, due);
        assert_eq!(end.to_rfc3339(), "2026-12-10T15:59:59+00:00");
    }

    #[test]
    fn created_tasks_name_the_discipline_in_both_languages() {
        assert_eq!(
            follow_up_name(Some(&d("pharmacy")), 4),
            (
                "Clinical pharmacy follow-up (team review #4)".into(),
                "临床药学随访（团队评估 #4）".into()
            )
        );
        assert_eq!(follow_up_name(None, 4).0, "Team follow-up (team review #4)");
    }
}
