//! The texts of the SMS, per language. They name the hospital (so the patient knows who
//! writes) and carry the link and the opt-out word — never a diagnosis, a ward, the patient's
//! name or anything about their health: a shared phone or a lock screen shows the SMS to
//! whoever holds it.

use crate::followup::patient::Language;

use super::MessageKind;

/// What a text is made of.
#[derive(Debug, Clone, Copy)]
pub struct TextParts<'a> {
    pub kind: MessageKind,
    pub language: Language,
    /// The hospital's name in the patient's language.
    pub hospital: &'a str,
    /// The link (`https://…/f/<token>`).
    pub link: &'a str,
    /// How long the link works, in hours.
    pub valid_hours: u32,
}

/// The SMS text.
pub fn render(p: &TextParts<'_>) -> String {
    let (hospital, link, hours) = (p.hospital, p.link, p.valid_hours);
    match (p.kind, p.language) {
        (MessageKind::Link, Language::Zh) => {
            format!("【{hospital}】您好，请点击链接回答几个随访问题：{link} （{hours}小时内有效）回TD退订")
        }
        (MessageKind::Reminder, Language::Zh) => {
            format!("【{hospital}】提醒：随访问题还没有回答，请点击：{link} 回TD退订")
        }
        (MessageKind::Link, Language::En) => format!(
            "{hospital}: please answer a few follow-up questions at {link} (valid {hours} h). Reply STOP to opt out."
        ),
        (MessageKind::Reminder, Language::En) => format!(
            "{hospital} reminder: your follow-up questions are still open: {link} Reply STOP to opt out."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_text_names_the_hospital_the_link_and_the_opt_out_only() {
        for kind in [MessageKind::Link, MessageKind::Reminder] {
            for language in [Language::Zh, Language::En] {
                let text = render(&TextParts {
                    kind,
                    language,
                    hospital: "随访医院",
                    link: "https://h.example/f/abc",
                    valid_hours: 72,
                });
                assert!(text.contains("随访医院"), "{text}");
                assert!(text.contains("https://h.example/f/abc"), "{text}");
                assert!(text.contains("TD") || text.contains("STOP"), "{text}");
                // the link is followed by a space, so no phone glues the next word onto it
                assert!(text.contains("https://h.example/f/abc "), "{text}");
            }
        }
    }
}
