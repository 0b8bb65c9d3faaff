//! Post-call transcription against the real binary: a finished recording that appears in the
//! database is transcribed by the running server, its transcript is served per speaker with
//! timestamps and exported as WebVTT/SRT, it is searchable in English and Chinese, a red-flag
//! phrase on the patient's channel opens an escalation from the transcript, and the recording
//! streams with HTTP Range.
//!
//! Needs `ggml-tiny.en.bin` and `ggml-base.bin` in `models/` or `$SUIFANG_MODEL_DIR`.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::recordings::{
    finished_call, fixture, model_dir, require_model, said_by, task_for_script, wait_transcribed,
};
use crate::common::serial;
use crate::common::{wait_for, Client, Server};

fn start(dir: &std::path::Path, model: &str, language: &str) -> Server {
    require_model(model);
    let model_dir = model_dir();
    Server::start(
        dir,
        "demo",
        &[
            ("SUIFANG_MODEL_DIR", model_dir.to_str().unwrap()),
            ("SUIFANG_TRANSCRIPTION_MODEL", model),
            ("SUIFANG_TRANSCRIPTION_LANGUAGE", language),
        ],
    )
}

/// A raw GET with the client's session: (status, content type, content disposition, body).
fn raw_get(client: &Client, path: &str, range: Option<&str>) -> (u16, String, String, Vec<u8>) {
    let mut req = ureq::get(&format!("{}{path}", client.base))
        .set("Cookie", client.cookie.as_deref().unwrap());
    if let Some(r) = range {
        req = req.set("Range", r);
    }
    let resp = match req.call() {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("GET {path}: {e}"),
    };
    let status = resp.status();
    let ctype = resp.header("content-type").unwrap_or_default().to_string();
    let disp = resp
        .header("content-disposition")
        .unwrap_or_default()
        .to_string();
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut resp.into_reader(), &mut body).unwrap();
    (status, ctype, disp, body)
}

/// Cue timings of an export: every `A --> B` line, parsed to milliseconds.
fn cue_times(text: &str, sep: char) -> Vec<(u64, u64)> {
    let ms = |t: &str| -> u64 {
        let (hms, frac) = t.split_once(sep).expect("fraction");
        let p: Vec<u64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
        assert_eq!(p.len(), 3, "{t}");
        assert_eq!(frac.len(), 3, "{t}");
        ((p[0] * 60 + p[1]) * 60 + p[2]) * 1000 + frac.parse::<u64>().unwrap()
    };
    text.lines()
        .filter_map(|l| l.split_once(" --> "))
        .map(|(a, b)| (ms(a), ms(b)))
        .collect()
}

#[test]
fn a_finished_english_call_is_transcribed_exported_searched_and_escalated() {
    let _machine = serial::exclusive();
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "tiny.en", "en");
    // recordings live outside the repo, as they would under recordings/
    let rec_dir = tempfile::tempdir().unwrap();
    let wav = rec_dir.path().join("call-en.wav");
    std::fs::copy(fixture("en_call.wav"), &wav).unwrap();
    let task = task_for_script(dir.path(), "chest-pain");
    let rec = finished_call(dir.path(), "call-en-1", Some(task), &wav, "complete");
    // the nurse's side only; the patient's channel is line hiss
    let one_sided = finished_call(
        dir.path(),
        "call-en-2",
        None,
        &fixture("en_one_sided.wav"),
        "repaired",
    );

    let nurse = Client::login(&server, "nurse", "nurse-demo-1");
    let t = wait_transcribed(&nurse, "call-en-1", 180);
    eprintln!("{t:#}");
    assert_eq!(t["transcript"]["model"], "tiny.en");
    assert_eq!(t["transcript"]["recording_id"], rec);
    let patient = said_by(&t, "patient");
    let agent = said_by(&t, "agent");
    assert!(patient.contains("chest pain"), "patient: {patient}");
    assert!(agent.contains("nurse"), "agent: {agent}");
    assert!(!patient.contains("nurse") && !agent.contains("chest pain"));
    let segs = t["segments"].as_array().unwrap();
    let starts: Vec<u64> = segs
        .iter()
        .map(|s| s["start_ms"].as_u64().unwrap())
        .collect();
    assert!(
        starts.windows(2).all(|w| w[0] <= w[1]),
        "time order: {starts:?}"
    );
    // en_call.turns: the patient speaks from 6.45 s to 10.21 s
    let chest = segs
        .iter()
        .find(|s| s["text"].as_str().unwrap().to_lowercase().contains("chest"))
        .unwrap();
    let (start, end) = (
        chest["start_ms"].as_u64().unwrap(),
        chest["end_ms"].as_u64().unwrap(),
    );
    assert!(
        (5_500..=7_500).contains(&start) && end <= 11_000 && end > start,
        "{chest}"
    );
    assert!(chest["audio"]
        .as_str()
        .unwrap()
        .starts_with(&format!("/api/v1/recordings/{rec}/audio#t=")));
    // every segment says whether whisper was unsure of it, from its stored confidence
    for s in segs {
        let confidence = s["confidence"].as_f64().unwrap();
        assert_eq!(
            s["low_confidence"].as_bool(),
            Some(confidence < f64::from(suifang::transcribe::LOW_CONFIDENCE)),
            "{s}"
        );
    }
    // the clearly spoken red-flag sentence is not low-confidence (it escalates on its own)
    assert_eq!(chest["low_confidence"], false, "{chest}");

    // the silent channel has no segments
    let quiet = wait_transcribed(&nurse, "call-en-2", 180);
    assert_eq!(quiet["transcript"]["recording_id"], one_sided);
    assert!(said_by(&quiet, "agent").contains("tomorrow"), "{quiet}");
    assert!(
        quiet["segments"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["speaker"] == "agent"),
        "{quiet}"
    );

    // exports
    let (status, ctype, disp, body) = raw_get(
        &nurse,
        "/api/v1/calls/call-en-1/transcript?format=vtt",
        None,
    );
    let vtt = String::from_utf8(body).unwrap();
    assert_eq!(status, 200, "{vtt}");
    assert!(ctype.starts_with("text/vtt"), "{ctype}");
    assert!(
        disp.starts_with("attachment; filename=\"call-call-en-1-") && disp.ends_with(".vtt\""),
        "{disp}"
    );
    assert!(vtt.starts_with("WEBVTT\n\n1\n"), "{vtt}");
    assert!(
        vtt.contains("<v patient>") && vtt.contains("<v agent>"),
        "{vtt}"
    );
    let vtt_times = cue_times(&vtt, '.');
    assert_eq!(vtt_times.len(), segs.len(), "{vtt}");
    assert_eq!(vtt_times[0].0, starts[0]);
    let (status, ctype, disp, body) = raw_get(
        &nurse,
        "/api/v1/calls/call-en-1/transcript?format=srt",
        None,
    );
    let srt = String::from_utf8(body).unwrap();
    assert_eq!(status, 200);
    assert!(ctype.starts_with("application/x-subrip"), "{ctype}");
    assert!(disp.ends_with(".srt\""), "{disp}");
    assert_eq!(cue_times(&srt, ','), vtt_times);
    let blocks: Vec<&str> = srt.trim_end().split("\n\n").collect();
    for (i, b) in blocks.iter().enumerate() {
        let lines: Vec<&str> = b.lines().collect();
        assert_eq!(lines[0], (i + 1).to_string(), "{srt}");
        assert!(lines[2].starts_with("[agent] ") || lines[2].starts_with("[patient] "));
    }
    assert_eq!(
        nurse
            .get("/api/v1/calls/call-en-1/transcript?format=pdf")
            .status,
        422
    );
    assert_eq!(nurse.get("/api/v1/calls/nope/transcript").status, 404);

    // search: trigram index from three characters, substring scan below
    let found = nurse.get("/api/v1/transcripts/search?q=Chest%20Pain");
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(found.body["mode"], "fts");
    let items = found.body["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .any(|h| h["call_id"] == "call-en-1" && h["speaker"] == "patient"),
        "{}",
        found.body
    );
    let short = nurse.get("/api/v1/transcripts/search?q=I");
    assert_eq!(short.body["mode"], "substring");
    assert!(!short.body["items"].as_array().unwrap().is_empty());
    assert!(nurse
        .get("/api/v1/transcripts/search?q=zebra%20crossing")
        .body["items"]
        .as_array()
        .unwrap()
        .is_empty());

    // the red flag on the patient's channel escalated, marked from the transcript
    let doctor = Client::login(&server, "doctor", "doctor-demo-1");
    let list = doctor.get("/api/v1/escalations").body;
    let esc = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["rule"] == "cp-transcript-chest-pain"
                || e["key"]["rule"] == "cp-transcript-chest-pain"
        })
        .unwrap_or_else(|| panic!("no transcript escalation: {list}"))
        .clone();
    let one = doctor.get(&format!("/api/v1/escalations/{}", esc["id"]));
    assert_eq!(one.status, 200, "{}", one.body);
    let evidence = find_evidence(&one.body);
    let source = &evidence["source"];
    assert_eq!(source["kind"], "transcript", "{}", one.body);
    assert_eq!(source["call"], "call-en-1");
    assert_eq!(source["phrase"], "chest pain");
    assert!(source["segment"]
        .as_str()
        .unwrap()
        .to_lowercase()
        .contains("chest pain"));
    let link = source["audio"].as_str().unwrap();
    assert!(
        link.starts_with(&format!("/api/v1/recordings/{rec}/audio#t=")),
        "{link}"
    );
    let second: f64 = link.rsplit("#t=").next().unwrap().parse().unwrap();
    assert!((5.5..=7.5).contains(&second), "{link}");

    // the recording streams with Range, and the read is audited
    let wav_bytes = std::fs::read(&wav).unwrap();
    let (status, ctype, _, body) =
        raw_get(&doctor, &format!("/api/v1/recordings/{rec}/audio"), None);
    assert_eq!((status, ctype.as_str()), (200, "audio/wav"));
    assert_eq!(body, wav_bytes);
    let (status, _, _, body) = raw_get(
        &nurse,
        &format!("/api/v1/recordings/{rec}/audio"),
        Some("bytes=8-11"),
    );
    assert_eq!((status, body.as_slice()), (206, &b"WAVE"[..]));
    let (status, _, _, _) = raw_get(
        &nurse,
        &format!("/api/v1/recordings/{rec}/audio"),
        Some(&format!("bytes={}-", wav_bytes.len())),
    );
    assert_eq!(status, 416);
    let admin = Client::login(&server, "admin", "admin-demo-1");
    let audit = admin.get("/api/v1/audit").body.to_string();
    assert!(audit.contains("bytes=8-11"), "{audit}");

    // re-transcription: supervisors, installed models only, old transcript kept
    assert_eq!(
        nurse
            .post(
                &format!("/api/v1/recordings/{rec}/transcribe"),
                json!({"model": "tiny.en"})
            )
            .status,
        403
    );
    let supervisor = Client::login(&server, "supervisor", "supervisor-demo-1");
    let bad = supervisor.post(
        &format!("/api/v1/recordings/{rec}/transcribe"),
        json!({"model": "large-v3"}),
    );
    assert_eq!(
        (bad.status, bad.body["error"]["field"].as_str()),
        (422, Some("model"))
    );
    let again = supervisor.post(
        &format!("/api/v1/recordings/{rec}/transcribe"),
        json!({"model": "tiny.en"}),
    );
    assert_eq!(again.status, 202, "{}", again.body);
    let new_id = again.body["transcript_id"].as_i64().unwrap();
    let first_id = t["transcript"]["id"].as_i64().unwrap();
    wait_for("re-transcription", Duration::from_secs(180), || {
        let r = nurse.get("/api/v1/calls/call-en-1/transcript").body;
        (r["transcript"]["id"] == new_id).then_some(())
    });
    let old = nurse.get(&format!(
        "/api/v1/calls/call-en-1/transcript?transcript={first_id}"
    ));
    assert_eq!(old.body["segments"], t["segments"]);
    assert_eq!(old.body["jobs"].as_array().unwrap().len(), 2);
}

/// The escalation's evidence entry that came from a transcript.
fn find_evidence(e: &Value) -> Value {
    let root = if e.get("escalation").is_some() {
        &e["escalation"]
    } else {
        e
    };
    root["evidence"]
        .as_array()
        .unwrap_or_else(|| panic!("no evidence: {e}"))
        .iter()
        .find(|x| x["source"]["kind"] == "transcript")
        .cloned()
        .unwrap_or_else(|| panic!("no transcript evidence: {e}"))
}

#[test]
fn a_mandarin_call_is_transcribed_in_simplified_characters_and_searchable() {
    let _machine = serial::exclusive();
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "base", "zh");
    finished_call(
        dir.path(),
        "call-zh-1",
        None,
        &fixture("zh_call.wav"),
        "complete",
    );
    let nurse = Client::login(&server, "nurse", "nurse-demo-1");
    let t = wait_transcribed(&nurse, "call-zh-1", 300);
    eprintln!("{t:#}");
    assert_eq!(t["transcript"]["language"], "zh");
    let patient = said_by(&t, "patient");
    let agent = said_by(&t, "agent");
    assert!(patient.contains("心痛"), "patient: {patient}");
    assert!(agent.contains("您好"), "agent: {agent}");
    for trad in ['點', '壓', '醫', '護'] {
        assert!(
            !patient.contains(trad) && !agent.contains(trad),
            "traditional {trad}: {t}"
        );
    }
    // two characters: substring scan; three or more: the trigram index
    for (q, mode) in [("心痛", "substring"), ("点心痛", "fts")] {
        let r = nurse.get(&format!("/api/v1/transcripts/search?q={}", urlencode(q)));
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["mode"], mode, "{q}");
        let items = r.body["items"].as_array().unwrap();
        assert!(
            items
                .iter()
                .any(|h| h["call_id"] == "call-zh-1" && h["speaker"] == "patient"),
            "{q}: {}",
            r.body
        );
    }
    assert!(nurse
        .get(&format!(
            "/api/v1/transcripts/search?q={}",
            urlencode("胃疼")
        ))
        .body["items"]
        .as_array()
        .unwrap()
        .is_empty());
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}
