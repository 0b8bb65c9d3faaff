//! The simulated patient phone, run as the real binary on UDP: a call to a number is answered
//! with the patient's recorded speech and RFC 4733 digits; busy/decline numbers are refused with
//! the right SIP status.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use suifang::calls::{Engine, EngineConfig, EngineEvent};
use suifang::media::envelope::speech_match;
use suifang::sip::ua::{CallEvent, CallOutcome};
use suifang::sip::uri::SipUri;

use crate::common::serial;
use crate::common::sip_peers;
use crate::common::sip_peers::{free_udp_port, read_stereo, udp_port_bound};

struct Sim(Child);

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_sim(port: u16) -> Sim {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let child = Command::new(env!("CARGO_BIN_EXE_suifang"))
        .args([
            "sim-patient",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--ring-ms",
            "300",
            "--hangup-after",
            "8",
        ])
        .arg("--audio")
        .arg(root.join("prompts/demo/patient-en.wav"))
        .env("SUIFANG_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start sim-patient");
    let mut sim = Sim(child);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !udp_port_bound(port) {
        if let Ok(Some(status)) = sim.0.try_wait() {
            panic!("sim-patient exited before binding udp {port}: {status}");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "sim-patient did not bind udp {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    sim
}

/// Places one call and returns (outcome, digits heard, recording path).
async fn call(
    engine: &mut Engine,
    target: &str,
    id: &str,
) -> (Option<CallOutcome>, String, Option<std::path::PathBuf>) {
    let target = SipUri::parse(target).expect("uri");
    let silence = Arc::new(vec![0i16; 8000]);
    let call = engine
        .place_call(target, id, silence)
        .await
        .expect("place call");
    let (mut outcome, mut digits, mut recording) = (None, String::new(), None);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while outcome.is_none()
        || recording.is_none() && matches!(outcome, Some(CallOutcome::Completed { .. }))
    {
        let event = tokio::time::timeout_at(deadline, engine.next_event())
            .await
            .expect("call finished in time")
            .expect("engine running");
        match event {
            EngineEvent::Call {
                call: c,
                event: CallEvent::Ended { outcome: o, .. },
            } if c == call => outcome = Some(o),
            EngineEvent::Dtmf { call: c, digit } if c == call => digits.extend(digit.digit),
            EngineEvent::Recording { call: c, info } if c == call => recording = Some(info.path),
            _ => {}
        }
    }
    (outcome, digits, recording)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulated_patient_answers_speaks_sends_digits_and_refuses_on_demand() {
    let _machine = serial::shared();
    let port = free_udp_port();
    let _sim = start_sim(port);
    let dir = tempfile::tempdir().unwrap();
    let mut engine = Engine::start(EngineConfig::loopback(dir.path().join("rec")))
        .await
        .expect("engine");

    let (outcome, digits, recording) = call(
        &mut engine,
        &format!("sip:+8613800000001@127.0.0.1:{port}"),
        "sim-answer",
    )
    .await;
    assert!(
        matches!(outcome, Some(CallOutcome::Completed { .. })),
        "{outcome:?}"
    );
    assert_eq!(digits, "1#");
    let (_, right, rate) = read_stereo(&recording.expect("recording"));
    let (reference, ref_rate) = sip_peers::read_mono(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/demo/patient-en.wav"),
    );
    let m = speech_match(&reference, ref_rate, &right, rate);
    assert!(
        m.corr > 0.6,
        "the patient's speech is on the right channel: {m:?}"
    );

    for (user, expected) in [
        ("busy", CallOutcome::Busy),
        ("decline", CallOutcome::Declined),
        ("wrong", CallOutcome::WrongNumber),
    ] {
        let (outcome, _, _) = call(
            &mut engine,
            &format!("sip:{user}@127.0.0.1:{port}"),
            &format!("sim-{user}"),
        )
        .await;
        assert_eq!(outcome, Some(expected), "{user}");
    }
    engine.shutdown().await;
}
