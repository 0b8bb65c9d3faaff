//! Acceptance: a real softphone (baresip) calls suifang. We answer with a prompt and record;
//! baresip's own recording of what it received must contain our prompt, and our recording's
//! right channel must contain what baresip sent.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use suifang::calls::{Engine, EngineConfig, EngineEvent};
use suifang::media::envelope::speech_match;
use suifang::sip::ua::{CallEvent, CallOutcome, Party};

use crate::common::serial;
use crate::common::sip_peers::{
    baresip_dump, fixtures, free_tcp_port, free_udp_port, read_mono, read_stereo, require_baresip,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baresip_calls_in_and_hears_our_prompt() {
    let _machine = serial::shared();
    if !require_baresip("baresip_calls_in_and_hears_our_prompt") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (prompt, _) = read_mono(&fixtures().join("agent-zh-8k.wav"));
    let patient_wav = fixtures().join("patient-en-8k.wav");
    let (patient, _) = read_mono(&patient_wav);
    let mut engine = Engine::start(EngineConfig::loopback(dir.path().join("recordings")))
        .await
        .expect("engine");

    // baresip "patient" config: sends patient-en (hangs up when it ends), dumps what it hears.
    let conf = dir.path().join("baresip");
    let dumps = dir.path().join("dumps");
    std::fs::create_dir_all(&conf).expect("mkdir");
    std::fs::create_dir_all(&dumps).expect("mkdir");
    let sip_port = free_udp_port();
    let rtp_base = free_udp_port();
    let config = std::fs::read_to_string(fixtures().join("baresip/config"))
        .expect("config")
        .replace("@AUDIO_8K_WAV@", &patient_wav.display().to_string())
        .replace("@RECORD_DIR@", &dumps.display().to_string())
        .replace("127.0.0.1:5080", &format!("127.0.0.1:{sip_port}"))
        .replace("20000-20099", &format!("{rtp_base}-{}", rtp_base + 9))
        .replace("127.0.0.1:4444", &format!("127.0.0.1:{}", free_tcp_port()));
    std::fs::write(conf.join("config"), config).expect("write config");
    let accounts = std::fs::read_to_string(fixtures().join("baresip/accounts"))
        .expect("accounts")
        .replace("127.0.0.1:5080", &format!("127.0.0.1:{sip_port}"));
    std::fs::write(conf.join("accounts"), accounts).expect("write accounts");
    let dial = format!("/dial sip:hotline@{}", engine.sip_addr());
    let mut baresip = Command::new("baresip")
        .args(["-f", &conf.display().to_string(), "-t", "25", "-e", &dial])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start baresip");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let (mut caller, mut outcome, mut recording) = (None, None, None);
    while recording.is_none() {
        let ev = tokio::time::timeout_at(deadline, engine.next_event())
            .await
            .expect("call finished in time")
            .expect("engine alive");
        match ev {
            EngineEvent::Call {
                call,
                event: CallEvent::Incoming { from, .. },
            } => {
                caller = from.uri.user.clone();
                engine
                    .answer(call, "inbound-1", Arc::new(prompt.clone()))
                    .await
                    .expect("answer");
            }
            EngineEvent::Call {
                event: CallEvent::Ended { outcome: o, .. },
                ..
            } => outcome = Some(o),
            EngineEvent::Recording { info, .. } => recording = Some(info),
            EngineEvent::MediaFailed { error, .. } => panic!("media failed: {error}"),
            _ => {}
        }
    }
    engine.shutdown().await;
    // baresip exits by itself (-t 25) at the latest; stop it once its dump is closed.
    let dec = baresip_dump(&dumps, Duration::from_secs(10));
    let _ = baresip.kill();
    let _ = baresip.wait();

    assert_eq!(caller.as_deref(), Some("patient"));
    assert_eq!(
        outcome,
        Some(CallOutcome::Completed { by: Party::Remote }),
        "baresip hung up at the end of its file"
    );
    let info = recording.expect("recording");
    let (_, right, rate) = read_stereo(&info.path);
    let ours = speech_match(&patient, 8000, &right, rate);
    eprintln!("our right channel ~ baresip's audio: {ours:?}");
    assert!(ours.corr > 0.6, "{ours:?}");
    let (heard, heard_rate) = read_mono(&dec);
    let theirs = speech_match(&prompt, 8000, &heard, heard_rate);
    eprintln!("baresip heard our prompt: {theirs:?}");
    assert!(
        theirs.corr > 0.6,
        "baresip's recording contains our prompt: {theirs:?}"
    );
}
