//! Transcript exports for players and editors: WebVTT (W3C, browsers' `<track>`), SubRip (SRT)
//! and JSON. Cues are labelled with the speaker, so a call reads as a dialogue.

use std::fmt::Write;

/// One cue: a speaker's segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Cue<'a> {
    pub speaker: &'a str,
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: &'a str,
}

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Json,
    Vtt,
    Srt,
}

impl Format {
    /// The media type to serve it with.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Vtt => "text/vtt; charset=utf-8",
            Format::Srt => "application/x-subrip; charset=utf-8",
        }
    }

    /// File extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Vtt => "vtt",
            Format::Srt => "srt",
        }
    }
}

/// `HH:MM:SS.mmm` (VTT) or `HH:MM:SS,mmm` (SRT).
fn timestamp(ms: u64, sep: char) -> String {
    let (h, m, s, f) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    format!("{h:02}:{m:02}:{s:02}{sep}{f:03}")
}

/// A cue's text on one line: a newline would end the cue early, and `-->` would confuse parsers.
fn one_line(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace("-->", "->")
}

/// WebVTT: `<v speaker>` voice spans (WebVTT §4.2.2); `&`, `<` and `>` escaped.
pub fn to_vtt(cues: &[Cue]) -> String {
    let mut out = String::from("WEBVTT\n");
    for (i, c) in cues.iter().enumerate() {
        let text = one_line(c.text)
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        let _ = write!(
            out,
            "\n{}\n{} --> {}\n<v {}>{}\n",
            i + 1,
            timestamp(c.start_ms, '.'),
            timestamp(c.end_ms.max(c.start_ms), '.'),
            c.speaker,
            text
        );
    }
    out
}

/// SubRip: numbered cues, comma before milliseconds, the speaker in brackets.
pub fn to_srt(cues: &[Cue]) -> String {
    let mut out = String::new();
    for (i, c) in cues.iter().enumerate() {
        let _ = write!(
            out,
            "{}\n{} --> {}\n[{}] {}\n\n",
            i + 1,
            timestamp(c.start_ms, ','),
            timestamp(c.end_ms.max(c.start_ms), ','),
            c.speaker,
            one_line(c.text)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cues() -> Vec<Cue<'static>> {
        vec![
            Cue {
                speaker: "agent",
                start_ms: 500,
                end_ms: 5_650,
                text: "Hello <there> & welcome",
            },
            Cue {
                speaker: "patient",
                start_ms: 3_723_456,
                end_ms: 3_725_000,
                text: "我最近血压很高\n--> 还有点心痛",
            },
        ]
    }

    #[test]
    fn vtt_has_header_voice_spans_and_escaped_text() {
        assert_eq!(
            to_vtt(&cues()),
            "WEBVTT\n\n1\n00:00:00.500 --> 00:00:05.650\n<v agent>Hello &lt;there&gt; &amp; welcome\n\
             \n2\n01:02:03.456 --> 01:02:05.000\n<v patient>我最近血压很高 -&gt; 还有点心痛\n"
        );
    }

    #[test]
    fn srt_numbers_cues_with_comma_milliseconds() {
        assert_eq!(
            to_srt(&cues()),
            "1\n00:00:00,500 --> 00:00:05,650\n[agent] Hello <there> & welcome\n\n\
             2\n01:02:03,456 --> 01:02:05,000\n[patient] 我最近血压很高 -> 还有点心痛\n\n"
        );
        assert_eq!(to_srt(&[]), "");
        assert_eq!(to_vtt(&[]), "WEBVTT\n");
    }
}
