//! What a patient said, as text, turned into a question's type: yes/no vocabulary in Mandarin
//! and English, numbers in Arabic digits, Chinese numerals (colloquial forms included) and
//! English number words, and blood pressure as two numbers. Each result carries a confidence
//! in 0..=1 so the dialog can re-ask or move to the keypad rather than guess (issue 24 item 3:
//! an unsure answer is re-asked, never guessed).
//!
//! Pure functions over text: the speech path (closed-set recognition, or free transcription
//! for open numbers) hands its text here; nothing in this file knows about audio.

/// A parsed value and how sure the parser is of it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Heard<T> {
    /// The value.
    pub value: T,
    /// 0..=1: 0.95 for an utterance that is exactly a vocabulary word or a plain number,
    /// lower when the value had to be picked out of other words or read from a colloquial form.
    pub confidence: f32,
}

/// Confidence of an utterance that is exactly one vocabulary word or one plain number.
const EXACT: f32 = 0.95;
/// The word or number was found among other words.
const AMONG_WORDS: f32 = 0.75;
/// A colloquial numeral whose last digit is read as the next place down (一百四 = 140).
const COLLOQUIAL: f32 = 0.85;

/// Negative words first: 没有 contains 有, 不是 contains 是, 不对 contains 对.
const ZH_NO: [&str; 8] = ["没有", "不是", "不对", "不有", "没", "不", "否", "无"];
const ZH_YES: [&str; 5] = ["是", "对", "有", "嗯", "好"];
const EN_NO: [&str; 6] = ["no", "nope", "nah", "not", "never", "negative"];
const EN_YES: [&str; 8] = [
    "yes",
    "yeah",
    "yep",
    "yup",
    "correct",
    "right",
    "sure",
    "affirmative",
];

/// Yes or no, in Mandarin (是/对/有/没有/不是/没) or English (yes/no/yeah/nope). An utterance
/// with both a yes and a no word ("yes… no"), or neither, is not an answer (`None`).
pub fn yes_no(text: &str) -> Option<Heard<bool>> {
    let clean = normalise(text);
    if clean.is_empty() {
        return None;
    }
    let words: Vec<&str> = clean.split_whitespace().collect();
    let en_no = words.iter().any(|w| EN_NO.contains(w));
    let en_yes = words.iter().any(|w| EN_YES.contains(w));
    // Chinese has no spaces: find the words in the text, negatives masked out before the
    // positive words are looked for (没有 must not also count as 有).
    let mut zh = clean.replace(' ', "");
    let mut zh_no = false;
    for w in ZH_NO {
        if zh.contains(w) {
            zh_no = true;
            zh = zh.replace(w, "");
        }
    }
    let zh_yes = ZH_YES.iter().any(|w| zh.contains(w));
    let no = en_no || zh_no;
    let yes = en_yes || zh_yes;
    let value = match (yes, no) {
        (true, false) => true,
        (false, true) => false,
        _ => return None,
    };
    let exact = words.len() == 1
        && (EN_NO.contains(&words[0])
            || EN_YES.contains(&words[0])
            || ZH_NO.contains(&words[0])
            || ZH_YES.contains(&words[0]));
    let confidence = if exact { EXACT } else { AMONG_WORDS };
    Some(Heard { value, confidence })
}

/// The one number in `text` (`72.5`, 七十二点五, 三十八度五 = 38.5, 一百四 = 140, "seventy two
/// point five"). Two numbers, or none, is not an answer to a number question.
pub fn number(text: &str) -> Option<Heard<f64>> {
    let found = numbers(text);
    match found.as_slice() {
        [one] => Some(one.heard(text)),
        _ => None,
    }
}

/// A blood pressure: two numbers, systolic first (一百四十五 九十, 一百四十五比九十, "145 over
/// 90", 145/90). The pair must be plausible (systolic above diastolic); range checks are the
/// answer validation's.
pub fn blood_pressure(text: &str) -> Option<Heard<(u16, u16)>> {
    let found = numbers(text);
    let [sys, dia] = found.as_slice() else {
        return None;
    };
    let as_u16 = |v: f64| (v.fract() == 0.0 && (1.0..=400.0).contains(&v)).then_some(v as u16);
    let (s, d) = (as_u16(sys.value)?, as_u16(dia.value)?);
    if s <= d {
        return None;
    }
    let a = sys.heard(text);
    let b = dia.heard(text);
    Some(Heard {
        value: (s, d),
        confidence: a.confidence.min(b.confidence),
    })
}

/// A number found in an utterance.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Found {
    value: f64,
    /// Read from a colloquial numeral (一百四).
    colloquial: bool,
    /// Characters of the utterance it took.
    span_chars: usize,
}

impl Found {
    fn heard(&self, text: &str) -> Heard<f64> {
        let total = normalise(text)
            .chars()
            .filter(|c| !c.is_whitespace())
            .count();
        let mut confidence = if self.colloquial { COLLOQUIAL } else { EXACT };
        if self.span_chars + 2 < total {
            // other words around the number ("about seventy kilos"): likely right, less sure
            confidence = confidence.min(AMONG_WORDS + 0.05);
        }
        Heard {
            value: self.value,
            confidence,
        }
    }
}

/// Lower-case, full-width forms folded, punctuation turned into spaces (a decimal point
/// between digits and `/` are kept).
fn normalise(text: &str) -> String {
    let folded: Vec<char> = text
        .chars()
        .map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
            '．' | '。' => '.',
            '／' => '/',
            _ => c,
        })
        .flat_map(char::to_lowercase)
        .collect();
    let mut out = String::with_capacity(folded.len());
    for (i, &c) in folded.iter().enumerate() {
        let between_digits = |i: usize| {
            i > 0
                && folded[i - 1].is_ascii_digit()
                && folded.get(i + 1).is_some_and(char::is_ascii_digit)
        };
        if c.is_alphanumeric() || c == '/' || (c == '.' && between_digits(i)) {
            out.push(c);
        } else {
            out.push(' ');
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every number in the utterance, in order: Arabic digits, Chinese numerals, English words.
fn numbers(text: &str) -> Vec<Found> {
    let clean = normalise(text);
    let chars: Vec<char> = clean.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let s: String = chars[start..i].iter().collect();
            if let Ok(value) = s.parse::<f64>() {
                out.push(Found {
                    value,
                    colloquial: false,
                    span_chars: i - start,
                });
            }
        } else if zh_digit(c).is_some() || zh_unit(c).is_some() {
            let (found, used) = zh_numeral(&chars[i..]);
            out.extend(found);
            i += used.max(1);
        } else {
            // English words are read by `en_numbers` below
            i += 1;
        }
    }
    out.extend(en_numbers(&clean));
    out
}

fn zh_digit(c: char) -> Option<u64> {
    Some(match c {
        '零' | '〇' => 0,
        '一' | '幺' => 1,
        '二' | '两' => 2,
        '三' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        _ => return None,
    })
}

fn zh_unit(c: char) -> Option<u64> {
    Some(match c {
        '十' => 10,
        '百' => 100,
        '千' => 1000,
        _ => return None,
    })
}

/// Reads one Chinese numeral from the start of `chars`; returns it (if the characters make
/// one) and how many characters it used. A digit right after a digit starts the next number
/// (一百四十五九十 is 145 then 90), except in a run without place words, which is read digit by
/// digit (一四五 = 145). 点 and 度 followed by digits give the decimals (三十八度五 = 38.5).
fn zh_numeral(chars: &[char]) -> (Option<Found>, usize) {
    let has_unit_before_break = chars
        .iter()
        .take_while(|c| zh_digit(**c).is_some() || zh_unit(**c).is_some())
        .any(|c| zh_unit(*c).is_some());
    let mut i = 0;
    let mut value: u64 = 0;
    let mut pending: Option<u64> = None;
    let mut last_unit: u64 = 0;
    let mut zero_after_unit = false;
    let mut any = false;
    if !has_unit_before_break {
        while i < chars.len() {
            let Some(d) = zh_digit(chars[i]) else { break };
            value = value * 10 + d;
            i += 1;
            any = true;
        }
    } else {
        while i < chars.len() {
            let c = chars[i];
            if let Some(d) = zh_digit(c) {
                if d == 0 {
                    zero_after_unit = last_unit > 0;
                    pending = None;
                    i += 1;
                    any = true;
                    continue;
                }
                if pending.is_some() {
                    break; // a digit after a digit: the next number starts here
                }
                pending = Some(d);
            } else if let Some(u) = zh_unit(c) {
                if last_unit != 0 && u >= last_unit {
                    break; // 一百四十五 then 一百…: a new number
                }
                let d = match pending.take() {
                    Some(d) => d,
                    None if u == 10 => 1, // 十二 = 12
                    None => return (None, i + 1),
                };
                value += d * u;
                last_unit = u;
                zero_after_unit = false;
            } else {
                break;
            }
            any = true;
            i += 1;
        }
    }
    if !any {
        return (None, i);
    }
    let mut colloquial = false;
    if let Some(d) = pending {
        if last_unit >= 100 && !zero_after_unit {
            // 一百四 = 140, 两千五 = 2500: the last digit takes the place below the last unit
            value += d * last_unit / 10;
            colloquial = true;
        } else {
            value += d;
        }
    }
    let mut number = value as f64;
    // decimals after 点 (七十二点五) or 度 (三十八度五)
    if matches!(chars.get(i), Some('点' | '度'))
        && chars.get(i + 1).and_then(|c| zh_digit(*c)).is_some()
    {
        i += 1;
        let mut scale = 0.1;
        while let Some(d) = chars.get(i).and_then(|c| zh_digit(*c)) {
            number += d as f64 * scale;
            scale /= 10.0;
            i += 1;
        }
        number = (number * 1e6).round() / 1e6;
    } else if matches!(chars.get(i), Some('度')) {
        i += 1; // 三十八度: the unit, part of the number's span
    }
    (
        Some(Found {
            value: number,
            colloquial,
            span_chars: i,
        }),
        i,
    )
}

fn en_word(w: &str) -> Option<u64> {
    const SMALL: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 8] = [
        "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    if let Some(n) = SMALL.iter().position(|s| *s == w) {
        return Some(n as u64);
    }
    if w == "oh" {
        return Some(0);
    }
    TENS.iter()
        .position(|s| *s == w)
        .map(|n| (n as u64 + 2) * 10)
}

/// English number words: "one hundred (and) forty five" = 145, "seventy two point five".
fn en_numbers(clean: &str) -> Vec<Found> {
    let words: Vec<&str> = clean.split_whitespace().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let starts = en_word(words[i]).is_some()
            || (words[i] == "a" && words.get(i + 1) == Some(&"hundred"));
        if !starts {
            i += 1;
            continue;
        }
        let start = i;
        let mut value: u64 = 0;
        let mut current: u64 = 0;
        let mut last_small: Option<u64> = None;
        while i < words.len() {
            let w = words[i];
            if w == "a" && words.get(i + 1) == Some(&"hundred") {
                current = 1;
            } else if w == "hundred" {
                current = current.max(1) * 100;
                last_small = None;
            } else if w == "thousand" {
                value += current.max(1) * 1000;
                current = 0;
                last_small = None;
            } else if w == "and" && i > start {
                // "a hundred and forty"
            } else if let Some(n) = en_word(w) {
                // "one forty five" style runs and two numbers in a row ("one forty ninety")
                // are told apart only by place: a units word after a units word, or a tens word
                // after a tens or units word, starts the next number.
                if let Some(prev) = last_small {
                    let units_after = (n < 10 && prev < 10)
                        || (n >= 10 && prev % 10 != 0)
                        || (n >= 20 && prev >= 10);
                    if units_after {
                        break;
                    }
                }
                current += n;
                last_small = Some(n);
            } else {
                break;
            }
            i += 1;
        }
        let mut number = (value + current) as f64;
        if words.get(i) == Some(&"point") {
            let mut scale = 0.1;
            let mut j = i + 1;
            while let Some(d) = words.get(j).and_then(|w| en_word(w)).filter(|d| *d < 10) {
                number += d as f64 * scale;
                scale /= 10.0;
                j += 1;
            }
            if j > i + 1 {
                i = j;
                number = (number * 1e6).round() / 1e6;
            }
        }
        let span: usize = words[start..i].iter().map(|w| w.len()).sum();
        out.push(Found {
            value: number,
            colloquial: false,
            span_chars: span,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yes_no_vocabulary_in_both_languages() {
        for (text, want) in [
            ("是", true),
            ("对", true),
            ("有", true),
            ("是的", true),
            ("没有", false),
            ("不是", false),
            ("没", false),
            ("不对", false),
            ("yes", true),
            ("Yeah.", true),
            ("nope", false),
            ("No!", false),
            ("我没有气短", false),
            ("有一点", true),
        ] {
            let heard = yes_no(text).unwrap_or_else(|| panic!("{text}: no answer"));
            assert_eq!(heard.value, want, "{text}");
            assert!(heard.confidence > 0.5, "{text}: {heard:?}");
        }
    }

    #[test]
    fn an_exact_word_is_surer_than_a_word_among_others() {
        let exact = yes_no("没有").expect("no");
        let among = yes_no("我觉得没有吧").expect("no");
        assert!(exact.confidence > among.confidence, "{exact:?} {among:?}");
    }

    #[test]
    fn both_or_neither_is_no_answer() {
        for text in ["", "   ", "yes no", "是不是", "maybe", "蜜蜂蜜蜂", "hello"] {
            assert_eq!(yes_no(text), None, "{text:?}");
        }
    }

    #[test]
    fn chinese_numerals_formal_and_colloquial() {
        for (text, want, colloquial) in [
            ("七十二", 72.0, false),
            ("十二", 12.0, false),
            ("一百四十五", 145.0, false),
            ("一百零五", 105.0, false),
            ("一百四", 140.0, true),
            ("两百五", 250.0, true),
            ("七十二点五", 72.5, false),
            ("三十八度五", 38.5, false),
            ("三十八度", 38.0, false),
            ("一四五", 145.0, false),
            ("72.5", 72.5, false),
            ("７２", 72.0, false),
            ("体重六十八点三公斤", 68.3, false),
        ] {
            let heard = number(text).unwrap_or_else(|| panic!("{text}: no number"));
            assert!((heard.value - want).abs() < 1e-9, "{text}: {heard:?}");
            if colloquial {
                assert!(heard.confidence <= COLLOQUIAL, "{text}: {heard:?}");
            }
        }
    }

    #[test]
    fn english_number_words() {
        for (text, want) in [
            ("seventy two", 72.0),
            ("seventy two point five", 72.5),
            ("one hundred forty five", 145.0),
            ("a hundred and forty", 140.0),
            ("thirty eight point five", 38.5),
            ("about 70 kilos", 70.0),
        ] {
            let heard = number(text).unwrap_or_else(|| panic!("{text}: no number"));
            assert!((heard.value - want).abs() < 1e-9, "{text}: {heard:?}");
        }
    }

    #[test]
    fn blood_pressure_as_two_numbers() {
        for (text, want) in [
            ("一百四十五 九十", (145, 90)),
            ("一百四十五九十", (145, 90)),
            ("一百四十五比九十", (145, 90)),
            ("145 over 90", (145, 90)),
            ("145/90", (145, 90)),
            ("one hundred forty five over ninety", (145, 90)),
            ("高压一百六 低压一百", (160, 100)),
        ] {
            let heard = blood_pressure(text).unwrap_or_else(|| panic!("{text}: no reading"));
            assert_eq!(heard.value, want, "{text}");
        }
    }

    #[test]
    fn not_a_number_answer() {
        for text in ["", "不知道", "seventy and eighty", "一百 二百", "hello"] {
            assert_eq!(number(text).map(|h| h.value), None, "{text:?}");
        }
        // a pair the wrong way round or one number is not a blood pressure
        assert_eq!(blood_pressure("90 over 145"), None);
        assert_eq!(blood_pressure("一百四十五"), None);
        assert_eq!(blood_pressure("145.5 over 90"), None);
    }
}
