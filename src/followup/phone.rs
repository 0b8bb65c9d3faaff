//! E.164 phone numbers: validated once at the edge, masked for roles that need not see them.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A phone number in E.164 form (`+` then 8–15 digits, no leading zero).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not an E.164 phone number: {reason} (write it like +8613800138000)")]
pub struct PhoneError {
    pub input: String,
    pub reason: &'static str,
}

impl PhoneNumber {
    /// Accepts `+` or the international `00` prefix; spaces, dashes, dots and parentheses
    /// are separators people type and are dropped.
    pub fn parse(input: &str) -> Result<PhoneNumber, PhoneError> {
        let err = |reason| PhoneError {
            input: input.to_string(),
            reason,
        };
        let compact: String = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let digits = if let Some(rest) = compact.strip_prefix('+') {
            rest
        } else if let Some(rest) = compact.strip_prefix("00") {
            rest
        } else {
            return Err(err("it must start with + and the country code"));
        };
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(err("only digits may follow the +"));
        }
        if !(8..=15).contains(&digits.len()) {
            return Err(err("E.164 numbers have 8 to 15 digits"));
        }
        if digits.starts_with('0') {
            return Err(err("country codes never start with 0"));
        }
        Ok(PhoneNumber(format!("+{digits}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What a nurse sees: the first three and last four digits, the rest hidden, so a number
    /// can be recognised on the phone but not copied out of the console.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

/// Masks a stored number (already E.164); tolerant of anything else so display never fails.
pub fn mask(number: &str) -> String {
    let digits: Vec<char> = number.chars().filter(|c| c.is_ascii_digit()).collect();
    if digits.len() < 8 {
        return "*".repeat(digits.len());
    }
    let shown_tail = digits.len() - 4;
    let masked: String = digits
        .iter()
        .enumerate()
        .map(|(i, c)| if i < 3 || i >= shown_tail { *c } else { '*' })
        .collect();
    format!("+{masked}")
}

impl TryFrom<String> for PhoneNumber {
    type Error = PhoneError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        PhoneNumber::parse(&value)
    }
}

impl From<PhoneNumber> for String {
    fn from(p: PhoneNumber) -> String {
        p.0
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        let cases = [
            ("+8613800138000", Some("+8613800138000")),
            ("+86 138-0013-8000", Some("+8613800138000")),
            ("0086 13800138000", Some("+8613800138000")),
            ("+1 (415) 555-0100", Some("+14155550100")),
            ("13800138000", None),
            ("+86abc", None),
            ("+0123456789", None),
            ("+1234567", None),
            ("+1234567890123456", None),
            ("", None),
        ];
        for (input, expected) in cases {
            assert_eq!(
                PhoneNumber::parse(input).ok().map(|p| p.0),
                expected.map(String::from),
                "{input}"
            );
        }
    }

    #[test]
    fn masks_the_middle() {
        assert_eq!(mask("+8613800138000"), "+861******8000");
        assert_eq!(mask("+14155550100"), "+141****0100");
    }
}
