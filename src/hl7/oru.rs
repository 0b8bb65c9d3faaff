//! ORU^R01 (observation result, HL7 v2.5 chapter 7) read into the lab results suifang keeps,
//! sans-IO.
//!
//! Field map: PID-3 MRN (the repetition typed `MR`, else the first); OBR-2/3 placer/filler
//! order number, OBR-4 universal service id (the panel), OBR-7 observation time; per OBX:
//! OBX-2 value type (NM, SN, ST; TX/FT read as ST), OBX-3 code^text^system (and the alternate
//! code in .4-.6; system `LN` is LOINC, anything else a local code), OBX-4 sub-id, OBX-5
//! value, OBX-6 units, OBX-7 reference range, OBX-8 abnormal flags, OBX-11 result status,
//! OBX-14 observation time (else OBR-7).
//!
//! Each OBX is resolved through the [`LabCatalog`]: a code the catalogue does not know is
//! counted and skipped (a panel carries more than suifang follows; the raw message is kept),
//! a value is converted into the lab's unit when the conversion is exact, and a unit with no
//! exact conversion refuses the whole message with an ERR naming that OBX-6 — a value is never
//! stored under the wrong unit. Required fields missing refuse it with an ERR naming the field,
//! as for ADT.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use super::adt::parse_ts;
use super::message::{ErrorCode, Hl7Error, Location, Message, Segment};
use crate::followup::lab::{
    AbnormalFlag, CodeSystem, LabCatalog, LabName, ResultStatus, UnitError,
};

/// How far in the future an observation time may be before it is refused (clock skew between
/// the laboratory and suifang).
const FUTURE_SLACK_MINUTES: i64 = 60;

/// A numeric value's comparator (`<0.01`, SN `>^5000`): the true value is beyond it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparator {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Comparator {
    fn parse(s: &str) -> Option<Comparator> {
        match s {
            "<" => Some(Comparator::Lt),
            "<=" => Some(Comparator::Le),
            ">" => Some(Comparator::Gt),
            ">=" => Some(Comparator::Ge),
            _ => None,
        }
    }

    /// As written before the number.
    pub fn as_str(self) -> &'static str {
        match self {
            Comparator::Lt => "<",
            Comparator::Le => "<=",
            Comparator::Gt => ">",
            Comparator::Ge => ">=",
        }
    }
}

/// What OBX-5 says, in the lab's unit.
#[derive(Debug, Clone, PartialEq)]
pub enum LabValue {
    /// A number in the catalogue's unit, possibly censored (`<0.01`).
    Number {
        value: f64,
        comparator: Option<Comparator>,
    },
    /// A result that is not one number (`positive`, `1:128`, `2-5`): kept, shown, never
    /// compared by rules.
    Text(String),
}

/// One OBX row the catalogue knows.
#[derive(Debug, Clone, PartialEq)]
pub struct LabResult {
    /// Position among the message's OBX segments (1-based), for errors and the record.
    pub obx: usize,
    pub lab: LabName,
    /// OBX-3 as sent: identifier, text, coding system.
    pub code: String,
    pub code_text: String,
    pub code_system: String,
    /// OBX-4.
    pub sub_id: String,
    pub value: LabValue,
    /// The catalogue's unit (the value is in it).
    pub unit: String,
    /// OBX-5 and OBX-6 as sent, for the record.
    pub sent_value: String,
    pub sent_unit: String,
    /// OBX-7 as sent, and its bounds in the catalogue's unit when it reads as numbers.
    pub range_text: String,
    pub range_low: Option<f64>,
    pub range_high: Option<f64>,
    pub flags: Vec<AbnormalFlag>,
    pub status: ResultStatus,
    pub observed_at: DateTime<Utc>,
    /// OBR-3 filler order number, else OBR-2 placer order number.
    pub order_number: String,
    /// OBR-4.1 and .2: the panel.
    pub panel_code: String,
    pub panel_text: String,
}

impl LabResult {
    /// The number rules read, when it is one.
    pub fn number(&self) -> Option<f64> {
        match self.value {
            LabValue::Number { value, .. } => Some(value),
            LabValue::Text(_) => None,
        }
    }
}

/// An ORU^R01 read and resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct LabReport {
    pub mrn: String,
    pub results: Vec<LabResult>,
    /// OBX codes the catalogue does not map (`GLU^...^99LAB`), skipped.
    pub unmapped: Vec<String>,
    /// OBX rows whose status carries no result (X, D, W, I …).
    pub not_results: usize,
}

fn at(code: ErrorCode, segment: &str, sequence: usize, field: usize, why: String) -> Hl7Error {
    Hl7Error {
        code,
        location: Some(Location {
            segment: segment.to_string(),
            sequence,
            field,
        }),
        message: why,
    }
}

/// PID-3: the repetition typed `MR` (medical record number), else the first.
fn mrn(m: &Message, pid: &Segment) -> String {
    let ids = m.repetitions(pid.raw(3));
    ids.iter()
        .find(|r| m.component(r, 5).eq_ignore_ascii_case("MR"))
        .or(ids.first())
        .map(|r| m.component(r, 1).trim().to_string())
        .unwrap_or_default()
}

/// A number as laboratories write it: `6.1`, `+6.1`, ` 6.1 `; finite only.
fn number(s: &str) -> Option<f64> {
    let s = s.trim();
    let s = s.strip_prefix('+').unwrap_or(s);
    if s.is_empty()
        || !s
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '-')
    {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// `<0.01`, `>= 5000`, `6.1`: a comparator and a number, or `None` when it is not one.
fn censored(s: &str) -> Option<(Option<Comparator>, f64)> {
    let s = s.trim();
    for c in ["<=", ">=", "<", ">"] {
        if let Some(rest) = s.strip_prefix(c) {
            return number(rest).map(|v| (Comparator::parse(c), v));
        }
    }
    number(s).map(|v| (None, v))
}

/// OBX-7: `3.5-5.3`, `3.5 - 5.3`, `<5`, `>60`, `<=5`; bounds as sent (not yet converted).
fn range(text: &str) -> (Option<f64>, Option<f64>) {
    let t = text.trim();
    if let Some((c, v)) = censored(t) {
        return match c {
            Some(Comparator::Lt | Comparator::Le) => (None, Some(v)),
            Some(Comparator::Gt | Comparator::Ge) => (Some(v), None),
            None => (None, None),
        };
    }
    // a dash after the first character separates the bounds (a leading one is a sign)
    match t.char_indices().skip(1).find(|(_, c)| *c == '-') {
        Some((i, _)) => match (number(&t[..i]), number(&t[i + 1..])) {
            (Some(lo), Some(hi)) if lo <= hi => (Some(lo), Some(hi)),
            _ => (None, None),
        },
        None => (None, None),
    }
}

/// Reads an ORU^R01 into the results the catalogue maps.
pub fn lab_report(
    m: &Message,
    catalog: &LabCatalog,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<LabReport, Hl7Error> {
    let pid = m.segment("PID", 1).ok_or_else(|| {
        at(
            ErrorCode::SegmentSequence,
            "PID",
            1,
            0,
            "PID segment missing".into(),
        )
    })?;
    let mrn = mrn(m, pid);
    if mrn.is_empty() {
        return Err(at(
            ErrorCode::RequiredFieldMissing,
            "PID",
            1,
            3,
            "PID-3 (MRN) is required".into(),
        ));
    }
    let mut report = LabReport {
        mrn,
        results: Vec::new(),
        unmapped: Vec::new(),
        not_results: 0,
    };
    let mut obr: Option<(usize, &Segment)> = None;
    let (mut obr_n, mut obx_n) = (0, 0);
    for seg in &m.segments {
        match seg.id.as_str() {
            "OBR" => {
                obr_n += 1;
                obr = Some((obr_n, seg));
            }
            "OBX" => {
                obx_n += 1;
                let Some((obr_at, obr_seg)) = obr else {
                    return Err(at(
                        ErrorCode::SegmentSequence,
                        "OBX",
                        obx_n,
                        0,
                        "an OBX must follow the OBR of its order".into(),
                    ));
                };
                if let Some(r) = observation(m, seg, obx_n, obr_seg, obr_at, catalog, tz, now)? {
                    match r {
                        Read::Result(r) => report.results.push(*r),
                        Read::Unmapped(code) => report.unmapped.push(code),
                    }
                } else {
                    report.not_results += 1;
                }
            }
            _ => {}
        }
    }
    if obx_n == 0 {
        return Err(at(
            ErrorCode::SegmentSequence,
            "OBX",
            1,
            0,
            "an ORU^R01 needs at least one OBX (result)".into(),
        ));
    }
    Ok(report)
}

enum Read {
    Result(Box<LabResult>),
    Unmapped(String),
}

#[allow(clippy::too_many_arguments)]
fn observation(
    m: &Message,
    obx: &Segment,
    n: usize,
    obr: &Segment,
    obr_n: usize,
    catalog: &LabCatalog,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<Option<Read>, Hl7Error> {
    let missing = |field: usize, what: &str| {
        at(
            ErrorCode::RequiredFieldMissing,
            "OBX",
            n,
            field,
            format!("OBX-{field} ({what}) is required"),
        )
    };
    let id = obx.raw(3);
    let first = m.repetitions(id).first().copied().unwrap_or("");
    let (code, text, system) = (
        m.component(first, 1).trim().to_string(),
        m.component(first, 2).trim().to_string(),
        m.component(first, 3).trim().to_string(),
    );
    let alternate = (
        m.component(first, 4).trim().to_string(),
        m.component(first, 6).trim().to_string(),
    );
    if code.is_empty() && alternate.0.is_empty() {
        return Err(missing(3, "observation identifier"));
    }
    let lab = catalog
        .find(&code, CodeSystem::of_name(&system))
        .or_else(|| catalog.find(&alternate.0, CodeSystem::of_name(&alternate.1)));
    let Some(lab) = lab else {
        let shown = if code.is_empty() { &alternate.0 } else { &code };
        return Ok(Some(Read::Unmapped(format!("{shown}^{system}"))));
    };
    let status_raw = m.component(obx.raw(11), 1);
    if status_raw.trim().is_empty() {
        return Err(missing(11, "observation result status"));
    }
    let status = ResultStatus::of_obx11(&status_raw)
        .map_err(|why| at(ErrorCode::TableValueNotFound, "OBX", n, 11, why))?;
    let Some(status) = status else {
        return Ok(None);
    };
    // OBX-5 may repeat; one result value is what a numeric lab has
    let raw_value = m.repetitions(obx.raw(5)).first().copied().unwrap_or("");
    let value_type = m.component(obx.raw(2), 1).trim().to_ascii_uppercase();
    let sent_value = match value_type.as_str() {
        "SN" => (1..=4)
            .map(|c| m.component(raw_value, c))
            .collect::<Vec<_>>()
            .concat(),
        _ => m.component(raw_value, 1),
    };
    if sent_value.trim().is_empty() {
        return Err(missing(5, "observation value"));
    }
    let bad_type = |why: String| at(ErrorCode::DataType, "OBX", n, 5, why);
    let value = match value_type.as_str() {
        "NM" => {
            let v = number(&sent_value)
                .ok_or_else(|| bad_type(format!("`{sent_value}` is not a number (OBX-2 NM)")))?;
            LabValue::Number {
                value: v,
                comparator: None,
            }
        }
        "SN" => {
            let comparator = m.component(raw_value, 1);
            let (num1, sep, num2) = (
                m.component(raw_value, 2),
                m.component(raw_value, 3),
                m.component(raw_value, 4),
            );
            if !sep.trim().is_empty() || !num2.trim().is_empty() {
                // a range or a ratio (`1:128`): not one number
                LabValue::Text(format!("{num1}{sep}{num2}"))
            } else {
                let v = number(&num1).ok_or_else(|| {
                    bad_type(format!("`{num1}` is not a number (OBX-2 SN, OBX-5.2)"))
                })?;
                let comparator = match comparator.trim() {
                    "" | "=" => None,
                    c => Some(Comparator::parse(c).ok_or_else(|| {
                        bad_type(format!("SN comparator `{c}` (use <, >, <=, >= or =)"))
                    })?),
                };
                LabValue::Number {
                    value: v,
                    comparator,
                }
            }
        }
        "ST" | "TX" | "FT" | "" => match censored(&sent_value) {
            Some((comparator, value)) => LabValue::Number { value, comparator },
            None => LabValue::Text(sent_value.trim().to_string()),
        },
        other => {
            return Err(at(
                ErrorCode::DataType,
                "OBX",
                n,
                2,
                format!(
                    "value type `{other}` for {} (suifang reads NM, SN, ST)",
                    lab.name
                ),
            ))
        }
    };
    let unit_id = m.component(obx.raw(6), 1);
    let sent_unit = if unit_id.trim().is_empty() {
        m.component(obx.raw(6), 2)
    } else {
        unit_id
    };
    let range_text = m.component(obx.raw(7), 1);
    let (lo, hi) = range(&range_text);
    let (value, factor) = match value {
        LabValue::Number { value, comparator } => {
            let factor = lab.factor(&sent_unit).map_err(|e| {
                let code = match e {
                    UnitError::Missing { .. } => ErrorCode::RequiredFieldMissing,
                    UnitError::Unknown { .. } => ErrorCode::TableValueNotFound,
                };
                at(code, "OBX", n, 6, e.to_string())
            })?;
            (
                LabValue::Number {
                    value: value * factor,
                    comparator,
                },
                Some(factor),
            )
        }
        // a text result has no unit to convert; its range is kept as text only
        text => (text, lab.factor(&sent_unit).ok()),
    };
    let flags = m
        .repetitions(obx.raw(8))
        .into_iter()
        .map(|r| m.component(r, 1))
        .filter(|c| !c.trim().is_empty())
        .map(|c| AbnormalFlag::of_code(&c))
        .collect();
    let time_of = |field: usize, seg: &str, seq: usize, raw: String| {
        parse_ts(&raw, tz).ok_or_else(|| {
            at(
                ErrorCode::DataType,
                seg,
                seq,
                field,
                format!("`{raw}` is not an HL7 timestamp"),
            )
        })
    };
    let obx14 = m.component(obx.raw(14), 1);
    let obr7 = m.component(obr.raw(7), 1);
    let observed_at = if !obx14.trim().is_empty() {
        time_of(14, "OBX", n, obx14)?
    } else if !obr7.trim().is_empty() {
        time_of(7, "OBR", obr_n, obr7)?
    } else {
        return Err(at(
            ErrorCode::RequiredFieldMissing,
            "OBR",
            obr_n,
            7,
            "OBR-7 (observation time) is required when OBX-14 is empty".into(),
        ));
    };
    if observed_at > now + Duration::minutes(FUTURE_SLACK_MINUTES) {
        return Err(at(
            ErrorCode::DataType,
            "OBX",
            n,
            14,
            format!("observation time {observed_at} is in the future"),
        ));
    }
    let order_number = [m.component(obr.raw(3), 1), m.component(obr.raw(2), 1)]
        .into_iter()
        .find(|o| !o.trim().is_empty())
        .unwrap_or_default();
    Ok(Some(Read::Result(Box::new(LabResult {
        obx: n,
        lab: lab.name.clone(),
        code,
        code_text: text,
        code_system: system,
        sub_id: m.component(obx.raw(4), 1),
        value,
        unit: lab.unit.clone(),
        sent_value,
        sent_unit,
        range_text,
        range_low: factor.and_then(|f| lo.map(|v| v * f)),
        range_high: factor.and_then(|f| hi.map(|v| v * f)),
        flags,
        status,
        observed_at,
        order_number,
        panel_code: m.component(obr.raw(4), 1),
        panel_text: m.component(obr.raw(4), 2),
    }))))
}

#[cfg(test)]
#[path = "oru_tests.rs"]
mod tests;
