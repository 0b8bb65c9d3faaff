//! What happens to a follow-up task after a call attempt: the disposition drives the retry.
//!
//! Defaults follow CLINICAL-RULES.md: 3–4 attempts over 48–72 h reach about 70% of patients
//! (AHRQ Project RED: up to 4 attempts plus alternate contacts), so no answer / busy retries
//! after 2 h, at most 3 attempts a day and 5 in all, then the task is `unreachable` and flagged
//! for the supervisor; after two failures on the patient's own number the alternate contact
//! (family, caregiver) is tried in turn.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::followup::calling_hours::CallingHours;

/// How a call attempt ended, as the nurse records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    Completed,
    NoAnswer,
    Busy,
    WrongNumber,
    Refused,
    CallbackRequested,
    Deceased,
}

impl Disposition {
    pub const ALL: [Disposition; 7] = [
        Disposition::Completed,
        Disposition::NoAnswer,
        Disposition::Busy,
        Disposition::WrongNumber,
        Disposition::Refused,
        Disposition::CallbackRequested,
        Disposition::Deceased,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Completed => "completed",
            Disposition::NoAnswer => "no_answer",
            Disposition::Busy => "busy",
            Disposition::WrongNumber => "wrong_number",
            Disposition::Refused => "refused",
            Disposition::CallbackRequested => "callback_requested",
            Disposition::Deceased => "deceased",
        }
    }
}

/// Lifecycle of a follow-up task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Pending,
    Completed,
    Unreachable,
    Refused,
    WrongNumber,
    Missed,
    Cancelled,
    /// The patient is in hospital (an admission): not queued, claimed, dialled or retried
    /// until the admission is cancelled (the task is pending again) or the next discharge
    /// supersedes it.
    Paused,
    /// Closed unworked: a readmission's next discharge started a fresh enrolment.
    Superseded,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Completed => "completed",
            TaskStatus::Unreachable => "unreachable",
            TaskStatus::Refused => "refused",
            TaskStatus::WrongNumber => "wrong_number",
            TaskStatus::Missed => "missed",
            TaskStatus::Cancelled => "cancelled",
            TaskStatus::Paused => "paused",
            TaskStatus::Superseded => "superseded",
        }
    }

    pub fn parse(s: &str) -> Option<TaskStatus> {
        Some(match s {
            "pending" => TaskStatus::Pending,
            "completed" => TaskStatus::Completed,
            "unreachable" => TaskStatus::Unreachable,
            "refused" => TaskStatus::Refused,
            "wrong_number" => TaskStatus::WrongNumber,
            "missed" => TaskStatus::Missed,
            "cancelled" => TaskStatus::Cancelled,
            "paused" => TaskStatus::Paused,
            "superseded" => TaskStatus::Superseded,
            _ => return None,
        })
    }
}

/// Configurable retry policy (`[retry]` in the config file).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    pub retry_after_minutes: i64,
    pub max_attempts_per_day: u32,
    pub max_attempts_total: u32,
    /// Failed attempts on the patient's own number before the alternate contact is tried.
    pub switch_to_alternate_after: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retry_after_minutes: 120,
            max_attempts_per_day: 3,
            max_attempts_total: 5,
            switch_to_alternate_after: 2,
        }
    }
}

impl RetryPolicy {
    pub fn validate(&self) -> Result<(), String> {
        if self.retry_after_minutes <= 0 {
            return Err("retry_after_minutes must be positive".into());
        }
        if self.max_attempts_per_day == 0 || self.max_attempts_total == 0 {
            return Err("attempt limits must be at least 1".into());
        }
        Ok(())
    }
}

/// The retry-relevant part of a task before the attempt.
#[derive(Debug, Clone)]
pub struct AttemptState {
    pub attempts_total: u32,
    pub attempts_today: u32,
    /// Local date `attempts_today` counts for.
    pub attempts_day: Option<NaiveDate>,
    pub use_alt_contact: bool,
    pub has_alt_contact: bool,
    pub window_end: DateTime<Utc>,
}

/// Why a flag is raised for the supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    Unreachable,
    WrongNumber,
    Deceased,
}

impl Flag {
    pub fn as_str(self) -> &'static str {
        match self {
            Flag::Unreachable => "unreachable",
            Flag::WrongNumber => "wrong_number",
            Flag::Deceased => "deceased",
        }
    }
}

/// The task after the attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub status: TaskStatus,
    pub attempts_total: u32,
    pub attempts_today: u32,
    pub attempts_day: NaiveDate,
    pub next_attempt_at: DateTime<Utc>,
    pub use_alt_contact: bool,
    pub window_end: DateTime<Utc>,
    pub callback_at: Option<DateTime<Utc>>,
    pub flag: Option<Flag>,
    /// Deceased: every other open task of the patient is cancelled and calls stop.
    pub stop_all_calls_to_patient: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DispositionError {
    #[error("a call-back needs `callback_at`, the time the patient asked to be called")]
    CallbackTimeMissing,
    #[error("`callback_at` must be in the future")]
    CallbackInPast,
}

/// Where time and place come in: the hospital's zone and calling hours.
#[derive(Debug, Clone, Copy)]
pub struct Locale {
    pub tz: Tz,
    pub hours: CallingHours,
}

impl Locale {
    pub fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.tz).date_naive()
    }

    /// Whether patients may be called at `at` (start inclusive, end exclusive).
    pub fn within_calling_hours(&self, at: DateTime<Utc>) -> bool {
        self.hours.contains(at.with_timezone(&self.tz).time())
    }

    /// The start of calling hours on `date`, in UTC.
    pub fn opening(&self, date: NaiveDate) -> DateTime<Utc> {
        let naive = date.and_time(self.hours.start);
        // `earliest` resolves a DST gap/overlap deterministically; Asia/Shanghai has none.
        self.tz
            .from_local_datetime(&naive)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| Utc.from_utc_datetime(&naive))
    }

    /// `at` if it is inside calling hours, else the next opening.
    pub fn next_callable(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        if self.within_calling_hours(at) {
            return at;
        }
        let date = self.local_date(at);
        let local_time = at.with_timezone(&self.tz).time();
        if local_time < self.hours.start {
            self.opening(date)
        } else {
            self.opening(date + Duration::days(1))
        }
    }
}

/// Applies a disposition to a task.
pub fn decide(
    policy: &RetryPolicy,
    locale: &Locale,
    state: &AttemptState,
    disposition: Disposition,
    callback_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Decision, DispositionError> {
    let today = locale.local_date(now);
    let attempts_today = if state.attempts_day == Some(today) {
        state.attempts_today + 1
    } else {
        1
    };
    let attempts_total = state.attempts_total + 1;
    let mut decision = Decision {
        status: TaskStatus::Pending,
        attempts_total,
        attempts_today,
        attempts_day: today,
        next_attempt_at: now,
        use_alt_contact: state.use_alt_contact,
        window_end: state.window_end,
        callback_at: None,
        flag: None,
        stop_all_calls_to_patient: false,
    };
    match disposition {
        Disposition::Completed => decision.status = TaskStatus::Completed,
        Disposition::Refused => decision.status = TaskStatus::Refused,
        Disposition::Deceased => {
            decision.status = TaskStatus::Cancelled;
            decision.flag = Some(Flag::Deceased);
            decision.stop_all_calls_to_patient = true;
        }
        Disposition::WrongNumber => {
            if !state.use_alt_contact && state.has_alt_contact {
                // The patient's own number is wrong: go straight to the alternate contact.
                decision.use_alt_contact = true;
                decision.next_attempt_at = locale.next_callable(now);
            } else {
                decision.status = TaskStatus::WrongNumber;
                decision.flag = Some(Flag::WrongNumber);
            }
        }
        Disposition::CallbackRequested => {
            let at = callback_at.ok_or(DispositionError::CallbackTimeMissing)?;
            if at <= now {
                return Err(DispositionError::CallbackInPast);
            }
            decision.next_attempt_at = at;
            decision.callback_at = Some(at);
            // The patient chose the time: keep the task open until then even past its window.
            decision.window_end = state.window_end.max(at + Duration::hours(1));
        }
        Disposition::NoAnswer | Disposition::Busy => {
            if attempts_total >= policy.max_attempts_total {
                decision.status = TaskStatus::Unreachable;
                decision.flag = Some(Flag::Unreachable);
            } else {
                decision.use_alt_contact = state.has_alt_contact
                    && attempts_total >= policy.switch_to_alternate_after
                    && (attempts_total - policy.switch_to_alternate_after) % 2 == 0;
                let earliest = if attempts_today >= policy.max_attempts_per_day {
                    locale.opening(today + Duration::days(1))
                } else {
                    now + Duration::minutes(policy.retry_after_minutes)
                };
                decision.next_attempt_at = locale.next_callable(earliest);
            }
        }
    }
    Ok(decision)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn locale() -> Locale {
        Locale {
            tz: chrono_tz::Asia::Shanghai,
            hours: CallingHours::parse("08:30-20:00").unwrap(),
        }
    }

    /// Local Shanghai time → UTC.
    fn sh(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        chrono_tz::Asia::Shanghai
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn fresh(has_alt: bool) -> AttemptState {
        AttemptState {
            attempts_total: 0,
            attempts_today: 0,
            attempts_day: None,
            use_alt_contact: false,
            has_alt_contact: has_alt,
            window_end: sh(2026, 3, 10, 23, 59),
        }
    }

    fn apply(state: &AttemptState, d: Disposition, now: DateTime<Utc>) -> Decision {
        decide(&RetryPolicy::default(), &locale(), state, d, None, now).unwrap()
    }

    fn carry(state: &AttemptState, d: &Decision) -> AttemptState {
        AttemptState {
            attempts_total: d.attempts_total,
            attempts_today: d.attempts_today,
            attempts_day: Some(d.attempts_day),
            use_alt_contact: d.use_alt_contact,
            window_end: d.window_end,
            ..state.clone()
        }
    }

    #[test]
    fn every_disposition_has_its_outcome() {
        let now = sh(2026, 3, 5, 10, 0);
        let s = fresh(false);
        let table = [
            (Disposition::Completed, TaskStatus::Completed, None),
            (Disposition::Refused, TaskStatus::Refused, None),
            (
                Disposition::Deceased,
                TaskStatus::Cancelled,
                Some(Flag::Deceased),
            ),
            (
                Disposition::WrongNumber,
                TaskStatus::WrongNumber,
                Some(Flag::WrongNumber),
            ),
            (Disposition::NoAnswer, TaskStatus::Pending, None),
            (Disposition::Busy, TaskStatus::Pending, None),
        ];
        for (d, status, flag) in table {
            let out = apply(&s, d, now);
            assert_eq!((out.status, out.flag), (status, flag), "{d:?}");
            assert_eq!(out.attempts_total, 1);
        }
        assert!(apply(&s, Disposition::Deceased, now).stop_all_calls_to_patient);
        let busy = apply(&s, Disposition::Busy, now);
        assert_eq!(busy.next_attempt_at, now + Duration::hours(2));
    }

    #[test]
    fn callback_reschedules_and_extends_the_window() {
        let now = sh(2026, 3, 5, 10, 0);
        let at = sh(2026, 3, 12, 18, 0);
        let out = decide(
            &RetryPolicy::default(),
            &locale(),
            &fresh(false),
            Disposition::CallbackRequested,
            Some(at),
            now,
        )
        .unwrap();
        assert_eq!(
            (out.status, out.next_attempt_at, out.callback_at),
            (TaskStatus::Pending, at, Some(at))
        );
        assert!(out.window_end > at);
        let missing = decide(
            &RetryPolicy::default(),
            &locale(),
            &fresh(false),
            Disposition::CallbackRequested,
            None,
            now,
        );
        assert_eq!(missing.unwrap_err(), DispositionError::CallbackTimeMissing);
        let past = decide(
            &RetryPolicy::default(),
            &locale(),
            &fresh(false),
            Disposition::CallbackRequested,
            Some(now),
            now,
        );
        assert_eq!(past.unwrap_err(), DispositionError::CallbackInPast);
    }

    #[test]
    fn wrong_number_switches_to_the_alternate_contact_once() {
        let now = sh(2026, 3, 5, 10, 0);
        let first = apply(&fresh(true), Disposition::WrongNumber, now);
        assert_eq!(
            (first.status, first.use_alt_contact),
            (TaskStatus::Pending, true)
        );
        let second = apply(&carry(&fresh(true), &first), Disposition::WrongNumber, now);
        assert_eq!(
            (second.status, second.flag),
            (TaskStatus::WrongNumber, Some(Flag::WrongNumber))
        );
    }

    #[test]
    fn no_answer_three_a_day_five_in_all_then_unreachable_with_alternate_turns() {
        let mut state = fresh(true);
        let mut now = sh(2026, 3, 5, 9, 0);
        let mut seen = Vec::new();
        loop {
            let out = apply(&state, Disposition::NoAnswer, now);
            seen.push((
                out.attempts_total,
                out.status,
                out.use_alt_contact,
                out.next_attempt_at,
            ));
            if out.status != TaskStatus::Pending {
                assert_eq!(out.flag, Some(Flag::Unreachable));
                break;
            }
            state = carry(&state, &out);
            now = out.next_attempt_at;
        }
        assert_eq!(seen.len(), 5);
        // attempts 1–3 on day one at 09:00, 11:00, 13:00; the third pushes to tomorrow's opening
        assert_eq!(seen[0].3, sh(2026, 3, 5, 11, 0));
        assert_eq!(seen[1].3, sh(2026, 3, 5, 13, 0));
        assert_eq!(seen[2].3, sh(2026, 3, 6, 8, 30));
        // alternate contact after two failures, then turn about
        let alt: Vec<bool> = seen.iter().map(|s| s.2).collect();
        assert_eq!(&alt[..4], &[false, true, false, true]);
    }

    #[test]
    fn retries_never_land_outside_calling_hours() {
        // 19:00 + 2 h = 21:00, after closing → next morning 08:30
        let out = apply(&fresh(false), Disposition::Busy, sh(2026, 3, 5, 19, 0));
        assert_eq!(out.next_attempt_at, sh(2026, 3, 6, 8, 30));
    }

    #[test]
    fn attempts_today_counts_the_local_day_not_the_utc_day() {
        // 07:30 UTC and 00:30 UTC the next UTC day are both 5 March... no: 08:30 local on
        // 6 March is 00:30 UTC 6 March; 23:00 local 5 March is 15:00 UTC 5 March.
        let mut state = fresh(false);
        state.attempts_today = 2;
        state.attempts_total = 2;
        state.attempts_day = Some(NaiveDate::from_ymd_opt(2026, 3, 5).unwrap());
        let next_morning = sh(2026, 3, 6, 8, 45); // 00:45 UTC on 6 March
        let out = apply(&state, Disposition::NoAnswer, next_morning);
        assert_eq!(
            out.attempts_today, 1,
            "a new local day resets the daily count"
        );
        let late_evening = sh(2026, 3, 5, 19, 50); // 11:50 UTC, still 5 March locally
        let out = apply(&state, Disposition::NoAnswer, late_evening);
        assert_eq!(out.attempts_today, 3);
        assert_eq!(out.next_attempt_at, sh(2026, 3, 6, 8, 30));
    }

    #[test]
    fn calling_hours_edges() {
        let l = locale();
        assert!(!l.within_calling_hours(sh(2026, 3, 5, 8, 29)));
        assert!(l.within_calling_hours(sh(2026, 3, 5, 8, 30)));
        assert!(l.within_calling_hours(sh(2026, 3, 5, 19, 59)));
        assert!(!l.within_calling_hours(sh(2026, 3, 5, 20, 0)));
        // local midnight is 16:00 UTC of the previous day
        assert_eq!(l.next_callable(sh(2026, 3, 6, 0, 0)), sh(2026, 3, 6, 8, 30));
        assert_eq!(
            l.next_callable(sh(2026, 3, 5, 23, 59)),
            sh(2026, 3, 6, 8, 30)
        );
    }
}
