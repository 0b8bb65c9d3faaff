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

/// Empty text or whisper's markers for non-speech: `[BLANK_AUDIO]`, `(music)`, `（音乐）`,
/// `*music*`, or only musical notes (`♪ ♪`), which it writes on hold music.
pub fn is_marker(text: &str) -> bool {
    let t = text.trim();
    let wrapped = |open: char, close: char| t.starts_with(open) && t.ends_with(close);
    t.is_empty()
        || wrapped('[', ']')
        || wrapped('(', ')')
        || wrapped('（', '）')
        || wrapped('*', '*')
        || !t
            .chars()
            .filter(|c| !matches!(c, '♪' | '♫' | '♩' | '♬' | '🎵' | '🎶'))
            .any(char::is_alphanumeric)
            && t.chars()
                .any(|c| matches!(c, '♪' | '♫' | '♩' | '♬' | '🎵' | '🎶'))
}

/// Back-to-back repeats of one unit that make a decoding loop: at least this many…
const LOOP_MIN_REPEATS: usize = 5;
/// …of a unit of at most this many letters or digits…
const LOOP_MAX_UNIT: usize = 20;
/// …spanning at least this many (so "no no no no no" from a patient is not a loop).
const LOOP_MIN_SPAN: usize = 12;

/// The longest stretch of `text` (in normalised characters: letters and digits) that is one
/// unit repeated back to back at least 5 times, e.g. "好的好的好的好的好的好的" or "I'm sorry. I'm
/// sorry. …": what whisper and faster-whisper write when the decoder is caught in a loop. 0
/// when there is none.
pub fn repetition_span(text: &str) -> usize {
    let c: Vec<char> = normalize(text).chars().collect();
    let mut best = 0;
    for unit in 1..=LOOP_MAX_UNIT.min(c.len() / LOOP_MIN_REPEATS) {
        // `run` counts consecutive positions i with c[i] == c[i + unit]; a run of m such
        // positions is m + unit characters of one repeated unit.
        let mut run = 0;
        for i in 0..c.len() - unit {
            if c[i] == c[i + unit] {
                run += 1;
                let span = run + unit;
                if span >= unit * LOOP_MIN_REPEATS && span >= LOOP_MIN_SPAN {
                    best = best.max(span);
                }
            } else {
                run = 0;
            }
        }
    }
    best
}

/// Whether a segment is mostly a decoding loop (the loop covers at least half of it): such a
/// segment is invented, not said.
pub fn is_loop(text: &str) -> bool {
    let span = repetition_span(text);
    span > 0 && 2 * span >= normalize(text).chars().count()
}

/// Whether `text` is the call's vocabulary hint (see `engine::Vocabulary`, terms joined with
/// "、" or ", ") said back: a piece of the hint as it stands, of two terms or more, or of at
/// least 8 letters or digits. One term of it said by the patient ("胸痛", "aspirin") stays
/// speech.
pub fn is_hint_echo(text: &str, hint: Option<&str>) -> bool {
    let Some(hint) = hint else { return false };
    let norm = normalize(text);
    if norm.is_empty() || !normalize(hint).contains(&norm) {
        return false;
    }
    let terms = hint
        .split(['、', ','])
        .map(normalize)
        .filter(|t| !t.is_empty() && norm.contains(t.as_str()))
        .count();
    terms >= 2 || norm.chars().count() >= 8
}

/// Letters and digits only, lower-cased: punctuation, spaces and full-width marks differ
/// between whisper's renderings of the same phrase.
fn normalize(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Characters of the prompt in a row that, covering half a segment or more, make it the prompt
/// reworded. Three would drop "会说普通话" said by a patient; whisper's rewordings keep more.
const PARAPHRASE_MIN_RUN: usize = 4;

/// The length, in characters, of the longest run that `a` and `b` share.
fn longest_common_run(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut best = 0;
    let mut prev = vec![0usize; b.len() + 1];
    for ca in &a {
        let mut cur = vec![0usize; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            if ca == cb {
                cur[j + 1] = prev[j] + 1;
                best = best.max(cur[j + 1]);
            }
        }
        prev = cur;
    }
    best
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
    // the prompt reworded ("这个人是普通话的句子。" from noise): most of what is left is one run
    // of at least 4 of the prompt's characters in a row
    let run = longest_common_run(&rest, &prompt_norm);
    if run >= PARAPHRASE_MIN_RUN && 2 * run >= rest.chars().count() {
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
            // reworded, as whisper base said it over white noise in a CI run
            "这个人是普通话的句子。",
            "这是普通话的句子",
        ] {
            assert_eq!(speech_part(text, PROMPT), None, "{text:?}");
        }
        // the language named by a patient or a nurse is speech
        for text in ["我不会说普通话", "你会说普通话吗？"] {
            assert_eq!(speech_part(text, PROMPT).as_deref(), Some(text), "{text:?}");
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
    fn markers_are_not_speech() {
        for t in [
            "",
            "  ",
            "[BLANK_AUDIO]",
            "(music)",
            "（音乐）",
            "*music*",
            "♪",
            "♪ ♪ ♪",
            "🎵",
        ] {
            assert!(is_marker(t), "{t:?}");
        }
        for t in ["I have chest pain.", "我最近血压很高", "♪ la la ♪"] {
            assert!(!is_marker(t), "{t:?}");
        }
    }

    #[test]
    fn decoding_loops_are_found_and_short_repeats_are_speech() {
        assert!(is_loop("好的好的好的好的好的好的好的"));
        assert!(is_loop(
            "I'm sorry. I'm sorry. I'm sorry. I'm sorry. I'm sorry. I'm sorry."
        ));
        assert!(is_loop("1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2"));
        assert!(!is_loop("no no no no"), "a patient may say that");
        assert!(!is_loop("好好好"));
        assert!(!is_loop("I have chest pain and my breathing is difficult."));
        assert_eq!(repetition_span(""), 0);
        // a loop at the end of real speech: found, but the segment is mostly speech
        let tail = "我最近血压很高还有点心痛头也有点晕晕晕晕晕晕晕晕晕晕晕晕";
        assert!(repetition_span(tail) >= 12);
        assert!(!is_loop(tail));
    }

    #[test]
    fn the_vocabulary_hint_said_back_is_dropped_one_term_of_it_is_speech() {
        let hint = Some("阿司匹林、氯吡格雷、胸痛、呼吸困难、头晕");
        assert!(is_hint_echo("阿司匹林、氯吡格雷、胸痛。", hint));
        assert!(is_hint_echo("胸痛、呼吸困难", hint));
        assert!(is_hint_echo(
            "aspirin, clopidogrel",
            Some("aspirin, clopidogrel, chest pain")
        ));
        assert!(!is_hint_echo(
            "aspirin",
            Some("aspirin, clopidogrel, chest pain")
        ));
        assert!(!is_hint_echo("胸痛", hint));
        assert!(!is_hint_echo("我胸痛得厉害，呼吸困难", hint));
        assert!(!is_hint_echo("阿司匹林、氯吡格雷、胸痛。", None));
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
