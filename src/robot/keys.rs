//! Keypad answers (RFC 4733 digits) for each question type, as in FreeSWITCH's
//! `play_and_get_digits` or Twilio's `<Gather>`: yes/no is 1 or 2; a number is typed with `*`
//! as the decimal point and ended with `#`; a blood pressure is two numbers, each ended with
//! `#`; a choice is the option's position (1–9); a 0–10 scale is one key, except 1, which waits
//! for 0 (ten), `#` or the inter-digit timeout (one). On the questions where 0 is not a digit
//! (consent, yes/no, choices, confirmation) 0 asks for a nurse.
//!
//! A plain state machine: [`KeyEntry::press`] per digit, [`KeyEntry::timeout`] when the
//! inter-digit timer runs out. Range checks are the script's (`validate_answer`), not here.

/// What a question's keypad entry expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRule {
    /// 1 continue, 2 stop, 0 nurse.
    Consent,
    /// 1 yes, 2 no, 0 nurse.
    YesNo,
    /// Digits, at most one `*` (decimal point) with at most `decimals` digits after it, `#`.
    Number {
        /// Digits allowed after `*`.
        decimals: u8,
    },
    /// Systolic `#` diastolic `#`.
    BloodPressure,
    /// The option's position, 1..=`count` (at most 9); 0 nurse.
    Choice {
        /// Number of options.
        count: u8,
    },
    /// 0..=`max` (at most 10).
    Scale {
        /// Largest value.
        max: u8,
    },
    /// Read-back: 1 correct, 2 enter again, 0 nurse.
    Confirm,
}

/// A complete keypad answer, before the script's range checks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KeyAnswer {
    /// Consent: 1 continue (`true`), 2 stop (`false`); yes/no: 1 yes, 2 no; confirm: 1 correct.
    YesNo(bool),
    /// A typed number.
    Number(f64),
    /// Systolic and diastolic.
    BloodPressure(u16, u16),
    /// A choice's position, 1-based.
    Choice(u8),
    /// A scale point.
    Scale(u8),
    /// 0: the patient asks for a nurse.
    Nurse,
}

/// Why keys were not an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// A key this question does not use (3 on a yes/no question).
    #[error("key {0} means nothing here")]
    WrongKey(char),
    /// `#` with nothing typed, or two decimal points, or too many decimals.
    #[error("not a number")]
    Malformed,
    /// More keys than any answer of this type has.
    #[error("too many keys")]
    TooLong,
    /// The timer ran out before the entry was complete.
    #[error("no complete answer before the timeout")]
    Incomplete,
}

/// What one key press did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KeyStep {
    /// Keep collecting (restart the inter-digit timer).
    More,
    /// The answer is complete.
    Done(KeyAnswer),
    /// The entry is wrong: re-ask.
    Invalid(KeyError),
}

/// Longest number typed (`1234.56#` is 8 keys; a weight or glucose needs fewer).
const MAX_NUMBER_KEYS: usize = 8;

/// The keys typed so far for one question.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyEntry {
    rule: KeyRule,
    typed: String,
    /// Blood pressure: the systolic, once its `#` came.
    first: Option<u16>,
}

impl KeyEntry {
    /// An empty entry for `rule`.
    pub fn new(rule: KeyRule) -> KeyEntry {
        KeyEntry {
            rule,
            typed: String::new(),
            first: None,
        }
    }

    /// The rule this entry follows.
    pub fn rule(&self) -> KeyRule {
        self.rule
    }

    /// Every key taken so far, for the question log.
    pub fn typed(&self) -> &str {
        &self.typed
    }

    /// Whether nothing was typed yet.
    pub fn is_empty(&self) -> bool {
        self.typed.is_empty()
    }

    /// Takes one key (`0-9 * # A-D`).
    pub fn press(&mut self, key: char) -> KeyStep {
        self.typed.push(key);
        match self.rule {
            KeyRule::Consent | KeyRule::YesNo | KeyRule::Confirm => match key {
                '1' => KeyStep::Done(KeyAnswer::YesNo(true)),
                '2' => KeyStep::Done(KeyAnswer::YesNo(false)),
                '0' => KeyStep::Done(KeyAnswer::Nurse),
                other => KeyStep::Invalid(KeyError::WrongKey(other)),
            },
            KeyRule::Choice { count } => match key.to_digit(10) {
                Some(0) => KeyStep::Done(KeyAnswer::Nurse),
                Some(d) if d <= u32::from(count.min(9)) => {
                    KeyStep::Done(KeyAnswer::Choice(d as u8))
                }
                _ => KeyStep::Invalid(KeyError::WrongKey(key)),
            },
            KeyRule::Scale { max } => self.scale_key(key, max),
            KeyRule::Number { decimals } => match key {
                '#' => match self.number(decimals) {
                    Ok(n) => KeyStep::Done(KeyAnswer::Number(n)),
                    Err(e) => KeyStep::Invalid(e),
                },
                '0'..='9' | '*' if self.typed.len() > MAX_NUMBER_KEYS => {
                    KeyStep::Invalid(KeyError::TooLong)
                }
                '0'..='9' | '*' => KeyStep::More,
                other => KeyStep::Invalid(KeyError::WrongKey(other)),
            },
            KeyRule::BloodPressure => self.blood_pressure_key(key),
        }
    }

    /// The inter-digit timer ran out: a scale's lone 1 means one; anything else incomplete.
    pub fn timeout(&mut self) -> KeyStep {
        match (self.rule, self.typed.as_str()) {
            (KeyRule::Scale { .. }, "1") => KeyStep::Done(KeyAnswer::Scale(1)),
            _ => KeyStep::Invalid(KeyError::Incomplete),
        }
    }

    fn scale_key(&mut self, key: char, max: u8) -> KeyStep {
        let before = &self.typed[..self.typed.len() - key.len_utf8()];
        match (before, key) {
            // 1 may be the start of 10
            ("", '1') if max >= 10 => KeyStep::More,
            ("1", '0') if max >= 10 => KeyStep::Done(KeyAnswer::Scale(10)),
            ("1", '#') => KeyStep::Done(KeyAnswer::Scale(1)),
            ("", d) => match d.to_digit(10) {
                Some(v) if v <= u32::from(max) => KeyStep::Done(KeyAnswer::Scale(v as u8)),
                _ => KeyStep::Invalid(KeyError::WrongKey(d)),
            },
            (_, other) => KeyStep::Invalid(KeyError::WrongKey(other)),
        }
    }

    fn blood_pressure_key(&mut self, key: char) -> KeyStep {
        match key {
            '0'..='9' if self.current_part().len() >= 3 => KeyStep::Invalid(KeyError::TooLong),
            '0'..='9' => KeyStep::More,
            '#' => {
                let part = self.current_part();
                let Ok(v) = part.parse::<u16>() else {
                    return KeyStep::Invalid(KeyError::Malformed);
                };
                match self.first {
                    None => {
                        self.first = Some(v);
                        KeyStep::More
                    }
                    Some(sys) => KeyStep::Done(KeyAnswer::BloodPressure(sys, v)),
                }
            }
            other => KeyStep::Invalid(KeyError::WrongKey(other)),
        }
    }

    /// The digits of the part being typed, before the key just pressed (the systolic's or
    /// the diastolic's).
    fn current_part(&self) -> &str {
        let before = match self.typed.char_indices().last() {
            Some((at, _)) => &self.typed[..at],
            None => "",
        };
        before.rsplit('#').next().unwrap_or("")
    }

    /// The number typed before the final `#`.
    fn number(&self, decimals: u8) -> Result<f64, KeyError> {
        let body = self.typed.strip_suffix('#').unwrap_or(&self.typed);
        if body.is_empty() || body == "*" {
            return Err(KeyError::Malformed);
        }
        let mut parts = body.split('*');
        let whole = parts.next().unwrap_or("");
        let frac = parts.next();
        if parts.next().is_some() {
            return Err(KeyError::Malformed);
        }
        if let Some(f) = frac {
            if f.is_empty() || f.len() > usize::from(decimals) {
                return Err(KeyError::Malformed);
            }
        }
        let text = match frac {
            Some(f) => format!("{}.{f}", if whole.is_empty() { "0" } else { whole }),
            None => whole.to_owned(),
        };
        text.parse::<f64>().map_err(|_| KeyError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rule: KeyRule, keys: &str) -> Vec<KeyStep> {
        let mut e = KeyEntry::new(rule);
        keys.chars().map(|k| e.press(k)).collect()
    }

    fn last(rule: KeyRule, keys: &str) -> KeyStep {
        *run(rule, keys).last().expect("keys")
    }

    #[test]
    fn yes_no_consent_and_confirm_keys() {
        for rule in [KeyRule::YesNo, KeyRule::Consent, KeyRule::Confirm] {
            assert_eq!(last(rule, "1"), KeyStep::Done(KeyAnswer::YesNo(true)));
            assert_eq!(last(rule, "2"), KeyStep::Done(KeyAnswer::YesNo(false)));
            assert_eq!(last(rule, "0"), KeyStep::Done(KeyAnswer::Nurse));
            assert_eq!(last(rule, "3"), KeyStep::Invalid(KeyError::WrongKey('3')));
            assert_eq!(last(rule, "#"), KeyStep::Invalid(KeyError::WrongKey('#')));
        }
    }

    #[test]
    fn numbers_with_star_as_decimal_point_and_hash_to_end() {
        let rule = KeyRule::Number { decimals: 1 };
        assert_eq!(
            run(rule, "72*5#"),
            vec![
                KeyStep::More,
                KeyStep::More,
                KeyStep::More,
                KeyStep::More,
                KeyStep::Done(KeyAnswer::Number(72.5))
            ]
        );
        assert_eq!(last(rule, "68#"), KeyStep::Done(KeyAnswer::Number(68.0)));
        assert_eq!(last(rule, "*5#"), KeyStep::Done(KeyAnswer::Number(0.5)));
        assert_eq!(last(rule, "#"), KeyStep::Invalid(KeyError::Malformed));
        assert_eq!(last(rule, "7*2*5#"), KeyStep::Invalid(KeyError::Malformed));
        assert_eq!(last(rule, "72*55#"), KeyStep::Invalid(KeyError::Malformed));
        assert_eq!(last(rule, "72*#"), KeyStep::Invalid(KeyError::Malformed));
        assert_eq!(
            last(KeyRule::Number { decimals: 0 }, "72*5#"),
            KeyStep::Invalid(KeyError::Malformed)
        );
        assert_eq!(last(rule, "123456789"), KeyStep::Invalid(KeyError::TooLong));
        assert_eq!(last(rule, "7A"), KeyStep::Invalid(KeyError::WrongKey('A')));
        let mut e = KeyEntry::new(rule);
        e.press('7');
        assert_eq!(e.timeout(), KeyStep::Invalid(KeyError::Incomplete));
    }

    #[test]
    fn blood_pressure_is_two_numbers_each_ended_by_hash() {
        let steps = run(KeyRule::BloodPressure, "145#90#");
        assert_eq!(steps[..6], [KeyStep::More; 6]);
        assert_eq!(steps[6], KeyStep::Done(KeyAnswer::BloodPressure(145, 90)));
        assert_eq!(
            last(KeyRule::BloodPressure, "##"),
            KeyStep::Invalid(KeyError::Malformed)
        );
        assert_eq!(
            last(KeyRule::BloodPressure, "1450"),
            KeyStep::Invalid(KeyError::TooLong)
        );
        assert_eq!(
            last(KeyRule::BloodPressure, "145*"),
            KeyStep::Invalid(KeyError::WrongKey('*'))
        );
    }

    #[test]
    fn choices_by_position() {
        let rule = KeyRule::Choice { count: 4 };
        assert_eq!(last(rule, "3"), KeyStep::Done(KeyAnswer::Choice(3)));
        assert_eq!(last(rule, "0"), KeyStep::Done(KeyAnswer::Nurse));
        assert_eq!(last(rule, "5"), KeyStep::Invalid(KeyError::WrongKey('5')));
        assert_eq!(last(rule, "*"), KeyStep::Invalid(KeyError::WrongKey('*')));
    }

    #[test]
    fn scale_of_ten_waits_after_one() {
        let rule = KeyRule::Scale { max: 10 };
        assert_eq!(last(rule, "7"), KeyStep::Done(KeyAnswer::Scale(7)));
        assert_eq!(last(rule, "0"), KeyStep::Done(KeyAnswer::Scale(0)));
        assert_eq!(
            run(rule, "10"),
            vec![KeyStep::More, KeyStep::Done(KeyAnswer::Scale(10))]
        );
        assert_eq!(last(rule, "1#"), KeyStep::Done(KeyAnswer::Scale(1)));
        let mut e = KeyEntry::new(rule);
        assert_eq!(e.press('1'), KeyStep::More);
        assert_eq!(e.timeout(), KeyStep::Done(KeyAnswer::Scale(1)));
        assert_eq!(last(rule, "15"), KeyStep::Invalid(KeyError::WrongKey('5')));
        // a scale of 0..=3 (PHQ items): 1 is one at once, 4 is out of range
        let short = KeyRule::Scale { max: 3 };
        assert_eq!(last(short, "1"), KeyStep::Done(KeyAnswer::Scale(1)));
        assert_eq!(last(short, "4"), KeyStep::Invalid(KeyError::WrongKey('4')));
    }
}
