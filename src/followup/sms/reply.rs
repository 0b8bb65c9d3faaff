//! What a patient's SMS to the hospital means: an opt-out (`TD`, `STOP`, `退订`, as Chinese
//! carriers and the MIIT rules expect them) or a reply for the nurse, and whose number sent it.

/// What an inbound SMS is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The patient wants no more SMS.
    OptOut,
    /// Anything else: attached to the patient for the nurse to read.
    Message(String),
}

/// The opt-out words, compared after [`normalise`]. Only a message that *is* one of them opts
/// out: "I stopped the pills" must reach the nurse, not silence the patient.
const OPT_OUT: &[&str] = &["TD", "STOP", "退订", "UNSUBSCRIBE", "退订短信"];

/// Longest reply kept (characters); a concatenated SMS is at most a few hundred.
pub const MAX_REPLY_CHARS: usize = 1000;

/// Classifies the text of an inbound SMS.
pub fn classify(text: &str) -> Reply {
    let word = normalise(text);
    if OPT_OUT.iter().any(|w| *w == word) {
        Reply::OptOut
    } else {
        Reply::Message(text.trim().chars().take(MAX_REPLY_CHARS).collect())
    }
}

/// Upper-case ASCII, full-width Latin letters folded to ASCII (`ＴＤ` from a Chinese keyboard),
/// whitespace and punctuation around and inside dropped (`T D.`, `退订！`).
fn normalise(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            // FF01–FF5E are full-width forms of 0x21–0x7E
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .filter(|c| !c.is_whitespace() && !c.is_ascii_punctuation() && !is_cjk_punctuation(*c))
        .collect::<String>()
        .to_ascii_uppercase()
}

fn is_cjk_punctuation(c: char) -> bool {
    matches!(c, '\u{3000}'..='\u{303F}')
}

/// The sender as an E.164 number to look the patient up by: `+8613800138000`,
/// `8613800138000`, `008613800138000` and the domestic `13800138000` (with `country_code`)
/// are the same phone. `None` for anything that is not a phone number (an alphanumeric
/// sender, garbage in the callback).
pub fn sender_e164(from: &str, country_code: &str) -> Option<String> {
    let from = from.trim();
    let (international, digits) = if let Some(rest) = from.strip_prefix('+') {
        (true, rest)
    } else if let Some(rest) = from.strip_prefix("00") {
        (true, rest)
    } else {
        (false, from)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let full = if international || (digits.starts_with(country_code) && digits.len() > 11) {
        digits.to_string()
    } else {
        format!("{country_code}{}", digits.trim_start_matches('0'))
    };
    (8..=15).contains(&full.len()).then(|| format!("+{full}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opt_out_words_in_any_case_width_and_punctuation() {
        for t in [
            "TD",
            "td",
            " Td ",
            "ＴＤ",
            "T D",
            "STOP",
            "stop.",
            "退订",
            "退订！",
            "退订。",
        ] {
            assert_eq!(classify(t), Reply::OptOut, "{t:?}");
        }
    }

    #[test]
    fn other_words_are_replies_for_the_nurse() {
        for t in [
            "I stopped the pills",
            "TD please call me",
            "好的",
            "tdd",
            "今天不退订",
        ] {
            assert_eq!(classify(t), Reply::Message(t.trim().to_string()), "{t:?}");
        }
        let long = "很".repeat(MAX_REPLY_CHARS + 5);
        match classify(&long) {
            Reply::Message(m) => assert_eq!(m.chars().count(), MAX_REPLY_CHARS),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn senders_in_every_form_are_one_number() {
        for from in [
            "+8613800138000",
            "8613800138000",
            "008613800138000",
            "13800138000",
        ] {
            assert_eq!(
                sender_e164(from, "86").as_deref(),
                Some("+8613800138000"),
                "{from}"
            );
        }
        for bad in ["", "HOSPITAL", "+86 138", "1380013800a", "+1"] {
            assert_eq!(sender_e164(bad, "86"), None, "{bad:?}");
        }
    }
}
