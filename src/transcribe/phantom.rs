//! Text whisper produces that nobody said: its own initial prompt repeated back (it does so on
//! tones, DTMF and unclear audio), and the subtitle credits its training data taught it to
//! write on silence and music ("谢谢观看", "Thank you for watching"). Such text must never reach a
//! transcript: red-flag phrases are searched in it and it is shown as what a person said.

/// Credits and sign-offs whisper invents on non-speech, compared after `normalize`. Only whole
/// segments made of these (and the prompt) are dropped, so a patient who says "thank you"
/// inside a longer sentence keeps it.
const PHANTOMS: &[&str] = &[
    "谢谢观看",
    "感谢观看",
    "谢谢大家观看",
    "谢谢收看",
    "请不吝点赞订阅转发打赏支持明镜与点点栏目",
    "请不吝点赞订阅",
    "点赞订阅转发",
    "明镜需要您的支持欢迎订阅明镜",
    "字幕由amaraorg社区提供",
    "字幕志愿者",
    "中文字幕",
    "thankyouforwatching",
    "thanksforwatching",
    "thankyouverymuchforwatching",
    "pleasesubscribe",
    "subtitlesbytheamaraorgcommunity",
    "subtitlesbyamaraorg",
];

/// Letters and digits only, lower-cased: punctuation, spaces and full-width marks differ
/// between whisper's renderings of the same phrase.
fn normalize(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// What of a segment's `text` is speech, given the decoder's `prompt`: `None` when the segment
/// is only the prompt (or a piece of it), phantom credits, or both; otherwise the text with a
/// leading or trailing copy of the prompt cut off.
pub fn speech_part(text: &str, prompt: Option<&str>) -> Option<String> {
    let norm = normalize(text);
    let prompt_norm = prompt.map(normalize).unwrap_or_default();
    // a piece of the prompt on its own (≥ 3 characters: "普通话的", "以下是")
    if !prompt_norm.is_empty() && norm.chars().count() >= 3 && prompt_norm.contains(&norm) {
        return None;
    }
    let mut rest = norm.clone();
    if !prompt_norm.is_empty() {
        rest = rest.replace(&prompt_norm, "");
    }
    for phantom in PHANTOMS {
        rest = rest.replace(phantom, "");
    }
    if rest.is_empty() {
        return None;
    }
    let mut kept = text.trim();
    if let Some(prompt) = prompt {
        let bare = prompt.trim_end_matches(|c: char| !c.is_alphanumeric());
        for cut in [prompt, bare] {
            kept = kept.strip_prefix(cut).unwrap_or(kept).trim_start();
            kept = kept.strip_suffix(cut).unwrap_or(kept).trim_end();
        }
    }
    Some(kept.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROMPT: Option<&str> = Some("以下是普通话的句子。");

    #[test]
    fn the_prompt_repeated_back_is_not_speech() {
        for text in [
            "以下是普通话的句子。",
            "以下是普通话的句子",
            " 以下是普通话的句子, ",
            "以下是普通话的句子。以下是普通话的句子。",
            "普通话的句子",
            "以下是",
        ] {
            assert_eq!(speech_part(text, PROMPT), None, "{text:?}");
        }
    }

    #[test]
    fn speech_keeps_its_words_and_loses_a_prompt_stuck_to_it() {
        assert_eq!(
            speech_part("以下是普通话的句子。我最近有点喘。", PROMPT).as_deref(),
            Some("我最近有点喘。")
        );
        assert_eq!(
            speech_part("我的体重七十二公斤", PROMPT).as_deref(),
            Some("我的体重七十二公斤")
        );
        // short answers are not mistaken for a piece of the prompt
        assert_eq!(speech_part("是的", PROMPT).as_deref(), Some("是的"));
        assert_eq!(speech_part("没有", PROMPT).as_deref(), Some("没有"));
    }

    #[test]
    fn subtitle_credits_alone_are_dropped_inside_speech_they_stay() {
        for text in [
            "谢谢观看!",
            "Thank you for watching.",
            "Thanks for watching!",
            "请不吝点赞 订阅 转发 打赏支持明镜与点点栏目",
            "字幕由Amara.org社区提供",
        ] {
            assert_eq!(speech_part(text, None), None, "{text:?}");
            assert_eq!(speech_part(text, PROMPT), None, "{text:?}");
        }
        assert_eq!(
            speech_part("Thank you, I am feeling better.", None).as_deref(),
            Some("Thank you, I am feeling better.")
        );
    }
}
