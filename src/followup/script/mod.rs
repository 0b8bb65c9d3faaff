//! Follow-up scripts: what a nurse asks, in which order, and which answers must reach a doctor.
//!
//! A script is data (`prompts/scripts/*.toml`), versioned, and loaded once at start-up by
//! [`load_dir`]. Loading parses *and* checks everything that can be checked without a patient:
//! question ids are unique, ranges make sense, every rule and skip condition refers to questions
//! that exist and compares them with values of the right type. Errors carry `file:line` so the
//! person editing a script can fix it without reading Rust (`suifang scripts check` prints
//! [`CheckReport`]).
//!
//! The condition language ([`expr`]) is deliberately tiny and typed; it is parsed at load and
//! never evaluated as code.
//!
//! # From an autosaved answer to an escalation
//!
//! ```
//! use std::path::Path;
//! use chrono::Utc;
//! use suifang::followup::escalation::{decide, Decision, DepartmentCode, FindingContext,
//!     PatientId, Roster, Source};
//! use suifang::followup::rules::{evaluate, Answers};
//! use suifang::followup::script::{load_str, validate_answer, QuestionId, Severity};
//!
//! let script = load_str(Path::new("demo.toml"), r#"
//!     code = "demo"
//!     version = 1
//!     title = { zh = "演示", en = "Demo" }
//!     [[questions]]
//!     id = "glucose"
//!     text = { zh = "血糖", en = "Glucose" }
//!     type = "number"
//!     unit = "mmol/L"
//!     min = 0.5
//!     max = 50
//!     decimals = 1
//!     [[rules]]
//!     id = "low"
//!     when = "glucose <= 3.9"
//!     severity = "urgent"
//!     ack_sla_minutes = 15
//! "#).expect("valid script");
//!
//! // The API validates the JSON the console sent (422 naming the question on error)…
//! let answer = validate_answer(&script, "glucose", serde_json::json!(3.1)).expect("in range");
//! let answers = Answers::from([(QuestionId("glucose".into()), answer)]);
//! // …evaluates the script with the patient's earlier measurements…
//! let now = Utc::now();
//! let findings = evaluate(&script, &answers, &[], now);
//! assert_eq!(findings[0].severity, Severity::Urgent);
//! // …and lets the escalation engine decide against the patient's open escalations.
//! let ctx = FindingContext {
//!     patient: PatientId(1),
//!     department: DepartmentCode("endocrinology".into()),
//!     source: Source::Answer { call: None },
//! };
//! let decision = decide(&[], &findings[0], &ctx, &Roster::default(), now);
//! assert!(matches!(decision, Decision::Open(_)));
//! ```

pub mod answer;
mod check;
pub mod expr;
mod raw;
mod red_flag;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::followup::discipline::Discipline;

pub use answer::{validate_answer, AnswerError, AnswerValue};
pub use check::{check_dir, CheckReport, LoadedScript};
pub use expr::Expr;
pub use red_flag::RedFlag;

/// Stable code of a script (`heart-failure`); pathways and answers refer to it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ScriptCode(pub String);

/// Stable id of a question inside a script; answers are stored under it, the API names it in
/// validation errors.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct QuestionId(pub String);

/// Stable id of a rule inside a script; together with the script code and the patient it is the
/// de-duplication key of an escalation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RuleId(pub String);

/// Id of one option of a choice question.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OptionId(pub String);

macro_rules! display_newtype {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl $t {
            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    )*};
}
display_newtype!(ScriptCode, QuestionId, RuleId, OptionId);

/// Text shown to the nurse in both languages the call center works in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bilingual {
    /// Simplified Chinese (zh-CN).
    pub zh: String,
    /// English.
    pub en: String,
}

/// How quickly a doctor must react. Ordered: `Routine < High < Urgent < Emergency`.
///
/// CLINICAL-RULES.md: emergency = tell the patient to call 120/911 now and alert the doctor at
/// once; urgent = acknowledge within minutes, re-escalate; high = same day; routine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Next scheduled contact is enough.
    Routine,
    /// Same day.
    High,
    /// Doctor acknowledges within minutes.
    Urgent,
    /// Patient told to call 120/911 now; doctor alerted at once.
    Emergency,
}

impl Severity {
    /// Emergency and urgent findings must reach more than one person (issue 3).
    pub fn needs_more_than_one_recipient(self) -> bool {
        matches!(self, Severity::Emergency | Severity::Urgent)
    }

    /// Traffic-light colour as in the Danish telemedicine FHIR guide's significance indicator.
    pub fn traffic_light(self) -> &'static str {
        match self {
            Severity::Emergency | Severity::Urgent => "red",
            Severity::High => "yellow",
            Severity::Routine => "green",
        }
    }

    /// Lower-case name as used in script files and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Routine => "routine",
            Severity::High => "high",
            Severity::Urgent => "urgent",
            Severity::Emergency => "emergency",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Patient measurement series an answer can feed, so trends (weight gain over days) can be
/// computed across calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeasurementKind {
    /// Body weight in kilograms.
    WeightKg,
    /// Systolic blood pressure, mmHg.
    Sbp,
    /// Diastolic blood pressure, mmHg.
    Dbp,
    /// Blood glucose, mmol/L.
    GlucoseMmol,
    /// Body temperature, °C.
    TemperatureC,
    /// Heart rate, beats per minute.
    HeartRateBpm,
    /// Oxygen saturation, %.
    Spo2Pct,
}

impl MeasurementKind {
    /// Every kind, for parsing and listing.
    pub const ALL: [MeasurementKind; 7] = [
        MeasurementKind::WeightKg,
        MeasurementKind::Sbp,
        MeasurementKind::Dbp,
        MeasurementKind::GlucoseMmol,
        MeasurementKind::TemperatureC,
        MeasurementKind::HeartRateBpm,
        MeasurementKind::Spo2Pct,
    ];

    /// Name as written in scripts and stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            MeasurementKind::WeightKg => "weight_kg",
            MeasurementKind::Sbp => "sbp",
            MeasurementKind::Dbp => "dbp",
            MeasurementKind::GlucoseMmol => "glucose_mmol",
            MeasurementKind::TemperatureC => "temperature_c",
            MeasurementKind::HeartRateBpm => "heart_rate_bpm",
            MeasurementKind::Spo2Pct => "spo2_pct",
        }
    }

    /// Parses the script/database name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for MeasurementKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One option of a choice question. `score` lets a choice count as a number (PHQ items 0–3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChoiceOption {
    /// Stable id stored as the answer.
    pub id: OptionId,
    /// Label in both languages.
    pub label: Bilingual,
    /// Numeric value of the option, when the instrument scores it.
    pub score: Option<f64>,
}

/// The answer type of a question and its limits.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum QuestionKind {
    /// Yes or no.
    YesNo,
    /// A number with a unit and an allowed range (inclusive).
    Number {
        /// Unit shown next to the field (`kg`, `mmol/L`).
        unit: String,
        /// Smallest accepted value.
        min: f64,
        /// Largest accepted value.
        max: f64,
        /// Digits allowed after the decimal point.
        decimals: u8,
    },
    /// Systolic/diastolic pair in mmHg; feeds both `sbp` and `dbp` series.
    BloodPressure,
    /// One of a fixed list of options.
    Choice {
        /// Options in display order.
        options: Vec<ChoiceOption>,
    },
    /// Integer scale, 0..=max (max ≤ 10).
    Scale {
        /// Largest value (10 for a 0–10 pain scale).
        max: u8,
    },
    /// Free text, for notes the rules do not read.
    Text {
        /// Maximum length in characters.
        max_chars: usize,
    },
    /// A calendar date (YYYY-MM-DD).
    Date,
}

/// One question of a script.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Question {
    /// Stable id (`[a-z][a-z0-9_]*`).
    pub id: QuestionId,
    /// What the nurse reads out.
    pub text: Bilingual,
    /// Answer type and limits.
    pub kind: QuestionKind,
    /// Skip logic: the question is shown only when this holds for the answers so far.
    #[serde(skip)]
    pub show_if: Option<Expr>,
    /// Source text of `show_if`, for display.
    pub show_if_text: Option<String>,
    /// Patient measurement series this answer feeds (number questions only; blood-pressure
    /// questions always feed `sbp` and `dbp`).
    pub measurement: Option<MeasurementKind>,
    /// Team-review scripts: whose assessment this question is part of (`None`: shared).
    pub discipline: Option<crate::followup::discipline::Discipline>,
}

/// Who must hear about a finding.
///
/// Script form (TOML) and stored form (JSON) are the same serde shapes:
/// `"patient_department"` (default), `{ department = "cardiology" }`, `{ role = "…" }`,
/// `{ group = "…" }`, and for the multidisciplinary team (issue 20 item 3) `"care_team"`,
/// `"on_duty_doctor"`, a bare discipline code (`"pharmacy"`) or `{ discipline = "pharmacy" }`.
/// A bare discipline is written back as `{ discipline = … }`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "RawRoute")]
pub enum Route {
    /// The duty roster of the patient's own department (the default).
    PatientDepartment,
    /// The duty roster of a named department (`cardiology`).
    Department(String),
    /// Everyone holding a role (`psychiatry_liaison`).
    Role(String),
    /// A named group (`stroke_team`).
    Group(String),
    /// Whoever of this discipline is on shift now; falls back on the patient's care-team lead,
    /// then the department's on-duty doctor (see `followup::escalation::Roster::chain`).
    Discipline(Discipline),
    /// The patient's care team: its members on shift now and its lead.
    CareTeam,
    /// The on-duty doctor of the patient's department, whatever the rule is about.
    OnDutyDoctor,
}

/// The accepted spellings of a [`Route`], before the bare-word forms are told apart.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawRoute {
    Word(String),
    Tagged(TaggedRoute),
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum TaggedRoute {
    Department(String),
    Role(String),
    Group(String),
    Discipline(Discipline),
}

impl TryFrom<RawRoute> for Route {
    type Error = String;
    fn try_from(raw: RawRoute) -> Result<Self, String> {
        Ok(match raw {
            RawRoute::Word(w) => match w.as_str() {
                "patient_department" => Route::PatientDepartment,
                "care_team" => Route::CareTeam,
                "on_duty_doctor" => Route::OnDutyDoctor,
                code => Route::Discipline(Discipline::parse_code(code).map_err(|e| {
                    format!(
                        "route `{code}`: use patient_department, care_team, on_duty_doctor, \
                         a discipline code, or {{ department | role | group = \"…\" }} ({e})"
                    )
                })?),
            },
            RawRoute::Tagged(TaggedRoute::Department(d)) => Route::Department(d),
            RawRoute::Tagged(TaggedRoute::Role(r)) => Route::Role(r),
            RawRoute::Tagged(TaggedRoute::Group(g)) => Route::Group(g),
            RawRoute::Tagged(TaggedRoute::Discipline(d)) => Route::Discipline(d),
        })
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Route::PatientDepartment => f.write_str("patient's department"),
            Route::Department(d) => write!(f, "department {d}"),
            Route::Role(r) => write!(f, "role {r}"),
            Route::Group(g) => write!(f, "group {g}"),
            Route::Discipline(d) => write!(f, "discipline {d}"),
            Route::CareTeam => f.write_str("patient's care team"),
            Route::OnDutyDoctor => f.write_str("on-duty doctor"),
        }
    }
}

/// A rule: when `when` holds for the answers (and the patient's history), escalate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    /// Stable id; the escalation de-duplication key.
    pub id: RuleId,
    /// Parsed condition.
    #[serde(skip)]
    pub when: Expr,
    /// Condition as written, quoted in the evidence.
    pub when_text: String,
    /// How urgent.
    pub severity: Severity,
    /// To whom.
    pub route: Route,
    /// Minutes the first recipients have to acknowledge before re-escalation.
    pub ack_sla_minutes: u32,
    /// What the nurse tells the patient right now (e.g. "call 120").
    pub advice: Option<Bilingual>,
    /// Tags put on the patient when the rule fires (issue 20 item 6).
    pub tags: Vec<crate::followup::tag::Tag>,
}

/// A loaded, checked script.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Script {
    /// Stable code (`heart-failure`).
    pub code: ScriptCode,
    /// Version; every answer records it.
    pub version: u32,
    /// Title in both languages.
    pub title: Bilingual,
    /// Questions in the order they are asked.
    pub questions: Vec<Question>,
    /// Rules in file order.
    pub rules: Vec<Rule>,
    /// Phrases searched for in the call's transcript.
    pub red_flags: Vec<RedFlag>,
    /// Team-review scripts: the disciplines that must sign before the review closes (empty for
    /// call scripts).
    pub required_disciplines: Vec<crate::followup::discipline::Discipline>,
    /// File it came from.
    pub source: PathBuf,
}

impl Script {
    /// The question with this id.
    pub fn question(&self, id: &str) -> Option<&Question> {
        self.questions.iter().find(|q| q.id.0 == id)
    }

    /// The kinds of measurement the answer to `question` feeds (a blood pressure feeds two).
    pub fn measurement_kinds(&self, question: &str) -> Vec<MeasurementKind> {
        let Some(q) = self.question(question) else {
            return Vec::new();
        };
        let mut kinds: Vec<MeasurementKind> = q.measurement.into_iter().collect();
        if matches!(q.kind, QuestionKind::BloodPressure) {
            kinds.extend([MeasurementKind::Sbp, MeasurementKind::Dbp]);
        }
        kinds
    }

    /// The rule with this id.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id.0 == id)
    }
}

/// All scripts, by code. Only one version per code is loaded at a time; old answers keep the
/// version number they were given.
#[derive(Debug, Clone, Default)]
pub struct ScriptCatalog {
    scripts: BTreeMap<ScriptCode, Script>,
}

impl ScriptCatalog {
    /// The script with this code.
    pub fn get(&self, code: &str) -> Option<&Script> {
        self.scripts.get(&ScriptCode(code.to_owned()))
    }

    /// Scripts ordered by code.
    pub fn iter(&self) -> impl Iterator<Item = &Script> {
        self.scripts.values()
    }

    /// Number of scripts.
    pub fn len(&self) -> usize {
        self.scripts.len()
    }

    /// True when no script is loaded.
    pub fn is_empty(&self) -> bool {
        self.scripts.is_empty()
    }
}

/// What is wrong with a script file, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {kind}", file.display())]
pub struct ScriptError {
    /// File the error is in.
    pub file: PathBuf,
    /// 1-based line (0 when the error concerns the whole file or directory).
    pub line: usize,
    /// What is wrong.
    pub kind: ScriptErrorKind,
}

/// The kinds of script errors, each saying what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptErrorKind {
    /// The file or directory could not be read.
    #[error("cannot read: {0}")]
    Io(String),
    /// TOML syntax or a field of the wrong shape.
    #[error("{0}")]
    Syntax(String),
    /// Two questions, rules or options share an id.
    #[error("duplicate {what} id `{id}` (first defined on line {first_line})")]
    Duplicate {
        /// "question", "rule" or "option".
        what: &'static str,
        /// The repeated id.
        id: String,
        /// Where it was first defined.
        first_line: usize,
    },
    /// Two files declare the same script code.
    #[error("script code `{0}` is also used by {1}")]
    DuplicateCode(String, String),
    /// An id does not match `[a-z][a-z0-9_]*` (codes: `[a-z][a-z0-9-]*`).
    #[error("invalid id `{0}`: use lower-case letters, digits and `_` (codes may use `-`)")]
    BadId(String),
    /// A range or limit is impossible.
    #[error("bad range: {0}")]
    BadRange(String),
    /// A field does not belong to this question type, or a required one is missing.
    #[error("{0}")]
    BadField(String),
    /// A condition could not be parsed or does not type-check.
    #[error("in condition `{text}`: {message}")]
    Condition {
        /// The condition as written.
        text: String,
        /// What is wrong.
        message: String,
    },
}

/// Parses and checks one script from text; `file` is only used in error messages.
pub fn load_str(file: &Path, text: &str) -> Result<Script, Vec<ScriptError>> {
    raw::load(file, text)
}

/// Loads and checks every `*.toml` in `dir`. Collects every error of every file instead of
/// stopping at the first, so one `scripts check` run lists all there is to fix.
pub fn load_dir(dir: &Path) -> Result<ScriptCatalog, Vec<ScriptError>> {
    let whole_dir = |e: std::io::Error| {
        vec![ScriptError {
            file: dir.to_path_buf(),
            line: 0,
            kind: ScriptErrorKind::Io(e.to_string()),
        }]
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(whole_dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut catalog = ScriptCatalog::default();
    let mut errors = Vec::new();
    for file in files {
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                errors.push(ScriptError {
                    file: file.clone(),
                    line: 0,
                    kind: ScriptErrorKind::Io(e.to_string()),
                });
                continue;
            }
        };
        match load_str(&file, &text) {
            Ok(script) => {
                if let Some(other) = catalog.scripts.get(&script.code) {
                    errors.push(ScriptError {
                        file: file.clone(),
                        line: 1,
                        kind: ScriptErrorKind::DuplicateCode(
                            script.code.0.clone(),
                            other.source.display().to_string(),
                        ),
                    });
                } else {
                    catalog.scripts.insert(script.code.clone(), script);
                }
            }
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(catalog)
    } else {
        Err(errors)
    }
}
