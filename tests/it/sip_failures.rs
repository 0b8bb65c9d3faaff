//! Acceptance against real sipp peers: refusals map to outcomes, CANCEL (nurse hang-up and ring
//! timeout) is accepted by sipp, and a patient-side hold re-INVITE is answered recvonly.

use std::sync::Arc;
use std::time::Duration;

use suifang::calls::{Engine, EngineConfig, EngineEvent};
use suifang::sip::ua::{CallEvent, CallHandle, CallOutcome, Party};
use suifang::sip::uri::SipUri;

use crate::common::serial;
use crate::common::sip_peers::{fixtures, require_sipp, Sipp};

fn scenario(name: &str) -> String {
    std::fs::read_to_string(fixtures().join(name)).expect("scenario fixture")
}

async fn engine(ring_timeout: Duration) -> (Engine, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = EngineConfig::loopback(dir.path().join("recordings"));
    cfg.ring_timeout = ring_timeout;
    (Engine::start(cfg).await.expect("engine"), dir)
}

async fn call(engine: &Engine, sipp: &Sipp) -> CallHandle {
    let target = SipUri::parse(&format!("sip:patient@127.0.0.1:{}", sipp.sip_port)).expect("uri");
    engine
        .place_call(target, "failure-test", Arc::new(vec![0; 8000]))
        .await
        .expect("place call")
}

/// Collects this call's events until it ends; `on_ringing` runs at the first 180.
async fn until_ended(
    engine: &mut Engine,
    call: CallHandle,
    mut on_ringing: impl FnMut() -> bool,
) -> (Vec<CallEvent>, CallOutcome) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    loop {
        let ev = tokio::time::timeout_at(deadline, engine.next_event())
            .await
            .expect("call ended within 30 s")
            .expect("engine alive");
        if let EngineEvent::Call { call: c, event } = ev {
            if c != call {
                continue;
            }
            if let CallEvent::Ended { outcome, .. } = event {
                return (seen, outcome);
            }
            if matches!(event, CallEvent::Progress { status: 180, .. }) && on_ringing() {
                engine.hangup(call).await.expect("hangup");
            }
            seen.push(event);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_map_to_outcomes() {
    let _machine = serial::shared();
    if !require_sipp("refusals_map_to_outcomes") {
        return;
    }
    for (code, reason, want) in [
        (486, "Busy Here", CallOutcome::Busy),
        (603, "Decline", CallOutcome::Declined),
        (404, "Not Found", CallOutcome::WrongNumber),
        (480, "Temporarily Unavailable", CallOutcome::NoAnswer),
    ] {
        let text = scenario("uas_reject.xml")
            .replace("STATUS_CODE", &code.to_string())
            .replace("STATUS_REASON", reason);
        let mut sipp = Sipp::uas(&text);
        let (mut engine, _dir) = engine(Duration::from_secs(45)).await;
        let c = call(&engine, &sipp).await;
        let (events, outcome) = until_ended(&mut engine, c, || false).await;
        assert_eq!(outcome, want, "{code}");
        assert!(
            events
                .iter()
                .any(|e| matches!(e, CallEvent::Progress { status: 180, .. })),
            "{code}: ringing seen"
        );
        assert_eq!(
            sipp.wait(Duration::from_secs(10)),
            Some(0),
            "{code}: sipp saw our ACK"
        );
        engine.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nurse_hangup_while_ringing_cancels() {
    let _machine = serial::shared();
    if !require_sipp("nurse_hangup_while_ringing_cancels") {
        return;
    }
    let mut sipp = Sipp::uas(&scenario("uas_ring_cancel.xml"));
    let (mut engine, _dir) = engine(Duration::from_secs(45)).await;
    let c = call(&engine, &sipp).await;
    let (_, outcome) = until_ended(&mut engine, c, || true).await;
    assert_eq!(outcome, CallOutcome::Cancelled);
    assert_eq!(
        sipp.wait(Duration::from_secs(10)),
        Some(0),
        "sipp accepted CANCEL and our ACK of 487"
    );
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ring_timeout_is_no_answer() {
    let _machine = serial::shared();
    if !require_sipp("ring_timeout_is_no_answer") {
        return;
    }
    let mut sipp = Sipp::uas(&scenario("uas_ring_cancel.xml"));
    let (mut engine, _dir) = engine(Duration::from_secs(2)).await;
    // the ring timer starts when the INVITE goes out, inside `call`: measure from before it
    let started = std::time::Instant::now();
    let c = call(&engine, &sipp).await;
    let (_, outcome) = until_ended(&mut engine, c, || false).await;
    assert_eq!(outcome, CallOutcome::NoAnswer);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "not before the ring timeout"
    );
    assert_eq!(sipp.wait(Duration::from_secs(10)), Some(0));
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patient_hold_reinvite_is_answered_recvonly() {
    let _machine = serial::shared();
    if !require_sipp("patient_hold_reinvite_is_answered_recvonly") {
        return;
    }
    let mut sipp = Sipp::uas(&scenario("uas_hold.xml"));
    let (mut engine, _dir) = engine(Duration::from_secs(45)).await;
    let c = call(&engine, &sipp).await;
    let (events, outcome) = until_ended(&mut engine, c, || false).await;
    assert!(events
        .iter()
        .any(|e| matches!(e, CallEvent::Answered { .. })));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, CallEvent::MediaChanged { media } if media.remote_holds())),
        "hold reported: {events:?}"
    );
    assert_eq!(outcome, CallOutcome::Completed { by: Party::Remote });
    assert_eq!(
        sipp.wait(Duration::from_secs(10)),
        Some(0),
        "sipp found a=recvonly in our 200"
    );
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_inbound_call_is_refused_after_ring_timeout() {
    let _machine = serial::shared();
    if !require_sipp("unanswered_inbound_call_is_refused_after_ring_timeout") {
        return;
    }
    let (mut engine, _dir) = engine(Duration::from_secs(2)).await;
    let started = std::time::Instant::now();
    let mut sipp = Sipp::uac(&scenario("uac_expect_480.xml"), engine.sip_addr());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut caller = None;
    let outcome = loop {
        let ev = tokio::time::timeout_at(deadline, engine.next_event())
            .await
            .expect("events in time")
            .expect("engine alive");
        match ev {
            EngineEvent::Call {
                event: CallEvent::Incoming { from, .. },
                ..
            } => caller = from.uri.user.clone(),
            EngineEvent::Call {
                event: CallEvent::Ended { outcome, .. },
                ..
            } => break outcome,
            _ => {}
        }
    };
    assert_eq!(
        caller.as_deref(),
        Some("13800000000"),
        "caller number available for patient matching"
    );
    assert_eq!(outcome, CallOutcome::NoAnswer);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "refused only after the ring timeout"
    );
    assert_eq!(
        sipp.wait(Duration::from_secs(10)),
        Some(0),
        "sipp got 480 and sent its ACK"
    );
    engine.shutdown().await;
}

async fn register_against_sipp(
    password: &str,
) -> (suifang::sip::ua::RegistrationState, Option<i32>) {
    let mut sipp = Sipp::uas(&scenario("uas_registrar.xml"));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = EngineConfig::loopback(dir.path().join("recordings"));
    cfg.credentials = Some(suifang::sip::ua::Credentials {
        user: "suifang".into(),
        password: password.into(),
    });
    cfg.registrar = Some(SipUri::parse(&format!("sip:127.0.0.1:{}", sipp.sip_port)).expect("uri"));
    cfg.register_expires = 3600;
    let mut engine = Engine::start(cfg).await.expect("engine");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let state = loop {
        let ev = tokio::time::timeout_at(deadline, engine.next_event())
            .await
            .expect("registration result in time")
            .expect("engine alive");
        if let EngineEvent::Registration(state) = ev {
            break state;
        }
    };
    let code = sipp.wait(Duration::from_secs(10));
    engine.shutdown().await;
    (state, code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_with_digest_verified_by_sipp() {
    let _machine = serial::shared();
    if !require_sipp("registers_with_digest_verified_by_sipp") {
        return;
    }
    let (state, code) = register_against_sipp("secret").await;
    assert_eq!(
        state,
        suifang::sip::ua::RegistrationState::Registered {
            expires: Duration::from_secs(600)
        }
    );
    assert_eq!(code, Some(0), "sipp's verifyauth accepted our digest");
    let (state, code) = register_against_sipp("wrong").await;
    assert_eq!(
        state,
        suifang::sip::ua::RegistrationState::Failed { status: Some(403) }
    );
    assert_ne!(code, Some(0), "wrong password is rejected by sipp");
}
