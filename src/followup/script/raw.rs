//! The script file as written (serde shapes with source spans) and its conversion into the
//! checked [`Script`]. Spans are kept on every id and condition so semantic errors point at the
//! line to edit, not just the file.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::followup::discipline::Discipline;
use crate::followup::tag::Tag;

use super::{
    expr, Bilingual, ChoiceOption, MeasurementKind, OptionId, Question, QuestionId, QuestionKind,
    RedFlag, Route, Rule, RuleId, Script, ScriptCode, ScriptError, ScriptErrorKind, Severity,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScript {
    code: Spanned<String>,
    version: Spanned<u32>,
    title: Bilingual,
    #[serde(default)]
    questions: Vec<RawQuestion>,
    #[serde(default)]
    rules: Vec<RawRule>,
    #[serde(default)]
    red_flags: Vec<RawRedFlag>,
    /// Team-review scripts: the disciplines that must sign before the review closes.
    #[serde(default)]
    required_disciplines: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRedFlag {
    id: Spanned<String>,
    phrases: Spanned<Vec<String>>,
    severity: Severity,
    #[serde(default = "default_route")]
    route: Route,
    ack_sla_minutes: Spanned<u32>,
    advice: Option<Bilingual>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum RawType {
    YesNo,
    Number,
    BloodPressure,
    Choice,
    Scale,
    Text,
    Date,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOption {
    id: Spanned<String>,
    zh: String,
    en: String,
    score: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuestion {
    id: Spanned<String>,
    text: Bilingual,
    #[serde(rename = "type")]
    kind: Spanned<RawType>,
    unit: Option<String>,
    min: Option<Spanned<f64>>,
    max: Option<Spanned<f64>>,
    decimals: Option<u8>,
    options: Option<Vec<RawOption>>,
    max_chars: Option<usize>,
    show_if: Option<Spanned<String>>,
    measurement: Option<Spanned<MeasurementKind>>,
    /// Team-review scripts: the discipline whose assessment this question belongs to.
    discipline: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    when: Spanned<String>,
    severity: Severity,
    #[serde(default = "default_route")]
    route: Route,
    ack_sla_minutes: Spanned<u32>,
    advice: Option<Bilingual>,
    /// Tags the rule puts on the patient when it fires (`["fluid-overload-risk"]`).
    #[serde(default)]
    tags: Vec<Spanned<String>>,
}

fn default_route() -> Route {
    Route::PatientDepartment
}

/// Maps byte offsets to 1-based line numbers.
struct Lines(Vec<usize>);

impl Lines {
    fn new(text: &str) -> Self {
        Lines(
            std::iter::once(0)
                .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                .collect(),
        )
    }
    fn line(&self, offset: usize) -> usize {
        self.0.partition_point(|&start| start <= offset)
    }
}

struct Ctx<'a> {
    file: &'a Path,
    lines: Lines,
    errors: Vec<ScriptError>,
}

impl Ctx<'_> {
    fn err<T>(&mut self, span: &Spanned<T>, kind: ScriptErrorKind) {
        let line = self.lines.line(span.span().start);
        self.errors.push(ScriptError {
            file: self.file.to_path_buf(),
            line,
            kind,
        });
    }
    fn line<T>(&self, span: &Spanned<T>) -> usize {
        self.lines.line(span.span().start)
    }
}

fn valid_id(s: &str, dash: bool) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || (dash && c == '-'))
}

/// Hidden questions are never asked, so a 10-point scale is the widest an ordinal answer gets.
const MAX_SCALE: f64 = 10.0;
/// Default limit for free-text answers.
const DEFAULT_TEXT_CHARS: usize = 2000;

pub(super) fn load(file: &Path, text: &str) -> Result<Script, Vec<ScriptError>> {
    let lines = Lines::new(text);
    let raw: RawScript = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| lines.line(s.start)).unwrap_or(0);
        vec![ScriptError {
            file: file.to_path_buf(),
            line,
            kind: ScriptErrorKind::Syntax(e.message().trim().to_owned()),
        }]
    })?;
    let mut cx = Ctx {
        file,
        lines,
        errors: Vec::new(),
    };
    if !valid_id(raw.code.get_ref(), true) {
        cx.err(
            &raw.code,
            ScriptErrorKind::BadId(raw.code.get_ref().clone()),
        );
    }
    if *raw.version.get_ref() == 0 {
        cx.err(
            &raw.version,
            ScriptErrorKind::BadRange("version starts at 1".into()),
        );
    }

    let mut questions: Vec<Question> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for rq in raw.questions {
        let id = rq.id.get_ref().clone();
        if !valid_id(&id, false) {
            cx.err(&rq.id, ScriptErrorKind::BadId(id.clone()));
        }
        if let Some(&first_line) = seen.get(&id) {
            cx.err(
                &rq.id,
                ScriptErrorKind::Duplicate {
                    what: "question",
                    id: id.clone(),
                    first_line,
                },
            );
            continue;
        }
        seen.insert(id.clone(), cx.line(&rq.id));
        let Some(kind) = question_kind(&mut cx, &rq) else {
            continue;
        };
        let discipline = rq.discipline.as_ref().and_then(|d| discipline(&mut cx, d));
        let show_if = rq.show_if.as_ref().and_then(|src| {
            // Skip logic may only read earlier questions: no cycles, and the nurse has the
            // answer before the question appears.
            condition(&mut cx, src, &questions, true)
        });
        questions.push(Question {
            id: QuestionId(id),
            text: rq.text,
            kind,
            show_if,
            show_if_text: rq.show_if.map(|s| s.into_inner()),
            measurement: rq.measurement.map(|m| m.into_inner()),
            discipline,
        });
    }

    let mut rules = Vec::new();
    let mut seen_rules: HashMap<String, usize> = HashMap::new();
    for rr in raw.rules {
        let id = rr.id.get_ref().clone();
        if !valid_id(&id, true) {
            cx.err(&rr.id, ScriptErrorKind::BadId(id.clone()));
        }
        if let Some(&first_line) = seen_rules.get(&id) {
            cx.err(
                &rr.id,
                ScriptErrorKind::Duplicate {
                    what: "rule",
                    id,
                    first_line,
                },
            );
            continue;
        }
        seen_rules.insert(id.clone(), cx.line(&rr.id));
        if *rr.ack_sla_minutes.get_ref() == 0 {
            cx.err(
                &rr.ack_sla_minutes,
                ScriptErrorKind::BadRange("ack_sla_minutes must be at least 1".into()),
            );
        }
        let mut tags: Vec<Tag> = Vec::new();
        for raw_tag in &rr.tags {
            match Tag::parse(raw_tag.get_ref()) {
                Ok(t) if tags.contains(&t) => cx.err(
                    raw_tag,
                    ScriptErrorKind::BadField(format!("tag `{t}` is listed twice")),
                ),
                Ok(t) => tags.push(t),
                Err(e) => cx.err(raw_tag, ScriptErrorKind::BadField(e.to_string())),
            }
        }
        if let Some(when) = condition(&mut cx, &rr.when, &questions, false) {
            rules.push(Rule {
                id: RuleId(id),
                when,
                when_text: rr.when.into_inner(),
                severity: rr.severity,
                route: rr.route,
                ack_sla_minutes: rr.ack_sla_minutes.into_inner(),
                advice: rr.advice,
                tags,
            });
        }
    }

    let red_flags = red_flags(&mut cx, raw.red_flags, &mut seen_rules);
    let required_disciplines = required_disciplines(&mut cx, &raw.required_disciplines);

    if cx.errors.is_empty() {
        Ok(Script {
            code: ScriptCode(raw.code.into_inner()),
            version: raw.version.into_inner(),
            title: raw.title,
            questions,
            rules,
            red_flags,
            required_disciplines,
            source: file.to_path_buf(),
        })
    } else {
        Err(cx.errors)
    }
}

/// A discipline code as written on a question or in `required_disciplines`. Only the shape is
/// checked here: a hospital may add disciplines in config, which scripts do not see.
fn discipline(cx: &mut Ctx<'_>, code: &Spanned<String>) -> Option<Discipline> {
    match Discipline::parse_code(code.get_ref()) {
        Ok(d) => Some(d),
        Err(e) => {
            cx.err(code, ScriptErrorKind::BadField(e.to_string()));
            None
        }
    }
}

/// `required_disciplines`: well-formed and each named once (a review closes when all signed).
fn required_disciplines(cx: &mut Ctx<'_>, raw: &[Spanned<String>]) -> Vec<Discipline> {
    let mut out: Vec<Discipline> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for code in raw {
        if let Some(&first_line) = seen.get(code.get_ref()) {
            cx.err(
                code,
                ScriptErrorKind::Duplicate {
                    what: "required discipline",
                    id: code.get_ref().clone(),
                    first_line,
                },
            );
            continue;
        }
        seen.insert(code.get_ref().clone(), cx.line(code));
        if let Some(d) = discipline(cx, code) {
            out.push(d);
        }
    }
    out
}

/// Red-flag ids share the rule namespace: both are escalation de-duplication keys.
fn red_flags(
    cx: &mut Ctx<'_>,
    raw: Vec<RawRedFlag>,
    seen: &mut HashMap<String, usize>,
) -> Vec<RedFlag> {
    let mut out = Vec::new();
    for rf in raw {
        let id = rf.id.get_ref().clone();
        if !valid_id(&id, true) {
            cx.err(&rf.id, ScriptErrorKind::BadId(id.clone()));
        }
        if let Some(&first_line) = seen.get(&id) {
            cx.err(
                &rf.id,
                ScriptErrorKind::Duplicate {
                    what: "rule",
                    id,
                    first_line,
                },
            );
            continue;
        }
        seen.insert(id.clone(), cx.line(&rf.id));
        if *rf.ack_sla_minutes.get_ref() == 0 {
            cx.err(
                &rf.ack_sla_minutes,
                ScriptErrorKind::BadRange("ack_sla_minutes must be at least 1".into()),
            );
        }
        let phrases: Vec<String> = rf
            .phrases
            .get_ref()
            .iter()
            .map(|p| p.trim().to_lowercase())
            .collect();
        if phrases.is_empty() || phrases.iter().any(|p| p.chars().count() < 2) {
            cx.err(
                &rf.phrases,
                ScriptErrorKind::BadField(
                    "red-flag phrases: at least one, each at least 2 characters".into(),
                ),
            );
            continue;
        }
        out.push(RedFlag {
            id: RuleId(id),
            phrases,
            severity: rf.severity,
            route: rf.route,
            ack_sla_minutes: rf.ack_sla_minutes.into_inner(),
            advice: rf.advice,
        });
    }
    out
}

fn condition(
    cx: &mut Ctx<'_>,
    src: &Spanned<String>,
    scope: &[Question],
    skip_logic: bool,
) -> Option<super::Expr> {
    let lab_rule = |e: super::Expr| {
        let reads_labs = !e.labs().is_empty();
        if reads_labs && skip_logic {
            return Err(
                "skip logic cannot read lab(): the nurse's form does not wait for results"
                    .to_string(),
            );
        }
        if reads_labs && (!e.questions().is_empty() || !e.measurements().is_empty()) {
            return Err("a rule reading lab() reads only labs (it is evaluated when a result \
                        arrives, not when an answer is saved): write the answer part as its own rule"
                .to_string());
        }
        Ok(e)
    };
    match expr::parse(src.get_ref())
        .and_then(|e| expr::check(&e, scope).map(|()| e))
        .and_then(lab_rule)
    {
        Ok(e) => Some(e),
        Err(mut message) => {
            if skip_logic && message.starts_with("unknown question") {
                message.push_str(" (skip logic may only read earlier questions)");
            }
            cx.err(
                src,
                ScriptErrorKind::Condition {
                    text: src.get_ref().clone(),
                    message,
                },
            );
            None
        }
    }
}

fn question_kind(cx: &mut Ctx<'_>, rq: &RawQuestion) -> Option<QuestionKind> {
    let ty = *rq.kind.get_ref();
    let mut misplaced = Vec::new();
    let mut field = |present: bool, name: &'static str, allowed: &[RawType]| {
        if present && !allowed.contains(&ty) {
            misplaced.push(name);
        }
    };
    use RawType as T;
    field(rq.unit.is_some(), "unit", &[T::Number]);
    field(rq.min.is_some(), "min", &[T::Number]);
    field(rq.max.is_some(), "max", &[T::Number, T::Scale]);
    field(rq.decimals.is_some(), "decimals", &[T::Number]);
    field(rq.options.is_some(), "options", &[T::Choice]);
    field(rq.max_chars.is_some(), "max_chars", &[T::Text]);
    field(rq.measurement.is_some(), "measurement", &[T::Number]);
    if !misplaced.is_empty() {
        cx.err(
            &rq.kind,
            ScriptErrorKind::BadField(format!(
                "question `{}`: {} not allowed for this type",
                rq.id.get_ref(),
                misplaced.join(", ")
            )),
        );
        return None;
    }
    if let Some(m) = &rq.measurement {
        if matches!(m.get_ref(), MeasurementKind::Sbp | MeasurementKind::Dbp) {
            cx.err(
                m,
                ScriptErrorKind::BadField(
                    "record blood pressure with a `blood_pressure` question".into(),
                ),
            );
        }
    }
    Some(match ty {
        T::YesNo => QuestionKind::YesNo,
        T::BloodPressure => QuestionKind::BloodPressure,
        T::Date => QuestionKind::Date,
        T::Text => QuestionKind::Text {
            max_chars: rq.max_chars.unwrap_or(DEFAULT_TEXT_CHARS),
        },
        T::Scale => {
            let max = rq.max.as_ref().map(|m| *m.get_ref()).unwrap_or(MAX_SCALE);
            if !(1.0..=MAX_SCALE).contains(&max) || max.fract() != 0.0 {
                if let Some(m) = &rq.max {
                    cx.err(
                        m,
                        ScriptErrorKind::BadRange(format!(
                            "scale max must be a whole number 1..=10, got {max}"
                        )),
                    );
                }
                return None;
            }
            QuestionKind::Scale { max: max as u8 }
        }
        T::Number => {
            let (Some(min), Some(max), Some(unit)) = (&rq.min, &rq.max, &rq.unit) else {
                cx.err(
                    &rq.kind,
                    ScriptErrorKind::BadField(format!(
                        "number question `{}` needs unit, min and max",
                        rq.id.get_ref()
                    )),
                );
                return None;
            };
            let (lo, hi) = (*min.get_ref(), *max.get_ref());
            let sane = lo.is_finite() && hi.is_finite() && lo < hi;
            if !sane {
                cx.err(
                    max,
                    ScriptErrorKind::BadRange(format!(
                        "min {} must be below max {}",
                        min.get_ref(),
                        max.get_ref()
                    )),
                );
                return None;
            }
            QuestionKind::Number {
                unit: unit.clone(),
                min: *min.get_ref(),
                max: *max.get_ref(),
                decimals: rq.decimals.unwrap_or(0),
            }
        }
        T::Choice => {
            let opts = rq.options.as_deref().unwrap_or_default();
            if opts.len() < 2 {
                cx.err(
                    &rq.kind,
                    ScriptErrorKind::BadField(format!(
                        "choice question `{}` needs at least two options",
                        rq.id.get_ref()
                    )),
                );
                return None;
            }
            let mut seen: HashMap<&str, usize> = HashMap::new();
            let mut options = Vec::new();
            for o in opts {
                let oid = o.id.get_ref();
                if !valid_id(oid, false) {
                    cx.err(&o.id, ScriptErrorKind::BadId(oid.clone()));
                }
                if let Some(&first_line) = seen.get(oid.as_str()) {
                    cx.err(
                        &o.id,
                        ScriptErrorKind::Duplicate {
                            what: "option",
                            id: oid.clone(),
                            first_line,
                        },
                    );
                }
                seen.insert(oid, cx.line(&o.id));
                options.push(ChoiceOption {
                    id: OptionId(oid.clone()),
                    label: Bilingual {
                        zh: o.zh.clone(),
                        en: o.en.clone(),
                    },
                    score: o.score,
                });
            }
            QuestionKind::Choice { options }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::Lines;
    use crate::followup::script::{load_str, ScriptErrorKind};
    use std::path::Path;

    #[test]
    fn offsets_map_to_lines() {
        let l = Lines::new("a\nbc\n\nd");
        assert_eq!([0, 1, 2, 4, 5, 6].map(|o| l.line(o)), [1, 1, 2, 2, 3, 4]);
    }

    const REVIEW: &str = r#"
code = "review"
version = 1
title = { zh = "评估", en = "Review" }
required_disciplines = [REQUIRED]
[[questions]]
id = "volume"
text = { zh = "容量", en = "Volume" }
type = "text"
discipline = QDISC
[[questions]]
id = "shared"
text = { zh = "共同", en = "Shared" }
type = "yes_no"
"#;

    fn review(required: &str, question: &str) -> String {
        REVIEW
            .replace("REQUIRED", required)
            .replace("QDISC", question)
    }

    #[test]
    fn questions_carry_their_discipline_and_the_script_its_sign_offs() {
        let s = load_str(
            Path::new("r.toml"),
            &review(r#""cardiology", "pharmacy""#, r#""cardiology""#),
        )
        .expect("valid review script");
        assert_eq!(
            s.required_disciplines
                .iter()
                .map(|d| d.as_str())
                .collect::<Vec<_>>(),
            ["cardiology", "pharmacy"]
        );
        assert_eq!(
            s.question("volume")
                .and_then(|q| q.discipline.as_ref())
                .map(|d| d.as_str()),
            Some("cardiology")
        );
        assert_eq!(s.question("shared").unwrap().discipline, None);
    }

    #[test]
    fn a_nurse_script_has_no_sign_offs() {
        let text = review("", r#""nursing""#).replace("required_disciplines = []\n", "");
        let s = load_str(Path::new("r.toml"), &text).expect("valid");
        assert!(s.required_disciplines.is_empty());
    }

    #[test]
    fn malformed_or_repeated_disciplines_are_errors_with_their_line() {
        let errors = load_str(
            Path::new("r.toml"),
            &review(r#""pharmacy", "pharmacy""#, r#""Cardiology""#),
        )
        .unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors.iter().any(|e| e.line == 5
            && matches!(&e.kind, ScriptErrorKind::Duplicate { id, .. } if id == "pharmacy")));
        assert!(errors.iter().any(|e| e.line == 10
            && matches!(&e.kind, ScriptErrorKind::BadField(m) if m.contains("Cardiology"))));
    }
}
