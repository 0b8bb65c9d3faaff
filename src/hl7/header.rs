//! What MSH says about a message, and which of the events suifang takes it is.

use super::charset::Charset;
use super::message::{ErrorCode, Hl7Error, Message};

/// The versions suifang reads (issue 17: v2.3 to v2.5.1; later 2.x are accepted where the
/// segments it reads did not change).
const VERSIONS: [&str; 8] = ["2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1"];

/// The events suifang acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// ADT^A01 admit / ADT^A04 register: a readmission pauses follow-up.
    Admit,
    /// ADT^A03 discharge: enrol in the matching pathway.
    Discharge,
    /// ADT^A08 update patient information.
    Update,
    /// ADT^A11 cancel admit.
    CancelAdmit,
    /// ADT^A13 cancel discharge.
    CancelDischarge,
    /// ADT^A40 merge patient (MRN).
    Merge,
    /// ORU^R01 observation result (labs).
    LabResult,
}

impl Event {
    fn of(message_type: &str, trigger: &str) -> Result<Event, Hl7Error> {
        let at = |code, field, why: String| Hl7Error::at(code, "MSH", field, why);
        match (message_type, trigger) {
            ("ADT", "A01" | "A04") => Ok(Event::Admit),
            ("ADT", "A03") => Ok(Event::Discharge),
            ("ADT", "A08") => Ok(Event::Update),
            ("ADT", "A11") => Ok(Event::CancelAdmit),
            ("ADT", "A13") => Ok(Event::CancelDischarge),
            ("ADT", "A40") => Ok(Event::Merge),
            ("ORU", "R01") => Ok(Event::LabResult),
            ("ADT" | "ORU", t) => Err(at(
                ErrorCode::UnsupportedEventCode,
                9,
                format!("event {message_type}^{t} is not one suifang takes"),
            )),
            (m, _) => Err(at(
                ErrorCode::UnsupportedMessageType,
                9,
                format!("message type `{m}` is not one suifang takes (ADT, ORU)"),
            )),
        }
    }
}

/// How the sender wants to be acknowledged (HL7 v2.5 §2.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckMode {
    /// MSH-15 and MSH-16 empty: one application ACK (AA/AE/AR).
    Original,
    /// MSH-15 set: a commit ACK (CA/CE/CR) when the message is safely stored, unless MSH-15
    /// says NE (never) or ER (only on error).
    Enhanced { accept: AckCondition },
}

impl AckMode {
    /// Whether an acknowledgement goes back at all: always in original mode; in enhanced mode
    /// as MSH-15 (accept acknowledgement type) says (`NE` never, `ER` only on error, `SU` only
    /// on success).
    pub fn sends_ack(self, success: bool) -> bool {
        match self {
            AckMode::Original => true,
            AckMode::Enhanced { accept } => accept.wants(success),
        }
    }
}

/// MSH-15/16 values (HL7 table 0155).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckCondition {
    Always,
    Never,
    ErrorOnly,
    SuccessOnly,
}

impl AckCondition {
    fn parse(v: &str) -> Option<AckCondition> {
        match v {
            "AL" => Some(AckCondition::Always),
            "NE" => Some(AckCondition::Never),
            "ER" => Some(AckCondition::ErrorOnly),
            "SU" => Some(AckCondition::SuccessOnly),
            _ => None,
        }
    }

    /// Whether an acknowledgement is sent for this result.
    pub fn wants(self, success: bool) -> bool {
        match self {
            AckCondition::Always => true,
            AckCondition::Never => false,
            AckCondition::ErrorOnly => !success,
            AckCondition::SuccessOnly => success,
        }
    }
}

/// The header fields suifang uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub sending_application: String,
    pub sending_facility: String,
    pub receiving_application: String,
    pub receiving_facility: String,
    /// MSH-9.1 and .2, e.g. `ADT` and `A03`.
    pub message_type: String,
    pub trigger: String,
    /// MSH-10: the sender's id for this message; the ACK echoes it in MSA-2, and it is the
    /// de-duplication key (with the sending application and facility).
    pub control_id: String,
    /// MSH-11.1: P production, T training, D debugging.
    pub processing_id: String,
    pub version: String,
    pub ack_mode: AckMode,
}

impl Header {
    /// Reads MSH without judging it: what an ACK needs even for a message that is refused.
    pub fn read(m: &Message) -> Header {
        let v = |f, c| m.value("MSH", f, c);
        let accept = v(15, 1);
        Header {
            sending_application: v(3, 1),
            sending_facility: v(4, 1),
            receiving_application: v(5, 1),
            receiving_facility: v(6, 1),
            message_type: v(9, 1),
            trigger: v(9, 2),
            control_id: v(10, 1),
            processing_id: v(11, 1),
            version: v(12, 1),
            ack_mode: match AckCondition::parse(&accept) {
                Some(accept) => AckMode::Enhanced { accept },
                None => AckMode::Original,
            },
        }
    }

    /// Checks what must hold before the message is acted on, and names the event.
    pub fn event(&self) -> Result<Event, Hl7Error> {
        let missing = |field, name: &str| {
            Hl7Error::at(
                ErrorCode::RequiredFieldMissing,
                "MSH",
                field,
                format!("MSH-{field} ({name}) is required"),
            )
        };
        if self.message_type.is_empty() {
            return Err(missing(9, "message type"));
        }
        if self.control_id.is_empty() {
            return Err(missing(10, "message control id"));
        }
        if self.processing_id.is_empty() {
            return Err(missing(11, "processing id"));
        }
        if !matches!(self.processing_id.as_str(), "P" | "T" | "D") {
            return Err(Hl7Error::at(
                ErrorCode::UnsupportedProcessingId,
                "MSH",
                11,
                format!("processing id `{}` (use P, T or D)", self.processing_id),
            ));
        }
        if self.version.is_empty() {
            return Err(missing(12, "version id"));
        }
        if !VERSIONS.contains(&self.version.as_str()) {
            return Err(Hl7Error::at(
                ErrorCode::UnsupportedVersion,
                "MSH",
                12,
                format!(
                    "version {} (suifang reads {})",
                    self.version,
                    VERSIONS.join(", ")
                ),
            ));
        }
        Event::of(&self.message_type, &self.trigger)
    }
}

/// MSH-18 of a parsed message, for the reply (the decoded text no longer says which bytes it
/// came in).
pub fn declared_charset(m: &Message) -> Option<Charset> {
    Charset::from_msh18(&m.value("MSH", 18, 1)).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hl7::message::parse;

    fn header(msh: &str) -> Header {
        Header::read(&parse(msh).unwrap())
    }

    #[test]
    fn the_events_suifang_takes_are_named() {
        for (t, want) in [
            ("ADT^A01", Event::Admit),
            ("ADT^A04", Event::Admit),
            ("ADT^A03^ADT_A03", Event::Discharge),
            ("ADT^A08", Event::Update),
            ("ADT^A11", Event::CancelAdmit),
            ("ADT^A13", Event::CancelDischarge),
            ("ADT^A40^ADT_A39", Event::Merge),
            ("ORU^R01^ORU_R01", Event::LabResult),
        ] {
            let h = header(&format!("MSH|^~\\&|HIS|H|S|H|20261206||{t}|42|P|2.5\r"));
            assert_eq!(h.event(), Ok(want), "{t}");
            assert_eq!(h.control_id, "42");
        }
    }

    #[test]
    fn refusals_name_the_field_and_the_table_0357_code() {
        for (msh, code, field) in [
            (
                "MSH|^~\\&|A|B|C|D|1||SIU^S12|1|P|2.5",
                ErrorCode::UnsupportedMessageType,
                9,
            ),
            (
                "MSH|^~\\&|A|B|C|D|1||ADT^A99|1|P|2.5",
                ErrorCode::UnsupportedEventCode,
                9,
            ),
            (
                "MSH|^~\\&|A|B|C|D|1||ADT^A03||P|2.5",
                ErrorCode::RequiredFieldMissing,
                10,
            ),
            (
                "MSH|^~\\&|A|B|C|D|1||ADT^A03|1|X|2.5",
                ErrorCode::UnsupportedProcessingId,
                11,
            ),
            (
                "MSH|^~\\&|A|B|C|D|1||ADT^A03|1|P|3.0",
                ErrorCode::UnsupportedVersion,
                12,
            ),
            (
                "MSH|^~\\&|A|B|C|D|1||ADT^A03|1|P",
                ErrorCode::RequiredFieldMissing,
                12,
            ),
            (
                "MSH|^~\\&|A|B|C|D|1|||1|P|2.5",
                ErrorCode::RequiredFieldMissing,
                9,
            ),
        ] {
            let e = header(msh).event().unwrap_err();
            assert_eq!(e.code, code, "{msh}");
            assert_eq!(e.location.map(|l| l.field), Some(field), "{msh}");
        }
    }

    #[test]
    fn msh15_chooses_the_acknowledgement_mode() {
        let h = header("MSH|^~\\&|A|B|C|D|1||ADT^A03|1|P|2.5|||AL|NE");
        assert_eq!(
            h.ack_mode,
            AckMode::Enhanced {
                accept: AckCondition::Always
            }
        );
        let h = header("MSH|^~\\&|A|B|C|D|1||ADT^A03|1|P|2.5");
        assert_eq!(h.ack_mode, AckMode::Original);
        assert!(AckCondition::ErrorOnly.wants(false) && !AckCondition::ErrorOnly.wants(true));
        let never = header("MSH|^~\\&|A|B|C|D|1||ADT^A03|1|P|2.5|||NE|NE").ack_mode;
        assert!(!never.sends_ack(true) && !never.sends_ack(false));
        let on_error = header("MSH|^~\\&|A|B|C|D|1||ADT^A03|1|P|2.5|||ER").ack_mode;
        assert!(on_error.sends_ack(false) && !on_error.sends_ack(true));
        assert!(AckMode::Original.sends_ack(true) && AckMode::Original.sends_ack(false));
    }
}
