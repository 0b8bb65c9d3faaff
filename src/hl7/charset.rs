//! The character set of an HL7 v2 message (MSH-18, HL7 table 0211).
//!
//! MSH-18 must be read before the message can be decoded, and in GB 18030 a trail byte can be
//! `|`, `^`, `~` or `\`, so the text is decoded first and split after. MSH-18 itself sits in the
//! header, which senders write in ASCII; it is found by splitting the first line's bytes.
//! A message whose bytes are not valid in its declared set is refused, never decoded with
//! replacement characters: a patient's name must not silently change.

use encoding_rs::{Encoding, BIG5, GB18030, UTF_8, WINDOWS_1252};
use thiserror::Error;

/// A character set suifang decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// `ASCII` or empty MSH-18 with valid UTF-8 bytes (ASCII is a subset).
    Utf8,
    /// `8859/1`.
    Latin1,
    /// `GB 18030-2000`, `GB 2312` (`ISO IR58`) and GBK: GB 18030 decodes all three.
    Gb18030,
    /// `BIG-5`.
    Big5,
}

/// Why the bytes could not become text.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CharsetError {
    #[error("MSH-18 character set `{0}` is not supported (use UNICODE UTF-8, GB 18030-2000, GB 2312, 8859/1 or BIG-5)")]
    Unsupported(String),
    #[error("the message is not valid {0} text")]
    Malformed(&'static str),
}

impl Charset {
    /// The set an MSH-18 value names (its first repetition); empty means "not said".
    pub fn from_msh18(value: &str) -> Result<Option<Charset>, CharsetError> {
        let first = value.split('~').next().unwrap_or("").trim();
        let norm = first.to_ascii_uppercase().replace(['-', '_'], " ");
        Ok(Some(match norm.as_str() {
            "" => return Ok(None),
            "ASCII" | "UNICODE UTF 8" | "UTF 8" | "UNICODE" => Charset::Utf8,
            "8859/1" | "ISO 8859 1" => Charset::Latin1,
            "GB 18030 2000" | "GB18030" | "GB 18030" | "GB 2312" | "GB2312" | "ISO IR58"
            | "GBK" => Charset::Gb18030,
            "BIG 5" | "BIG5" => Charset::Big5,
            _ => return Err(CharsetError::Unsupported(first.to_string())),
        }))
    }

    fn encoding(self) -> &'static Encoding {
        match self {
            Charset::Utf8 => UTF_8,
            Charset::Latin1 => WINDOWS_1252,
            Charset::Gb18030 => GB18030,
            Charset::Big5 => BIG5,
        }
    }

    /// The MSH-18 value suifang writes for this set in its replies.
    pub fn msh18(self) -> &'static str {
        match self {
            Charset::Utf8 => "UNICODE UTF-8",
            Charset::Latin1 => "8859/1",
            Charset::Gb18030 => "GB 18030-2000",
            Charset::Big5 => "BIG-5",
        }
    }

    /// Decodes the whole message, refusing bytes that are not valid in this set.
    pub fn decode(self, bytes: &[u8]) -> Result<String, CharsetError> {
        self.encoding()
            .decode_without_bom_handling_and_without_replacement(bytes)
            .map(|c| c.into_owned())
            .ok_or(CharsetError::Malformed(self.encoding().name()))
    }

    /// Encodes a reply in this set. Replies hold only ASCII and text taken from the message
    /// itself, so every character is representable.
    pub fn encode(self, text: &str) -> Vec<u8> {
        self.encoding().encode(text).0.into_owned()
    }
}

/// Reads MSH-18 from the raw bytes and decodes the message. `fallback` is used when MSH-18 is
/// empty and the bytes are not valid UTF-8 (Chinese HIS feeds often send GBK and say nothing).
pub fn decode_message(bytes: &[u8], fallback: Charset) -> Result<(String, Charset), CharsetError> {
    let declared = Charset::from_msh18(&msh18_raw(bytes))?;
    let charset = match declared {
        Some(c) => c,
        None if std::str::from_utf8(bytes).is_ok() => Charset::Utf8,
        None => fallback,
    };
    Ok((charset.decode(bytes)?, charset))
}

/// MSH-18 from the first line's bytes, as lossy text (it is ASCII in every feed we know of).
fn msh18_raw(bytes: &[u8]) -> String {
    let start = bytes
        .windows(3)
        .position(|w| w == b"MSH")
        .unwrap_or(bytes.len());
    let header = &bytes[start..];
    let line_end = header
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(header.len());
    let line = &header[..line_end];
    let Some(&sep) = line.get(3) else {
        return String::new();
    };
    // parts[0] = "MSH", parts[n - 1] = MSH-n (MSH-1 is the separator itself)
    line.split(|&b| b == sep)
        .nth(17)
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "MSH|^~\\&|HIS|H|SUIFANG|H|20261206||ADT^A03|1|P|2.5|||AL|NE||";

    #[test]
    fn a_gb18030_message_is_decoded_before_it_is_split() {
        // 张伟 in GB 18030; 伟 is 0xCE 0xB0, and other names have `|` (0x7C) as a trail byte
        let text = format!("{HEADER}GB 18030-2000\rPID|1||M1||张伟^^\r");
        let (bytes, _, _) = GB18030.encode(&text);
        let (decoded, cs) = decode_message(&bytes, Charset::Utf8).unwrap();
        assert_eq!(cs, Charset::Gb18030);
        assert!(decoded.contains("张伟"));
        // a trail byte equal to `|`: 亅 is 0x81 0x7C in GB 18030, and survives whole
        let (tricky, _, _) = GB18030.encode("亅");
        assert_eq!(tricky.as_ref(), &[0x81, 0x7c]);
        let text = format!("{HEADER}GB 18030-2000\rPID|1||M1||王亅^^\r");
        let (bytes, _, _) = GB18030.encode(&text);
        let (decoded, _) = decode_message(&bytes, Charset::Utf8).unwrap();
        let m = crate::hl7::message::parse(&decoded).unwrap();
        assert_eq!(m.value("PID", 5, 1), "王亅");
    }

    #[test]
    fn gb2312_and_gbk_names_decode_as_gb18030() {
        for label in ["GB 2312", "ISO IR58", "GBK", "gb18030"] {
            assert_eq!(
                Charset::from_msh18(label),
                Ok(Some(Charset::Gb18030)),
                "{label}"
            );
        }
    }

    #[test]
    fn an_undeclared_non_utf8_message_uses_the_fallback() {
        let text = format!("{HEADER}\rPID|1||M1||李娜\r");
        let (bytes, _, _) = GB18030.encode(&text);
        let (decoded, cs) = decode_message(&bytes, Charset::Gb18030).unwrap();
        assert_eq!(cs, Charset::Gb18030);
        assert!(decoded.contains("李娜"));
        let (utf8, cs) = decode_message(text.as_bytes(), Charset::Gb18030).unwrap();
        assert_eq!((utf8.as_str(), cs), (text.as_str(), Charset::Utf8));
    }

    #[test]
    fn bytes_invalid_in_the_declared_set_are_refused_not_replaced() {
        let mut bytes = format!("{HEADER}UNICODE UTF-8\rPID|1||M1||").into_bytes();
        bytes.extend_from_slice(&[0xff, 0xfe, b'\r']);
        assert!(matches!(
            decode_message(&bytes, Charset::Utf8),
            Err(CharsetError::Malformed(_))
        ));
    }

    #[test]
    fn an_unknown_set_is_named_in_the_error() {
        let text = format!("{HEADER}EBCDIC\r");
        assert_eq!(
            decode_message(text.as_bytes(), Charset::Utf8),
            Err(CharsetError::Unsupported("EBCDIC".into()))
        );
    }
}
