//! Acknowledgements (HL7 v2.5 §2.9): what suifang answers each message with.
//!
//! Original mode: AA when the message was applied, AE when its content is wrong, AR when it is
//! a message suifang does not take at all. Enhanced mode (MSH-15 set): CA once the message is
//! safely stored, CE/CR likewise. MSA-2 echoes the sender's MSH-10; an error carries an ERR
//! segment naming the field, in both the v2.3 (ERR-1) and the v2.5 (ERR-2..4, 8) forms so
//! either kind of interface engine can show it.

use super::header::{AckMode, Header};
use super::message::{escape, parse, Delimiters, Hl7Error};

/// Accepted, error, or rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckCode {
    Accept,
    Error,
    Reject,
}

impl AckCode {
    /// The code for a result: an error whose kind is "we do not take this" rejects.
    pub fn of(result: Result<(), &Hl7Error>) -> AckCode {
        match result {
            Ok(()) => AckCode::Accept,
            Err(e) if e.code.is_rejection() => AckCode::Reject,
            Err(_) => AckCode::Error,
        }
    }

    /// MSA-1 in the sender's mode.
    pub fn msa1(self, mode: AckMode) -> &'static str {
        match (mode, self) {
            (AckMode::Original, AckCode::Accept) => "AA",
            (AckMode::Original, AckCode::Error) => "AE",
            (AckMode::Original, AckCode::Reject) => "AR",
            (AckMode::Enhanced { .. }, AckCode::Accept) => "CA",
            (AckMode::Enhanced { .. }, AckCode::Error) => "CE",
            (AckMode::Enhanced { .. }, AckCode::Reject) => "CR",
        }
    }
}

/// Who we are in replies (MSH-3/4 of an ACK).
#[derive(Debug, Clone)]
pub struct Replier {
    pub application: String,
    pub facility: String,
}

/// The header and delimiters to answer with when a message could not be parsed whole: the
/// first line alone is tried, so a broken PID still gets an ACK that echoes MSH-10.
pub fn reply_context(text: &str) -> (Header, Delimiters) {
    let first = text
        .trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n'])
        .split(['\r', '\n'])
        .next()
        .unwrap_or("");
    match parse(first) {
        Ok(m) => (Header::read(&m), m.delimiters),
        Err(_) => (
            Header {
                sending_application: String::new(),
                sending_facility: String::new(),
                receiving_application: String::new(),
                receiving_facility: String::new(),
                message_type: String::new(),
                trigger: String::new(),
                control_id: String::new(),
                processing_id: String::new(),
                version: String::new(),
                ack_mode: AckMode::Original,
            },
            Delimiters::default(),
        ),
    }
}

/// An ACK for `header`'s message. `ack_id` is this ACK's own MSH-10; `timestamp` is MSH-7
/// (`YYYYMMDDHHMMSS`, hospital time); `msh18` is written when the reply is not UTF-8.
pub fn build(
    header: &Header,
    d: &Delimiters,
    result: Result<(), &Hl7Error>,
    me: &Replier,
    ack_id: &str,
    timestamp: &str,
    msh18: Option<&str>,
) -> String {
    let e = |v: &str| escape(v, d);
    let f = d.field;
    let c = d.component;
    let code = AckCode::of(result).msa1(header.ack_mode);
    let version = if header.version.is_empty() {
        "2.5"
    } else {
        header.version.as_str()
    };
    let mut msh = format!(
        "MSH{f}{enc}{f}{app}{f}{fac}{f}{to_app}{f}{to_fac}{f}{timestamp}{f}{f}ACK{c}{trigger}{c}ACK{f}{ack_id}{f}P{f}{version}",
        enc = d.encoding_characters(),
        app = e(&me.application),
        fac = e(&me.facility),
        to_app = e(&header.sending_application),
        to_fac = e(&header.sending_facility),
        trigger = e(&header.trigger),
        ack_id = e(ack_id),
        version = e(version),
    );
    if let Some(cs) = msh18 {
        // MSH-13..17 empty, MSH-18 the character set
        msh.push_str(&format!("{f}{f}{f}{f}{f}{f}{}", e(cs)));
    }
    let mut out = msh;
    out.push('\r');
    out.push_str(&format!("MSA{f}{code}{f}{}", e(&header.control_id)));
    if let Err(err) = result {
        out.push_str(&format!("{f}{}", e(&err.to_string())));
        out.push('\r');
        out.push_str(&err_segment(err, d));
    }
    out.push('\r');
    out
}

fn err_segment(err: &Hl7Error, d: &Delimiters) -> String {
    let (f, c, s) = (d.field, d.component, d.subcomponent);
    let e = |v: &str| escape(v, d);
    let location = err
        .location
        .as_ref()
        .map(|l| {
            let field = if l.field == 0 {
                String::new()
            } else {
                l.field.to_string()
            };
            format!("{}{c}{}{c}{field}", e(&l.segment), l.sequence)
        })
        .unwrap_or_default();
    let (num, text) = (err.code.code(), err.code.text());
    format!(
        "ERR{f}{location}{c}{c}{num}{s}{text}{s}HL70357{f}{location}{f}{num}{c}{text}{c}HL70357{f}E{f}{f}{f}{f}{}",
        e(&err.message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hl7::message::ErrorCode;

    fn me() -> Replier {
        Replier {
            application: "SUIFANG".into(),
            facility: "HOSP".into(),
        }
    }

    #[test]
    fn an_accepted_message_gets_aa_echoing_its_control_id() {
        let text = "MSH|^~\\&|HIS|HOSP|SUIFANG|HOSP|20261206||ADT^A03|MSG42|P|2.5\rPID|1\r";
        let (h, d) = reply_context(text);
        let ack = build(&h, &d, Ok(()), &me(), "A1", "20261206120000", None);
        assert_eq!(
            ack,
            "MSH|^~\\&|SUIFANG|HOSP|HIS|HOSP|20261206120000||ACK^A03^ACK|A1|P|2.5\rMSA|AA|MSG42\r"
        );
        let back = parse(&ack).unwrap();
        assert_eq!(back.value("MSA", 2, 1), "MSG42");
    }

    #[test]
    fn enhanced_mode_answers_with_commit_codes() {
        let text = "MSH|^~\\&|HIS|HOSP|S|H|1||ADT^A03|7|P|2.5|||AL|NE\r";
        let (h, d) = reply_context(text);
        let ack = build(&h, &d, Ok(()), &me(), "A2", "1", Some("GB 18030-2000"));
        let back = parse(&ack).unwrap();
        assert_eq!(back.value("MSA", 1, 1), "CA");
        assert_eq!(back.value("MSH", 18, 1), "GB 18030-2000");
        let err = Hl7Error::at(ErrorCode::UnsupportedEventCode, "MSH", 9, "no A99");
        let ack = build(&h, &d, Err(&err), &me(), "A3", "1", None);
        assert_eq!(parse(&ack).unwrap().value("MSA", 1, 1), "CR");
    }

    #[test]
    fn an_error_names_the_field_in_both_err_forms() {
        let text = "MSH|^~\\&|HIS|HOSP|S|H|1||ADT^A03|9|P|2.3\rPID|1\r";
        let (h, d) = reply_context(text);
        let err = Hl7Error::at(
            ErrorCode::RequiredFieldMissing,
            "PID",
            3,
            "PID-3 (patient identifier | MRN) is required",
        );
        let ack = build(&h, &d, Err(&err), &me(), "A4", "1", None);
        let back = parse(&ack).unwrap();
        assert_eq!(back.value("MSA", 1, 1), "AE");
        let errs = back.segment("ERR", 1).unwrap();
        // v2.3 ERR-1: PID^1^3^^101&Required field missing&HL70357
        assert_eq!(errs.raw(1), "PID^1^3^^101&Required field missing&HL70357");
        assert_eq!(back.value("ERR", 2, 3), "3");
        assert_eq!(back.value("ERR", 3, 1), "101");
        assert_eq!(back.value("ERR", 4, 1), "E");
        // the `|` in our message is escaped, not a new field
        assert_eq!(
            back.value("ERR", 8, 1),
            "PID-3 (patient identifier | MRN) is required"
        );
    }

    #[test]
    fn a_message_too_broken_to_parse_still_gets_an_ack_with_its_control_id() {
        let text = "MSH|^~\\&|HIS|HOSP|S|H|1||ADT^A03|BROKEN1|P|2.5\rP|x\r";
        let err = parse(text).unwrap_err();
        let (h, d) = reply_context(text);
        let ack = build(&h, &d, Err(&err), &me(), "A5", "1", None);
        let back = parse(&ack).unwrap();
        assert_eq!(back.value("MSA", 1, 1), "AE");
        assert_eq!(back.value("MSA", 2, 1), "BROKEN1");
        // no MSH at all: an ACK with an empty MSA-2 rather than none
        let (h, d) = reply_context("garbage");
        let ack = build(&h, &d, Err(&err), &me(), "A6", "1", None);
        assert!(ack.contains("\rMSA|AE|"), "{ack}");
    }
}
