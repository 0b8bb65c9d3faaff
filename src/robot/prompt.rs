//! What the robot says, by role, and its words in either language. The call's shell turns a
//! [`Prompt`] into audio: a recorded file for it when staff made one, else the words below
//! rendered by the offline TTS and cached (see `telephony::robot_audio`).

use serde::Serialize;

use crate::followup::script::{AnswerValue, Bilingual, QuestionId, QuestionKind, Script};

/// The language a robot call is held in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    /// Mandarin (zh-CN).
    Zh,
    /// English.
    En,
}

impl Lang {
    /// `zh` or `en`, as in file names and settings.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// Parses `zh` / `en`.
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    fn pick(self, text: &Bilingual) -> &str {
        match self {
            Lang::Zh => &text.zh,
            Lang::En => &text.en,
        }
    }
}

/// One thing the robot says.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "prompt", rename_all = "snake_case")]
pub enum Prompt {
    /// The call is recorded (the same announcement a nurse's call starts with).
    RecordingNotice,
    /// The separate consent to health questions by an automated call (PIPL Art. 28).
    Consent,
    /// A script question with its keypad instructions.
    Question {
        /// Which one.
        question: QuestionId,
    },
    /// Said before a question is asked again.
    NotUnderstood,
    /// A typed number read back for confirmation.
    ReadBack {
        /// The question.
        question: QuestionId,
        /// What was typed.
        value: AnswerValue,
    },
    /// Before the call is offered to a nurse.
    ConnectingNurse,
    /// A rule's advice (e.g. "call 120 now").
    Advice {
        /// The script's words.
        text: Bilingual,
    },
    /// No nurse was free: one will call back.
    NurseWillCallBack,
    /// The patient declined the automated questions.
    Declined,
    /// The end of a call.
    Goodbye,
}

impl Prompt {
    /// The words of the prompt in `lang` (with the keys to press).
    pub fn text(&self, script: &Script, lang: Lang) -> String {
        let zh = lang == Lang::Zh;
        match self {
            Prompt::RecordingNotice => if zh {
                "您好，这里是医院随访中心的自动随访电话。为保证服务质量，本次通话将被录音。"
            } else {
                "Hello, this is the hospital's automated follow-up call. This call is recorded."
            }
            .to_owned(),
            Prompt::Consent => if zh {
                "接下来会问您几个关于健康状况的问题，您的回答会交给您的医护团队。同意请按1，不同意请按2，转人工护士请按0。"
            } else {
                "I will ask a few questions about your health; your answers go to your care team. Press 1 to continue, 2 to stop, or 0 for a nurse."
            }
            .to_owned(),
            Prompt::Question { question } => match script.question(question.as_str()) {
                Some(q) => {
                    // Chinese sentences follow each other without a space
                    let gap = if zh { "" } else { " " };
                    format!("{}{gap}{}", lang.pick(&q.text), keys_hint(&q.kind, lang))
                }
                None => String::new(),
            },
            Prompt::NotUnderstood => if zh {
                "抱歉，没有听清。"
            } else {
                "Sorry, I did not get that."
            }
            .to_owned(),
            Prompt::ReadBack { question, value } => {
                let unit = match script.question(question.as_str()).map(|q| &q.kind) {
                    Some(QuestionKind::Number { unit, .. }) => unit.clone(),
                    _ => String::new(),
                };
                let said = spoken_value(value, &unit, lang);
                if zh {
                    format!("您输入的是{said}。正确请按1，重新输入请按2。")
                } else {
                    format!("You entered {said}. Press 1 if that is right, or 2 to enter it again.")
                }
            }
            Prompt::ConnectingNurse => if zh {
                "正在为您转接护士，请稍候。"
            } else {
                "I am connecting you to a nurse now, please hold."
            }
            .to_owned(),
            Prompt::Advice { text } => lang.pick(text).to_owned(),
            Prompt::NurseWillCallBack => if zh {
                "现在没有护士可以接听，护士会尽快给您回电。"
            } else {
                "No nurse is free right now; a nurse will call you back as soon as possible."
            }
            .to_owned(),
            Prompt::Declined => if zh {
                "好的，稍后会有护士联系您。再见。"
            } else {
                "All right, a nurse will contact you instead. Goodbye."
            }
            .to_owned(),
            Prompt::Goodbye => if zh {
                "问题已经问完，谢谢您，再见。"
            } else {
                "That is all my questions. Thank you, goodbye."
            }
            .to_owned(),
        }
    }
}

/// Which keys answer a question of this kind.
fn keys_hint(kind: &QuestionKind, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    match kind {
        QuestionKind::YesNo => if zh {
            "是请按1，否请按2。"
        } else {
            "Press 1 for yes, 2 for no."
        }
        .to_owned(),
        QuestionKind::Number { decimals, .. } if *decimals > 0 => if zh {
            "请输入数字，小数点按星号键，输完按井号键。"
        } else {
            "Type the number, star for the decimal point, then the hash key."
        }
        .to_owned(),
        QuestionKind::Number { .. } => if zh {
            "请输入数字，输完按井号键。"
        } else {
            "Type the number, then the hash key."
        }
        .to_owned(),
        QuestionKind::BloodPressure => if zh {
            "请输入高压，按井号键，再输入低压，按井号键。"
        } else {
            "Type the upper number and the hash key, then the lower number and the hash key."
        }
        .to_owned(),
        QuestionKind::Choice { options } => options
            .iter()
            .take(9)
            .enumerate()
            .map(|(i, o)| {
                if zh {
                    format!("{}请按{}。", o.label.zh, i + 1)
                } else {
                    format!("For {}, press {}.", o.label.en, i + 1)
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
        QuestionKind::Scale { max } if *max >= 10 => {
            if zh {
                format!("请按0到{max}之间的数字，10请按1和0。")
            } else {
                format!("Press a number from 0 to {max}; for 10 press 1 then 0.")
            }
        }
        QuestionKind::Scale { max } => {
            if zh {
                format!("请按0到{max}之间的数字。")
            } else {
                format!("Press a number from 0 to {max}.")
            }
        }
        QuestionKind::Text { .. } | QuestionKind::Date => String::new(),
    }
}

/// A value as it is read back ("72.5 kilograms", "145 over 90").
fn spoken_value(value: &AnswerValue, unit: &str, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    match value {
        AnswerValue::BloodPressure {
            systolic,
            diastolic,
        } => {
            if zh {
                format!("高压{systolic}，低压{diastolic}")
            } else {
                format!("{systolic} over {diastolic}")
            }
        }
        AnswerValue::Number(n) => {
            let unit = match (unit, zh) {
                ("kg", true) => "公斤",
                ("kg", false) => " kilograms",
                _ => unit,
            };
            format!("{n}{unit}")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script() -> Script {
        crate::followup::script::load_str(
            std::path::Path::new("t.toml"),
            r#"
            code = "t"
            version = 1
            title = { zh = "测", en = "T" }
            [[questions]]
            id = "weight"
            text = { zh = "体重多少公斤？", en = "Your weight?" }
            type = "number"
            unit = "kg"
            min = 20
            max = 300
            decimals = 1
            [[questions]]
            id = "ok"
            text = { zh = "好吗？", en = "All right?" }
            type = "yes_no"
            "#,
        )
        .expect("script")
    }

    #[test]
    fn questions_carry_their_keypad_instructions() {
        let s = script();
        let q = Prompt::Question {
            question: QuestionId("weight".into()),
        };
        assert_eq!(
            q.text(&s, Lang::En),
            "Your weight? Type the number, star for the decimal point, then the hash key."
        );
        assert!(q.text(&s, Lang::Zh).starts_with("体重多少公斤？请输入数字"));
        let yn = Prompt::Question {
            question: QuestionId("ok".into()),
        };
        assert!(yn
            .text(&s, Lang::En)
            .ends_with("Press 1 for yes, 2 for no."));
    }

    #[test]
    fn numbers_are_read_back_with_their_unit() {
        let s = script();
        let p = Prompt::ReadBack {
            question: QuestionId("weight".into()),
            value: AnswerValue::Number(72.5),
        };
        assert!(p
            .text(&s, Lang::En)
            .starts_with("You entered 72.5 kilograms."));
        assert!(p.text(&s, Lang::Zh).starts_with("您输入的是72.5公斤。"));
        let bp = Prompt::ReadBack {
            question: QuestionId("bp".into()),
            value: AnswerValue::BloodPressure {
                systolic: 145,
                diastolic: 90,
            },
        };
        assert!(bp.text(&s, Lang::En).contains("145 over 90"));
    }
}
