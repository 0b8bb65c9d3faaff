//! Results back to the EMR (issue 17 item 5): a completed follow-up as an ORU^R01 (one OBX per
//! answer, OBX-8 from the escalations it opened, NTE for the notes) or as an MDM^T02 carrying a
//! readable summary. Sans-IO: plain values in, the message text out.
//!
//! HL7 v2.5 §7.3.1 (ORU^R01: MSH PID PV1 OBR {NTE} {OBX}) and §9.6.2 (MDM^T02: MSH EVN PID PV1
//! TXA {OBX}). Sent in original acknowledgement mode (MSH-15/16 empty), so the EMR answers with
//! an application ACK (AA/AE/AR), and as UTF-8 (MSH-18 `UNICODE UTF-8`): names are Chinese.

use chrono::{DateTime, NaiveDate, Utc};

use super::message::{escape, Delimiters};
use crate::followup::script::AnswerValue;

/// Which message a completed follow-up becomes (`[hl7.results] message`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultMessage {
    /// ORU^R01: one OBX per answer, machine-readable.
    Observations,
    /// MDM^T02: a document (the call's summary as text lines).
    Document,
}

impl ResultMessage {
    /// MSH-9.1^9.2 as stored in the outbox.
    pub fn message_type(self) -> &'static str {
        match self {
            ResultMessage::Observations => "ORU^R01",
            ResultMessage::Document => "MDM^T02",
        }
    }

    /// The config spelling: `oru` or `mdm`.
    pub fn parse(config: &str) -> Option<ResultMessage> {
        match config.trim().to_ascii_lowercase().as_str() {
            "oru" | "oru^r01" => Some(ResultMessage::Observations),
            "mdm" | "mdm^t02" => Some(ResultMessage::Document),
            _ => None,
        }
    }
}

/// OBX-8 (HL7 table 0078) for an answer that made a rule fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AbnormalFlag {
    /// `A`: abnormal (a routine or same-day escalation).
    Abnormal,
    /// `AA`: critically abnormal (an urgent or emergency escalation).
    Critical,
}

impl AbnormalFlag {
    pub fn code(self) -> &'static str {
        match self {
            AbnormalFlag::Abnormal => "A",
            AbnormalFlag::Critical => "AA",
        }
    }
}

/// The patient as the EMR knows them.
#[derive(Debug, Clone)]
pub struct ResultPatient {
    pub mrn: String,
    pub name: String,
    pub birth_date: Option<NaiveDate>,
    /// `F`, `M` or `U`.
    pub sex: Option<String>,
}

/// One answer of the follow-up.
#[derive(Debug, Clone)]
pub struct ResultAnswer {
    pub question_id: String,
    /// The question as the script words it (English), OBX-3.2.
    pub question: String,
    pub value: AnswerValue,
    /// The question's unit (OBX-6), for numbers.
    pub unit: Option<String>,
    pub flag: Option<AbnormalFlag>,
    pub answered_at: DateTime<Utc>,
}

/// A note written on the task.
#[derive(Debug, Clone)]
pub struct ResultNote {
    pub body: String,
    pub at: DateTime<Utc>,
}

/// A completed follow-up task, everything the message says.
#[derive(Debug, Clone)]
pub struct FollowUpResult {
    pub task_id: i64,
    pub step_name: String,
    pub script_code: Option<String>,
    pub patient: ResultPatient,
    /// PV1-19 of the discharge the follow-up belongs to.
    pub visit_number: Option<String>,
    pub completed_at: DateTime<Utc>,
    pub answers: Vec<ResultAnswer>,
    pub notes: Vec<ResultNote>,
}

/// MSH-3..6 of the messages suifang sends.
#[derive(Debug, Clone)]
pub struct Addressing {
    pub application: String,
    pub facility: String,
    pub receiving_application: String,
    pub receiving_facility: String,
}

/// An HL7 DTM in UTC with its offset, so the EMR's zone does not matter.
fn dtm(t: DateTime<Utc>) -> String {
    format!("{}+0000", t.format("%Y%m%d%H%M%S"))
}

/// OBX-2, OBX-5 and OBX-6 of an answer (escaped).
fn observation_value(a: &ResultAnswer, d: &Delimiters) -> (&'static str, String, String) {
    let e = |v: &str| escape(v, d);
    let c = d.component;
    let unit = a.unit.as_deref().map(e).unwrap_or_default();
    match &a.value {
        AnswerValue::YesNo(yes) => {
            let (code, text) = if *yes { ("Y", "Yes") } else { ("N", "No") };
            ("CWE", format!("{code}{c}{text}{c}HL70136"), String::new())
        }
        AnswerValue::Number(n) => ("NM", n.to_string(), unit),
        AnswerValue::Scale(s) => ("NM", s.to_string(), unit),
        AnswerValue::BloodPressure {
            systolic,
            diastolic,
        } => ("ST", format!("{systolic}/{diastolic}"), "mm[Hg]".into()),
        AnswerValue::Choice(o) => {
            let o = e(&o.to_string());
            ("CWE", format!("{o}{c}{o}{c}L"), String::new())
        }
        AnswerValue::Text(t) => ("TX", e(t), String::new()),
        AnswerValue::Date(day) => ("DT", day.format("%Y%m%d").to_string(), String::new()),
    }
}

/// An answer as one line of the summary.
fn summary_line(a: &ResultAnswer) -> String {
    let value = match &a.value {
        AnswerValue::Text(t) => t.clone(),
        other => other.to_string(),
    };
    let unit = match (&a.value, &a.unit) {
        (AnswerValue::Number(_), Some(u)) => format!(" {u}"),
        _ => String::new(),
    };
    let flag = match a.flag {
        Some(AbnormalFlag::Critical) => " [critical]",
        Some(AbnormalFlag::Abnormal) => " [abnormal]",
        None => "",
    };
    format!("{}: {value}{unit}{flag}", a.question)
}

/// The summary an MDM^T02 carries, one line per OBX.
pub fn summary(r: &FollowUpResult) -> Vec<String> {
    let mut lines = vec![format!(
        "Follow-up \"{}\" completed {}",
        r.step_name,
        r.completed_at.format("%Y-%m-%d %H:%M UTC")
    )];
    lines.extend(r.answers.iter().map(summary_line));
    lines.extend(r.notes.iter().map(|n| format!("Note: {}", n.body)));
    lines
}

/// The message for a completed follow-up. `control_id` is MSH-10 (the sender matches the ACK's
/// MSA-2 against it); `now` is MSH-7.
pub fn build(
    r: &FollowUpResult,
    kind: ResultMessage,
    from: &Addressing,
    control_id: &str,
    now: DateTime<Utc>,
) -> String {
    let d = Delimiters::default();
    let e = |v: &str| escape(v, &d);
    let trigger = match kind {
        ResultMessage::Observations => "ORU^R01^ORU_R01",
        ResultMessage::Document => "MDM^T02^MDM_T02",
    };
    let mut segments = vec![format!(
        "MSH|^~\\&|{}|{}|{}|{}|{}||{trigger}|{}|P|2.5||||||UNICODE UTF-8",
        e(&from.application),
        e(&from.facility),
        e(&from.receiving_application),
        e(&from.receiving_facility),
        dtm(now),
        e(control_id),
    )];
    if kind == ResultMessage::Document {
        segments.push(format!("EVN|T02|{}", dtm(now)));
    }
    let p = &r.patient;
    segments.push(format!(
        "PID|1||{}^^^^MR||{}||{}|{}",
        e(&p.mrn),
        e(&p.name),
        p.birth_date
            .map(|b| b.format("%Y%m%d").to_string())
            .unwrap_or_default(),
        p.sex.as_deref().map(e).unwrap_or_default(),
    ));
    let mut pv1 = vec![String::new(); 20];
    pv1[0] = "PV1".into();
    pv1[1] = "1".into();
    pv1[2] = "O".into();
    pv1[19] = r.visit_number.as_deref().map(e).unwrap_or_default();
    segments.push(pv1.join("|"));
    let service = format!("FOLLOWUP{c}{}{c}L", e(&r.step_name), c = d.component);
    match kind {
        ResultMessage::Observations => {
            // OBR-2 placer = the task; OBR-7 = when the follow-up was completed; OBR-25 final
            let mut obr = vec![String::new(); 26];
            obr[0] = "OBR".into();
            obr[1] = "1".into();
            obr[2] = format!("T{}", r.task_id);
            obr[4] = service;
            obr[7] = dtm(r.completed_at);
            obr[25] = "F".into();
            segments.push(obr.join("|"));
            for (i, n) in r.notes.iter().enumerate() {
                segments.push(format!("NTE|{}|L|{}", i + 1, e(&n.body)));
            }
            for (i, a) in r.answers.iter().enumerate() {
                let (value_type, value, unit) = observation_value(a, &d);
                segments.push(format!(
                    "OBX|{}|{value_type}|{}^{}^L||{value}|{unit}||{}|||F|||{}",
                    i + 1,
                    e(&a.question_id),
                    e(&a.question),
                    a.flag.map(AbnormalFlag::code).unwrap_or(""),
                    dtm(a.answered_at),
                ));
            }
        }
        ResultMessage::Document => {
            // TXA-2 type, -3 presentation (TX), -4 activity time, -12 unique document number,
            // -17 completion status (AU: authenticated by the nurse who completed it)
            let mut txa = vec![String::new(); 18];
            txa[0] = "TXA".into();
            txa[1] = "1".into();
            txa[2] = service;
            txa[3] = "TX".into();
            txa[4] = dtm(r.completed_at);
            txa[12] = format!("SUIFANG-T{}", r.task_id);
            txa[17] = "AU".into();
            segments.push(txa.join("|"));
            for (i, line) in summary(r).iter().enumerate() {
                segments.push(format!(
                    "OBX|{}|TX|SUMMARY^Follow-up summary^L||{}||||||F",
                    i + 1,
                    e(line)
                ));
            }
        }
    }
    let mut out = segments.join("\r");
    out.push('\r');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::followup::script::OptionId;
    use crate::hl7::message::parse;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, h, 30, 0).unwrap()
    }

    fn result() -> FollowUpResult {
        FollowUpResult {
            task_id: 42,
            step_name: "Day 2 call".into(),
            script_code: Some("heart-failure".into()),
            patient: ResultPatient {
                mrn: "MRN|7".into(),
                name: "张三丰".into(),
                birth_date: NaiveDate::from_ymd_opt(1948, 3, 3),
                sex: Some("M".into()),
            },
            visit_number: Some("V-7".into()),
            completed_at: at(9),
            answers: vec![
                ResultAnswer {
                    question_id: "weight_kg".into(),
                    question: "Weight today".into(),
                    value: AnswerValue::Number(72.5),
                    unit: Some("kg".into()),
                    flag: Some(AbnormalFlag::Abnormal),
                    answered_at: at(8),
                },
                ResultAnswer {
                    question_id: "chest_pain".into(),
                    question: "Chest pain?".into(),
                    value: AnswerValue::YesNo(true),
                    unit: None,
                    flag: Some(AbnormalFlag::Critical),
                    answered_at: at(8),
                },
                ResultAnswer {
                    question_id: "breath".into(),
                    question: "Breathing".into(),
                    value: AnswerValue::Choice(OptionId("worse".into())),
                    unit: None,
                    flag: None,
                    answered_at: at(8),
                },
                ResultAnswer {
                    question_id: "bp".into(),
                    question: "Blood pressure".into(),
                    value: AnswerValue::BloodPressure {
                        systolic: 150,
                        diastolic: 95,
                    },
                    unit: None,
                    flag: None,
                    answered_at: at(8),
                },
            ],
            notes: vec![ResultNote {
                body: "Daughter says: ankles swollen^since Sunday".into(),
                at: at(9),
            }],
        }
    }

    fn me() -> Addressing {
        Addressing {
            application: "SUIFANG".into(),
            facility: "HOSP".into(),
            receiving_application: "EMR".into(),
            receiving_facility: "HOSP".into(),
        }
    }

    #[test]
    fn an_oru_has_one_obx_per_answer_with_flags_and_the_notes_as_nte() {
        let text = build(
            &result(),
            ResultMessage::Observations,
            &me(),
            "SFR1",
            at(10),
        );
        let m = parse(&text).expect("our own message parses");
        assert_eq!(m.value("MSH", 9, 1), "ORU");
        assert_eq!(m.value("MSH", 9, 2), "R01");
        assert_eq!(m.value("MSH", 10, 1), "SFR1");
        assert_eq!(m.value("MSH", 18, 1), "UNICODE UTF-8");
        // the `|` in the MRN is escaped, not a new field
        assert_eq!(m.value("PID", 3, 1), "MRN|7");
        assert_eq!(m.value("PID", 5, 1), "张三丰");
        assert_eq!(m.value("PID", 7, 1), "19480303");
        assert_eq!(m.value("PV1", 19, 1), "V-7");
        assert_eq!(m.value("OBR", 2, 1), "T42");
        assert_eq!(m.value("OBR", 7, 1), "20261207093000+0000");
        let obx: Vec<_> = m.all("OBX").collect();
        assert_eq!(obx.len(), 4);
        assert_eq!(obx[0].raw(2), "NM");
        assert_eq!(obx[0].raw(3), "weight_kg^Weight today^L");
        assert_eq!(obx[0].raw(5), "72.5");
        assert_eq!(obx[0].raw(6), "kg");
        assert_eq!(obx[0].raw(8), "A");
        assert_eq!(obx[0].raw(11), "F");
        assert_eq!(obx[1].raw(5), "Y^Yes^HL70136");
        assert_eq!(obx[1].raw(8), "AA");
        assert_eq!(obx[2].raw(5), "worse^worse^L");
        assert_eq!(obx[2].raw(8), "");
        assert_eq!(obx[3].raw(5), "150/95");
        assert_eq!(
            m.value("NTE", 3, 1),
            "Daughter says: ankles swollen^since Sunday"
        );
        // NTE comes after OBR and before the first OBX (the order-level note group)
        let ids: Vec<_> = text.split('\r').map(|s| s.get(..3).unwrap_or("")).collect();
        assert_eq!(
            ids,
            ["MSH", "PID", "PV1", "OBR", "NTE", "OBX", "OBX", "OBX", "OBX", ""]
        );
    }

    #[test]
    fn an_mdm_carries_the_summary_as_text_lines() {
        let text = build(&result(), ResultMessage::Document, &me(), "SFR2", at(10));
        let m = parse(&text).unwrap();
        assert_eq!(m.value("MSH", 9, 1), "MDM");
        assert_eq!(m.value("MSH", 9, 2), "T02");
        assert_eq!(m.value("EVN", 1, 1), "T02");
        assert_eq!(m.value("TXA", 3, 1), "TX");
        assert_eq!(m.value("TXA", 12, 1), "SUIFANG-T42");
        let lines: Vec<String> = m
            .all("OBX")
            .map(|s| crate::hl7::message::unescape(s.raw(5), &m.delimiters))
            .collect();
        assert_eq!(
            lines,
            [
                "Follow-up \"Day 2 call\" completed 2026-12-07 09:30 UTC",
                "Weight today: 72.5 kg [abnormal]",
                "Chest pain?: yes [critical]",
                "Breathing: worse",
                "Blood pressure: 150/95 mmHg",
                "Note: Daughter says: ankles swollen^since Sunday",
            ]
        );
    }

    #[test]
    fn the_configured_name_picks_the_message() {
        assert_eq!(
            ResultMessage::parse("ORU"),
            Some(ResultMessage::Observations)
        );
        assert_eq!(
            ResultMessage::parse("mdm^t02"),
            Some(ResultMessage::Document)
        );
        assert_eq!(ResultMessage::parse("pdf"), None);
    }
}
