//! Transcription jobs are durable: `kill -9` during a job, restart, and the job completes; a
//! corrupt WAV fails its own job with a clear error and the next job still completes.
//!
//! No test knob holds the job: the recording is made long enough (the English test call
//! repeated) that the job is still running when the test sees it claimed. The test checks that
//! it really was `running` at the kill, so it cannot pass by finishing early.
//!
//! Needs `ggml-tiny.en.bin` in `models/` or `$SUIFANG_MODEL_DIR`.

use std::path::Path;
use std::time::Duration;

use crate::common::recordings::{
    finished_call, fixture, job_row, model_dir, require_model, said_by, wait_transcribed,
};
use crate::common::serial;
use crate::common::{wait_for, Client, Server};

/// `times` copies of a stereo WAV, back to back.
fn repeat_wav(src: &Path, dst: &Path, times: usize) {
    let mut reader = hound::WavReader::open(src).unwrap();
    let spec = reader.spec();
    let samples: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    let mut writer = hound::WavWriter::create(dst, spec).unwrap();
    for _ in 0..times {
        for s in &samples {
            writer.write_sample(*s).unwrap();
        }
    }
    writer.finalize().unwrap();
}

fn start(dir: &Path) -> Server {
    let model_dir = model_dir();
    Server::start(
        dir,
        "demo",
        &[
            ("SUIFANG_MODEL_DIR", model_dir.to_str().unwrap()),
            ("SUIFANG_TRANSCRIPTION_MODEL", "tiny.en"),
            ("SUIFANG_TRANSCRIPTION_LANGUAGE", "en"),
        ],
    )
}

#[test]
fn a_job_survives_kill_9_and_a_corrupt_wav_fails_alone() {
    let _machine = serial::exclusive();
    require_model("tiny.en");
    let dir = tempfile::tempdir().unwrap();
    let rec_dir = tempfile::tempdir().unwrap();
    let long = rec_dir.path().join("long.wav");
    repeat_wav(&fixture("en_call.wav"), &long, 3);

    let mut server = start(dir.path());
    let long_rec = finished_call(dir.path(), "call-long", None, &long, "complete");
    wait_for(
        "the long job to be claimed",
        Duration::from_secs(60),
        || job_row(dir.path(), long_rec).filter(|j| j.0 == "running"),
    );
    server.child.kill().unwrap(); // SIGKILL: no graceful shutdown
    server.child.wait().unwrap();
    let at_kill = job_row(dir.path(), long_rec).unwrap();
    assert_eq!(
        (at_kill.0.as_str(), at_kill.2),
        ("running", 1),
        "the job must have been cut off mid-run: {at_kill:?}"
    );

    // while the server is down: a corrupt recording, then a good one
    let corrupt = rec_dir.path().join("corrupt.wav");
    let mut bytes = std::fs::read(fixture("en_one_sided.wav")).unwrap()[..200].to_vec();
    bytes[20] = 0x55; // garbage audio format, data cut short
    std::fs::write(&corrupt, &bytes).unwrap();
    let bad_rec = finished_call(dir.path(), "call-corrupt", None, &corrupt, "complete");
    let good_rec = finished_call(
        dir.path(),
        "call-after",
        None,
        &fixture("en_one_sided.wav"),
        "repaired",
    );

    drop(server);
    let server = start(dir.path());
    let nurse = Client::login(&server, "nurse", "nurse-demo-1");
    let t = wait_transcribed(&nurse, "call-long", 300);
    let after = job_row(dir.path(), long_rec).unwrap();
    assert_eq!((after.0.as_str(), after.2), ("done", 2), "{after:?}");
    let patient = said_by(&t, "patient");
    assert_eq!(
        patient.matches("chest pain").count(),
        3,
        "three copies of the call, each transcribed once: {patient}"
    );

    let failed = wait_for("the corrupt job to fail", Duration::from_secs(120), || {
        job_row(dir.path(), bad_rec).filter(|j| j.0 == "failed")
    });
    let error = failed.1.unwrap_or_default();
    assert!(
        error.contains("corrupt.wav"),
        "error names the file: {error}"
    );
    let shown = nurse.get("/api/v1/calls/call-corrupt/transcript").body;
    assert_eq!(shown["jobs"][0]["status"], "failed", "{shown}");
    assert_eq!(shown["jobs"][0]["error"], error.as_str());

    let next = wait_transcribed(&nurse, "call-after", 180);
    assert_eq!(next["transcript"]["recording_id"], good_rec);
    assert!(said_by(&next, "agent").contains("tomorrow"), "{next}");
}
