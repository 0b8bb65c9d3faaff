//! Follow-up pathways: data files (`prompts/pathways/*.toml`) that say which discharges they
//! apply to and when each contact is due. A discharge is enrolled in the most specific match and
//! its steps become follow-up tasks.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Why pathway files could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PathwayError {
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    #[error("{path}:{line}: {message}")]
    Invalid {
        path: String,
        line: usize,
        message: String,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bilingual {
    pub en: String,
    pub zh: String,
}

/// One pathway file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pathway {
    pub code: String,
    pub version: u32,
    pub title: Bilingual,
    /// Clinical priority of this pathway's calls in the queue (higher first).
    pub priority: i64,
    #[serde(rename = "match")]
    pub matcher: Matcher,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matcher {
    /// ICD-10 code prefixes (`I50` matches `I50.9`).
    #[serde(default)]
    pub icd10: Vec<String>,
    /// Department codes; used when no pathway matches a diagnosis.
    #[serde(default)]
    pub departments: Vec<String>,
}

/// Who works a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepRole {
    Nurse,
    /// A multidisciplinary team review (HF MDT day 14/30); worked by doctors.
    Team,
}

impl StepRole {
    pub fn as_str(self) -> &'static str {
        match self {
            StepRole::Nurse => "nurse",
            StepRole::Team => "team",
        }
    }
}

/// Who makes a step's calls (issue 24): a nurse, the robot, or the robot first and a nurse
/// when the robot does not reach the patient or does not finish.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallMode {
    /// The nurses' queue (the default).
    #[default]
    Nurse,
    /// The robot dialer only; what it cannot finish is retried by the robot.
    Robot,
    /// The robot first; unreached or incomplete, a nurse task follows.
    RobotThenNurse,
}

impl CallMode {
    /// The stored name (`followup_tasks.mode`).
    pub fn as_str(self) -> &'static str {
        match self {
            CallMode::Nurse => "nurse",
            CallMode::Robot => "robot",
            CallMode::RobotThenNurse => "robot_then_nurse",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<CallMode> {
        [CallMode::Nurse, CallMode::Robot, CallMode::RobotThenNurse]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Shown in the console's language: `{ en = "Day 1 nurse call", zh = "第1天护士随访" }`; a
    /// plain string serves both languages.
    #[serde(deserialize_with = "bilingual_or_plain")]
    pub name: Bilingual,
    /// Days after the discharge date (local) the contact is due.
    pub day: u32,
    /// The window opens this many days before the due day (the queue offers the task from then
    /// on; at most [`MAX_WINDOW_BEFORE_DAYS`])…
    #[serde(default)]
    pub window_before_days: u32,
    /// …and closes at the end of this many days after it.
    #[serde(default = "one")]
    pub window_after_days: u32,
    pub script: String,
    pub role: StepRole,
    /// Added to the pathway's priority for this step.
    #[serde(default)]
    pub priority_boost: i64,
    /// Who calls: `nurse` (default), `robot` or `robot_then_nurse`.
    #[serde(default)]
    pub mode: CallMode,
}

fn one() -> u32 {
    1
}

/// Longest early window a step may have. The queue looks this far ahead of `now` for tasks whose
/// window has opened, so the pending-by-due-date index bounds its scan (a million tasks).
pub const MAX_WINDOW_BEFORE_DAYS: u32 = 30;

fn bilingual_or_plain<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Bilingual, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        Plain(String),
        Both(Bilingual),
    }
    Ok(match Form::deserialize(d)? {
        Form::Plain(s) => Bilingual {
            en: s.clone(),
            zh: s,
        },
        Form::Both(b) => b,
    })
}

/// A task to create, in UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedTask {
    /// The step's English name (tasks are stored by it) and its Chinese name.
    pub step_name: String,
    pub step_name_zh: String,
    pub script: String,
    pub role: StepRole,
    /// Who calls.
    pub mode: CallMode,
    pub priority: i64,
    pub due_at: DateTime<Utc>,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
}

/// All pathways, by code.
#[derive(Debug, Clone, Default)]
pub struct PathwayCatalog {
    pub pathways: BTreeMap<String, Pathway>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

impl PathwayCatalog {
    /// Loads every `*.toml` of `dir`, reporting file:line for each problem.
    pub fn load_dir(dir: &Path) -> Result<PathwayCatalog, PathwayError> {
        let read_err = |e: std::io::Error| PathwayError::Read {
            path: dir.display().to_string(),
            message: e.to_string(),
        };
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(read_err)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        let mut catalog = PathwayCatalog::default();
        for path in files {
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(&path).map_err(|e| PathwayError::Read {
                path: shown.clone(),
                message: e.to_string(),
            })?;
            let pathway = Self::parse(&shown, &text)?;
            if catalog.pathways.contains_key(&pathway.code) {
                return Err(PathwayError::Invalid {
                    path: shown,
                    line: 1,
                    message: format!("pathway code `{}` is defined twice", pathway.code),
                });
            }
            catalog.pathways.insert(pathway.code.clone(), pathway);
        }
        Ok(catalog)
    }

    /// Parses and checks one pathway file.
    pub fn parse(path: &str, text: &str) -> Result<Pathway, PathwayError> {
        let pathway: Pathway = toml::from_str(text).map_err(|e| PathwayError::Invalid {
            path: path.to_string(),
            line: e.span().map(|s| line_of(text, s.start)).unwrap_or(1),
            message: e.message().to_string(),
        })?;
        let invalid = |message: String| PathwayError::Invalid {
            path: path.to_string(),
            line: 1,
            message,
        };
        if pathway.steps.is_empty() {
            return Err(invalid("a pathway needs at least one [[steps]]".into()));
        }
        if pathway.matcher.icd10.is_empty() && pathway.matcher.departments.is_empty() {
            return Err(invalid(
                "[match] needs icd10 prefixes or departments".into(),
            ));
        }
        let mut last_day = 0;
        for step in &pathway.steps {
            if step.day < last_day {
                return Err(invalid(format!(
                    "step `{}` is out of day order",
                    step.name.en
                )));
            }
            last_day = step.day;
            if step.window_before_days > MAX_WINDOW_BEFORE_DAYS {
                return Err(invalid(format!(
                    "step `{}`: window_before_days is at most {MAX_WINDOW_BEFORE_DAYS}",
                    step.name.en
                )));
            }
        }
        Ok(pathway)
    }

    /// The pathway for a discharge: the longest ICD-10 prefix match over all diagnoses (the
    /// most specific wins; priority breaks ties), else a department match.
    pub fn match_discharge(
        &self,
        icd10_codes: &[String],
        department: Option<&str>,
    ) -> Option<&Pathway> {
        let normalise = |c: &str| c.trim().to_ascii_uppercase().replace('.', "");
        let mut best: Option<(usize, i64, &Pathway)> = None;
        for pathway in self.pathways.values() {
            for prefix in &pathway.matcher.icd10 {
                let prefix = normalise(prefix);
                let hit = icd10_codes
                    .iter()
                    .any(|c| normalise(c).starts_with(&prefix));
                let better = best
                    .is_none_or(|(len, prio, _)| (prefix.len(), pathway.priority) > (len, prio));
                if hit && better {
                    best = Some((prefix.len(), pathway.priority, pathway));
                }
            }
        }
        if let Some((_, _, p)) = best {
            return Some(p);
        }
        let department = department?;
        self.pathways
            .values()
            .filter(|p| {
                p.matcher
                    .departments
                    .iter()
                    .any(|d| d.eq_ignore_ascii_case(department))
            })
            .max_by_key(|p| p.priority)
    }
}

/// Calendar rules used to turn step days into times.
#[derive(Debug, Clone)]
pub struct Calendar {
    pub tz: Tz,
    pub holidays: Vec<NaiveDate>,
    /// US TCM: the first contact due within two business days of discharge.
    pub tcm_two_business_days: bool,
}

impl Calendar {
    /// The start of `date` in the hospital's zone (the earlier instant on a DST overlap).
    pub fn local_midnight(&self, date: NaiveDate) -> DateTime<Utc> {
        let naive = date.and_time(NaiveTime::MIN);
        self.tz
            .from_local_datetime(&naive)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| Utc.from_utc_datetime(&naive))
    }

    pub fn is_business_day(&self, date: NaiveDate) -> bool {
        !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && !self.holidays.contains(&date)
    }

    /// The `n`th business day after `date` (CMS TCM counts Mon–Fri, excluding holidays).
    pub fn add_business_days(&self, date: NaiveDate, n: u32) -> NaiveDate {
        let mut day = date;
        let mut left = n;
        while left > 0 {
            day += Duration::days(1);
            if self.is_business_day(day) {
                left -= 1;
            }
        }
        day
    }

    /// The tasks a discharge at `discharged_at` creates on `pathway`.
    pub fn plan(&self, pathway: &Pathway, discharged_at: DateTime<Utc>) -> Vec<PlannedTask> {
        let discharge_day = discharged_at.with_timezone(&self.tz).date_naive();
        pathway
            .steps
            .iter()
            .enumerate()
            .map(|(index, step)| {
                let mut due_day = discharge_day + Duration::days(i64::from(step.day));
                let mut start_day = due_day - Duration::days(i64::from(step.window_before_days));
                let mut end_day = due_day + Duration::days(i64::from(step.window_after_days));
                let mut priority = pathway.priority + step.priority_boost;
                if index == 0 && self.tcm_two_business_days {
                    let deadline = self.add_business_days(discharge_day, 2);
                    due_day = due_day.min(deadline);
                    start_day = (discharge_day + Duration::days(1)).min(due_day);
                    end_day = deadline;
                    priority += 10;
                }
                PlannedTask {
                    step_name: step.name.en.clone(),
                    step_name_zh: step.name.zh.clone(),
                    script: step.script.clone(),
                    role: step.role,
                    mode: step.mode,
                    priority,
                    due_at: self.local_midnight(due_day),
                    window_start: self.local_midnight(start_day.max(discharge_day)),
                    // end of the last window day
                    window_end: self.local_midnight(end_day + Duration::days(1))
                        - Duration::seconds(1),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> PathwayCatalog {
        PathwayCatalog::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/pathways"))
            .expect("shipped pathways load")
    }

    fn calendar(tcm: bool) -> Calendar {
        Calendar {
            tz: chrono_tz::Asia::Shanghai,
            holidays: vec![],
            tcm_two_business_days: tcm,
        }
    }

    #[test]
    fn shipped_pathways_cover_the_required_conditions() {
        let c = catalog();
        for code in [
            "heart-failure",
            "chd",
            "post-surgery",
            "hypertension",
            "diabetes",
            "stroke",
        ] {
            assert!(c.pathways.contains_key(code), "missing pathway {code}");
        }
        let hf = &c.pathways["heart-failure"];
        let days: Vec<u32> = hf.steps.iter().map(|s| s.day).collect();
        assert_eq!(days, [1, 3, 7, 14, 30]);
        assert_eq!(hf.steps[3].role, StepRole::Team);
    }

    #[test]
    fn the_most_specific_diagnosis_wins_then_department() {
        let c = catalog();
        let m = |codes: &[&str], dept| {
            let codes: Vec<String> = codes.iter().map(|s| s.to_string()).collect();
            c.match_discharge(&codes, dept).map(|p| p.code.clone())
        };
        assert_eq!(m(&["I50.9"], None).as_deref(), Some("heart-failure"));
        assert_eq!(m(&["I10", "I50.1"], None).as_deref(), Some("heart-failure"));
        assert_eq!(m(&["I21.4"], None).as_deref(), Some("chd"));
        assert_eq!(m(&["E11.9"], None).as_deref(), Some("diabetes"));
        assert_eq!(
            m(&["K35.8"], Some("general-surgery")).as_deref(),
            Some("post-surgery")
        );
        assert_eq!(m(&["K35.8"], None), None);
    }

    #[test]
    fn plan_uses_local_days() {
        let c = catalog();
        // 23:30 local on 1 March = 15:30 UTC: the local discharge date is 1 March
        let discharged = chrono_tz::Asia::Shanghai
            .with_ymd_and_hms(2026, 3, 1, 23, 30, 0)
            .unwrap()
            .with_timezone(&Utc);
        let plan = calendar(false).plan(&c.pathways["heart-failure"], discharged);
        let first = &plan[0];
        let local = |t: DateTime<Utc>| {
            t.with_timezone(&chrono_tz::Asia::Shanghai)
                .naive_local()
                .to_string()
        };
        assert_eq!(local(first.due_at), "2026-03-02 00:00:00");
        assert_eq!(local(first.window_end), "2026-03-03 23:59:59");
        assert!(first.window_start <= first.due_at);
    }

    #[test]
    fn tcm_two_business_days_skips_weekends_and_holidays() {
        let mut cal = calendar(true);
        let friday = NaiveDate::from_ymd_opt(2026, 3, 6).unwrap();
        assert_eq!(
            cal.add_business_days(friday, 2),
            NaiveDate::from_ymd_opt(2026, 3, 10).unwrap()
        );
        cal.holidays
            .push(NaiveDate::from_ymd_opt(2026, 3, 9).unwrap());
        assert_eq!(
            cal.add_business_days(friday, 2),
            NaiveDate::from_ymd_opt(2026, 3, 11).unwrap()
        );
        let c = catalog();
        let discharged = chrono_tz::Asia::Shanghai
            .with_ymd_and_hms(2026, 3, 6, 15, 0, 0)
            .unwrap()
            .with_timezone(&Utc);
        let plan = cal.plan(&c.pathways["chd"], discharged);
        let end = plan[0]
            .window_end
            .with_timezone(&chrono_tz::Asia::Shanghai)
            .date_naive();
        assert_eq!(end, NaiveDate::from_ymd_opt(2026, 3, 11).unwrap());
    }

    #[test]
    fn a_step_says_who_calls_nurse_by_default() {
        let file = |mode: &str| {
            format!(
                "code = \"r\"\nversion = 1\ntitle = {{ en = \"R\", zh = \"R\" }}\npriority = 1\n\
                 [match]\nicd10 = [\"I50\"]\n[[steps]]\nname = {{ en = \"D1\", zh = \"D1\" }}\n\
                 day = 1\nscript = \"heart-failure\"\nrole = \"nurse\"\n{mode}"
            )
        };
        let mode =
            |line: &str| PathwayCatalog::parse("r.toml", &file(line)).map(|p| p.steps[0].mode);
        assert_eq!(mode("").expect("no mode"), CallMode::Nurse);
        assert_eq!(mode("mode = \"robot\"").expect("robot"), CallMode::Robot);
        assert_eq!(
            mode("mode = \"robot_then_nurse\"").expect("robot first"),
            CallMode::RobotThenNurse
        );
        let err = mode("mode = \"bot\"").expect_err("unknown mode");
        assert!(err.to_string().starts_with("r.toml:12:"), "{err}");
        for m in [CallMode::Nurse, CallMode::Robot, CallMode::RobotThenNurse] {
            assert_eq!(CallMode::parse(m.as_str()), Some(m));
        }
        assert_eq!(CallMode::parse("bot"), None);
    }

    #[test]
    fn bad_files_report_file_and_line() {
        let err = PathwayCatalog::parse("x.toml", "code = \"a\"\nversion = \"one\"\n").unwrap_err();
        assert!(err.to_string().starts_with("x.toml:2:"), "{err}");
    }
}
