//! Answer validation: turn what the console sent (JSON) into a typed [`AnswerValue`], or say
//! precisely which question is wrong and why, so the API can answer 422 with `field` = question id.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{OptionId, QuestionId, QuestionKind, Script};

/// A validated answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum AnswerValue {
    /// Yes/no.
    YesNo(bool),
    /// A number within the question's range.
    Number(f64),
    /// Blood pressure in mmHg.
    BloodPressure {
        /// Systolic, mmHg.
        systolic: u16,
        /// Diastolic, mmHg.
        diastolic: u16,
    },
    /// The chosen option.
    Choice(OptionId),
    /// A point on a 0..=max scale.
    Scale(u8),
    /// Free text.
    Text(String),
    /// A calendar date.
    Date(NaiveDate),
}

impl std::fmt::Display for AnswerValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AnswerValue::YesNo(b) => f.write_str(if *b { "yes" } else { "no" }),
            AnswerValue::Number(n) => write!(f, "{n}"),
            AnswerValue::BloodPressure {
                systolic,
                diastolic,
            } => write!(f, "{systolic}/{diastolic} mmHg"),
            AnswerValue::Choice(o) => write!(f, "{o}"),
            AnswerValue::Scale(s) => write!(f, "{s}"),
            AnswerValue::Text(t) => write!(f, "{t:?}"),
            AnswerValue::Date(d) => write!(f, "{d}"),
        }
    }
}

/// Why an answer was refused. Every variant names the question (`question()`), which the API
/// reports as the 422 `field`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnswerError {
    /// The script has no question with this id.
    #[error("`{0}`: no such question in this script")]
    UnknownQuestion(QuestionId),
    /// The JSON value has the wrong shape for the question type.
    #[error("`{question}`: expected {expected}")]
    WrongType {
        /// The question.
        question: QuestionId,
        /// What was expected, in words.
        expected: &'static str,
    },
    /// A number outside the allowed range.
    #[error("`{question}`: {value} is outside {min}..={max}")]
    OutOfRange {
        /// The question.
        question: QuestionId,
        /// The value sent.
        value: f64,
        /// Lowest allowed.
        min: f64,
        /// Highest allowed.
        max: f64,
    },
    /// More decimal places than the question allows.
    #[error("`{question}`: at most {decimals} decimal place(s)")]
    TooPrecise {
        /// The question.
        question: QuestionId,
        /// Allowed decimals.
        decimals: u8,
    },
    /// Not one of the options.
    #[error("`{question}`: '{value}' is not an option")]
    UnknownOption {
        /// The question.
        question: QuestionId,
        /// The value sent.
        value: String,
    },
    /// Text too long or empty.
    #[error("`{question}`: text must be 1..={max_chars} characters")]
    BadText {
        /// The question.
        question: QuestionId,
        /// Allowed length.
        max_chars: usize,
    },
}

impl AnswerError {
    /// The question the error is about (the API's `field`).
    pub fn question(&self) -> &QuestionId {
        match self {
            AnswerError::UnknownQuestion(q)
            | AnswerError::WrongType { question: q, .. }
            | AnswerError::OutOfRange { question: q, .. }
            | AnswerError::TooPrecise { question: q, .. }
            | AnswerError::UnknownOption { question: q, .. }
            | AnswerError::BadText { question: q, .. } => q,
        }
    }
}

/// Physiological bounds for blood pressure; anything outside is a typing error, not a reading.
const SYSTOLIC_RANGE: (f64, f64) = (50.0, 300.0);
const DIASTOLIC_RANGE: (f64, f64) = (20.0, 200.0);

/// Validates one answer by the question's type and range.
///
/// Accepted JSON: yes/no → `true`/`false`; number and scale → a number or a numeric string
/// (what a text field sends); blood pressure → `{"systolic":150,"diastolic":95}` or `"150/95"`;
/// choice → the option id; text → a string; date → `"YYYY-MM-DD"`.
pub fn validate_answer(
    script: &Script,
    question_id: &str,
    value: Value,
) -> Result<AnswerValue, AnswerError> {
    let question = script
        .question(question_id)
        .ok_or_else(|| AnswerError::UnknownQuestion(QuestionId(question_id.to_owned())))?;
    let q = || question.id.clone();
    let wrong = |expected| AnswerError::WrongType {
        question: q(),
        expected,
    };
    match &question.kind {
        QuestionKind::YesNo => value
            .as_bool()
            .map(AnswerValue::YesNo)
            .ok_or_else(|| wrong("true or false")),
        QuestionKind::Number {
            min, max, decimals, ..
        } => {
            let text = number_text(&value).ok_or_else(|| wrong("a number"))?;
            let n: f64 = text.parse().map_err(|_| wrong("a number"))?;
            if !n.is_finite() {
                return Err(wrong("a number"));
            }
            let places = text
                .split_once('.')
                .map_or(0, |(_, frac)| frac.trim_end_matches('0').len());
            if places > usize::from(*decimals) {
                return Err(AnswerError::TooPrecise {
                    question: q(),
                    decimals: *decimals,
                });
            }
            in_range(q(), n, *min, *max)?;
            Ok(AnswerValue::Number(n))
        }
        QuestionKind::Scale { max } => {
            let text = number_text(&value).ok_or_else(|| wrong("a whole number"))?;
            let n: u8 = text.parse().map_err(|_| wrong("a whole number"))?;
            in_range(q(), f64::from(n), 0.0, f64::from(*max))?;
            Ok(AnswerValue::Scale(n))
        }
        QuestionKind::BloodPressure => {
            const EXPECTED: &str = "blood pressure as {\"systolic\":N,\"diastolic\":N} or \"N/N\"";
            let (s, d) = match &value {
                Value::Object(m) => (
                    m.get("systolic").and_then(Value::as_u64),
                    m.get("diastolic").and_then(Value::as_u64),
                ),
                Value::String(t) => match t.trim().split_once('/') {
                    Some((s, d)) => (s.trim().parse().ok(), d.trim().parse().ok()),
                    None => (None, None),
                },
                _ => (None, None),
            };
            let (Some(s), Some(d)) = (s, d) else {
                return Err(wrong(EXPECTED));
            };
            let (s, d) = (s as f64, d as f64);
            in_range(q(), s, SYSTOLIC_RANGE.0, SYSTOLIC_RANGE.1)?;
            in_range(q(), d, DIASTOLIC_RANGE.0, DIASTOLIC_RANGE.1)?;
            if d >= s {
                return Err(wrong("systolic above diastolic"));
            }
            Ok(AnswerValue::BloodPressure {
                systolic: s as u16,
                diastolic: d as u16,
            })
        }
        QuestionKind::Choice { options } => {
            let id = value.as_str().ok_or_else(|| wrong("an option id"))?;
            options
                .iter()
                .find(|o| o.id.0 == id)
                .map(|o| AnswerValue::Choice(o.id.clone()))
                .ok_or_else(|| AnswerError::UnknownOption {
                    question: q(),
                    value: id.to_owned(),
                })
        }
        QuestionKind::Text { max_chars } => {
            let t = value.as_str().ok_or_else(|| wrong("text"))?.trim();
            let n = t.chars().count();
            if n == 0 || n > *max_chars {
                return Err(AnswerError::BadText {
                    question: q(),
                    max_chars: *max_chars,
                });
            }
            Ok(AnswerValue::Text(t.to_owned()))
        }
        QuestionKind::Date => value
            .as_str()
            .and_then(|s| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok())
            .map(AnswerValue::Date)
            .ok_or_else(|| wrong("a date as YYYY-MM-DD")),
    }
}

fn number_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.trim().to_owned()),
        _ => None,
    }
}

fn in_range(question: QuestionId, value: f64, min: f64, max: f64) -> Result<(), AnswerError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(AnswerError::OutOfRange {
            question,
            value,
            min,
            max,
        })
    }
}
