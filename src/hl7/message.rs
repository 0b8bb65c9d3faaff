//! HL7 v2 message structure: segments, fields, repetitions, components, escapes.
//!
//! Lenient where real feeds are sloppy: segment terminators `\r`, `\n` or `\r\n`, blank lines,
//! trailing empty fields, missing trailing components, a byte-order mark or whitespace before
//! `MSH`, Z-segments (kept, and ignored by the code that reads known segments). Strict where it
//! matters: the message starts with MSH, the delimiters are usable, every segment has a
//! three-character id. Values are kept escaped as received; [`unescape`] decodes one value when
//! it is read, so a `|` written as `\F\` never splits a field.

use std::fmt;

use thiserror::Error;

/// The delimiters a message declares in MSH-1 and MSH-2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delimiters {
    pub field: char,
    pub component: char,
    pub repetition: char,
    /// `None` when MSH-2 declares no escape character (escapes are then literal text).
    pub escape: Option<char>,
    pub subcomponent: char,
}

impl Default for Delimiters {
    fn default() -> Self {
        Delimiters {
            field: '|',
            component: '^',
            repetition: '~',
            escape: Some('\\'),
            subcomponent: '&',
        }
    }
}

impl Delimiters {
    /// MSH-2 as written in a reply.
    pub fn encoding_characters(&self) -> String {
        let mut s = String::new();
        s.push(self.component);
        s.push(self.repetition);
        if let Some(e) = self.escape {
            s.push(e);
        }
        s.push(self.subcomponent);
        s
    }
}

/// HL7 table 0357: the message error condition codes an ACK's ERR segment carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    SegmentSequence,
    RequiredFieldMissing,
    DataType,
    TableValueNotFound,
    UnsupportedMessageType,
    UnsupportedEventCode,
    UnsupportedProcessingId,
    UnsupportedVersion,
    UnknownKey,
    DuplicateKey,
    ApplicationInternal,
}

impl ErrorCode {
    pub fn code(self) -> u16 {
        match self {
            ErrorCode::SegmentSequence => 100,
            ErrorCode::RequiredFieldMissing => 101,
            ErrorCode::DataType => 102,
            ErrorCode::TableValueNotFound => 103,
            ErrorCode::UnsupportedMessageType => 200,
            ErrorCode::UnsupportedEventCode => 201,
            ErrorCode::UnsupportedProcessingId => 202,
            ErrorCode::UnsupportedVersion => 203,
            ErrorCode::UnknownKey => 204,
            ErrorCode::DuplicateKey => 205,
            ErrorCode::ApplicationInternal => 207,
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            ErrorCode::SegmentSequence => "Segment sequence error",
            ErrorCode::RequiredFieldMissing => "Required field missing",
            ErrorCode::DataType => "Data type error",
            ErrorCode::TableValueNotFound => "Table value not found",
            ErrorCode::UnsupportedMessageType => "Unsupported message type",
            ErrorCode::UnsupportedEventCode => "Unsupported event code",
            ErrorCode::UnsupportedProcessingId => "Unsupported processing id",
            ErrorCode::UnsupportedVersion => "Unsupported version id",
            ErrorCode::UnknownKey => "Unknown key identifier",
            ErrorCode::DuplicateKey => "Duplicate key identifier",
            ErrorCode::ApplicationInternal => "Application internal error",
        }
    }

    /// Whether the sender should not send the same message again unchanged (AR/CR) rather
    /// than it being an error in its content (AE/CE).
    pub fn is_rejection(self) -> bool {
        matches!(
            self,
            ErrorCode::UnsupportedMessageType
                | ErrorCode::UnsupportedEventCode
                | ErrorCode::UnsupportedProcessingId
                | ErrorCode::UnsupportedVersion
        )
    }
}

/// Where in the message an error is: segment id, its 1-based position among segments with
/// that id, and the field number (0 = the segment as a whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub segment: String,
    pub sequence: usize,
    pub field: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field == 0 {
            write!(f, "{}", self.segment)
        } else {
            write!(f, "{}-{}", self.segment, self.field)
        }
    }
}

/// A message that cannot be taken, with what its ACK must say.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}{message}", location.as_ref().map(|l| format!("{l}: ")).unwrap_or_default())]
pub struct Hl7Error {
    pub code: ErrorCode,
    pub location: Option<Location>,
    pub message: String,
}

impl Hl7Error {
    pub fn at(code: ErrorCode, segment: &str, field: usize, message: impl Into<String>) -> Self {
        Hl7Error {
            code,
            location: Some(Location {
                segment: segment.to_string(),
                sequence: 1,
                field,
            }),
            message: message.into(),
        }
    }
}

/// One segment: its id and its fields, numbered as HL7 numbers them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub id: String,
    /// `fields[n]` is field n (still escaped); `fields[0]` is the id. For MSH, `fields[1]` is
    /// the field separator and `fields[2]` the encoding characters, as the standard counts.
    fields: Vec<String>,
}

impl Segment {
    /// Field `n` as received (escaped), or "" when absent.
    pub fn raw(&self, n: usize) -> &str {
        self.fields.get(n).map(String::as_str).unwrap_or("")
    }

    /// Number of the last field present.
    pub fn last_field(&self) -> usize {
        self.fields.len().saturating_sub(1)
    }
}

/// A parsed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub delimiters: Delimiters,
    pub segments: Vec<Segment>,
}

/// Parses decoded message text.
pub fn parse(text: &str) -> Result<Message, Hl7Error> {
    let text = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if !text.starts_with("MSH") {
        return Err(Hl7Error {
            code: ErrorCode::SegmentSequence,
            location: Some(Location {
                segment: "MSH".into(),
                sequence: 1,
                field: 0,
            }),
            message: "the message does not start with an MSH segment".into(),
        });
    }
    let delimiters = delimiters(text)?;
    let mut segments = Vec::new();
    for (i, line) in text
        .split(['\r', '\n'])
        .filter(|l| !l.trim().is_empty())
        .enumerate()
    {
        let id: String = line.chars().take(3).collect();
        let well_formed = id.chars().count() == 3
            && id
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            && line[id.len()..]
                .chars()
                .next()
                .is_none_or(|c| c == delimiters.field);
        if !well_formed {
            return Err(Hl7Error {
                code: ErrorCode::SegmentSequence,
                location: None,
                message: format!(
                    "segment {} has no valid three-character id (`{}`)",
                    i + 1,
                    line.chars().take(12).collect::<String>()
                ),
            });
        }
        let mut fields: Vec<String> = line.split(delimiters.field).map(str::to_string).collect();
        if id == "MSH" {
            // MSH-1 is the separator itself: the split swallowed it
            fields.insert(1, delimiters.field.to_string());
        }
        segments.push(Segment { id, fields });
    }
    Ok(Message {
        delimiters,
        segments,
    })
}

fn delimiters(text: &str) -> Result<Delimiters, Hl7Error> {
    let mut chars = text.chars().skip(3);
    let bad = |why: &str| Hl7Error::at(ErrorCode::DataType, "MSH", 2, why.to_string());
    let field = chars
        .next()
        .ok_or_else(|| bad("no field separator after MSH"))?;
    let encoding: String = chars.take_while(|&c| c != field).collect();
    let enc: Vec<char> = encoding.chars().collect();
    if enc.len() < 2 || enc.len() > 5 {
        return Err(bad("MSH-2 must hold 2 to 5 encoding characters"));
    }
    let d = Delimiters {
        field,
        component: enc[0],
        repetition: enc[1],
        escape: enc
            .get(2)
            .copied()
            .filter(|_| enc.len() >= 4 || enc[2] == '\\'),
        subcomponent: if enc.len() >= 4 {
            enc[3]
        } else {
            enc.get(2).copied().filter(|&c| c != '\\').unwrap_or('&')
        },
    };
    let all = [
        Some(d.field),
        Some(d.component),
        Some(d.repetition),
        d.escape,
        Some(d.subcomponent),
    ];
    let all: Vec<char> = all.into_iter().flatten().collect();
    let distinct = all.iter().enumerate().all(|(i, c)| !all[..i].contains(c));
    if !distinct || all.iter().any(|c| c.is_alphanumeric() || c.is_whitespace()) {
        return Err(bad("the delimiters must be distinct punctuation"));
    }
    Ok(d)
}

impl Message {
    /// The `n`th (1-based) segment with this id.
    pub fn segment(&self, id: &str, n: usize) -> Option<&Segment> {
        self.segments
            .iter()
            .filter(|s| s.id == id)
            .nth(n.checked_sub(1)?)
    }

    /// All segments with this id, in order.
    pub fn all<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Segment> + 'a {
        self.segments.iter().filter(move |s| s.id == id)
    }

    /// The repetitions of a raw field.
    pub fn repetitions<'a>(&self, raw: &'a str) -> Vec<&'a str> {
        if raw.is_empty() {
            return Vec::new();
        }
        raw.split(self.delimiters.repetition).collect()
    }

    /// Component `c` (1-based) of one repetition, unescaped; "" when absent.
    pub fn component(&self, repetition: &str, c: usize) -> String {
        let raw = repetition
            .split(self.delimiters.component)
            .nth(c.saturating_sub(1))
            .unwrap_or("");
        // the first subcomponent stands for the component where one value is wanted
        let raw = raw.split(self.delimiters.subcomponent).next().unwrap_or("");
        unescape(raw, &self.delimiters)
    }

    /// `SEG-field.component` of the first segment and first repetition, unescaped.
    pub fn value(&self, segment: &str, field: usize, component: usize) -> String {
        let Some(seg) = self.segment(segment, 1) else {
            return String::new();
        };
        let first = self
            .repetitions(seg.raw(field))
            .first()
            .copied()
            .unwrap_or("");
        self.component(first, component)
    }
}

/// Decodes HL7 escape sequences (v2.5 §2.7): `\F\ \S\ \T\ \R\ \E\`, `\Xhh…\` (bytes, read as
/// UTF-8 when they are, else one character per byte), `\.br\` as a line break; highlighting
/// (`\H\ \N\`) and other formatting commands are dropped; an unterminated escape is literal.
pub fn unescape(raw: &str, d: &Delimiters) -> String {
    let Some(esc) = d.escape else {
        return raw.to_string();
    };
    if !raw.contains(esc) {
        return raw.to_string();
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(start) = rest.find(esc) {
        out.push_str(&rest[..start]);
        let after = &rest[start + esc.len_utf8()..];
        let Some(end) = after.find(esc) else {
            out.push_str(&rest[start..]);
            return out;
        };
        let seq = &after[..end];
        match seq {
            "F" => out.push(d.field),
            "S" => out.push(d.component),
            "T" => out.push(d.subcomponent),
            "R" => out.push(d.repetition),
            "E" => out.push(esc),
            ".br" => out.push('\n'),
            "H" | "N" => {}
            s if s.starts_with('X') && s.len() > 1 => match hex_bytes(&s[1..]) {
                Some(bytes) => match String::from_utf8(bytes) {
                    Ok(t) => out.push_str(&t),
                    Err(e) => out.extend(e.into_bytes().into_iter().map(char::from)),
                },
                None => {
                    out.push(esc);
                    out.push_str(seq);
                    out.push(esc);
                }
            },
            s if s.starts_with('.') => {}
            _ => {
                out.push(esc);
                out.push_str(seq);
                out.push(esc);
            }
        }
        rest = &after[end + esc.len_utf8()..];
    }
    out.push_str(rest);
    out
}

fn hex_bytes(hex: &str) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 || !hex.is_ascii() {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect()
}

/// Escapes a value for writing into a message with these delimiters.
pub fn escape(value: &str, d: &Delimiters) -> String {
    let Some(esc) = d.escape else {
        return value.to_string();
    };
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' && chars.peek() == Some(&'\n') {
            // CR LF is one line break
            continue;
        }
        let code = match c {
            c if c == esc => Some('E'),
            c if c == d.field => Some('F'),
            c if c == d.component => Some('S'),
            c if c == d.subcomponent => Some('T'),
            c if c == d.repetition => Some('R'),
            _ => None,
        };
        match code {
            Some(k) => {
                out.push(esc);
                out.push(k);
                out.push(esc);
            }
            // a line break is `\.br\`; a lone CR (not a line break anywhere we know) keeps its
            // byte, so that it round-trips
            None if c == '\n' => {
                out.push(esc);
                out.push_str(".br");
                out.push(esc);
            }
            None if c == '\r' => {
                out.push(esc);
                out.push_str("X0D");
                out.push(esc);
            }
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
