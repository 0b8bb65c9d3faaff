//! Acceptance, end to end: a nurse with her line connected in headless Chromium dials task
//! after task through a SIP trunk that is a real sipp phone on a fixed port, one `sipp -m 1`
//! after another: busy, decline, temporarily unavailable, not found, and a call she hangs up
//! while it rings (CANCEL). Each must leave the right call row (`end_reason`, `disposition`,
//! `sip_status`) and the right task: still pending with a later attempt and the attempt
//! counted for busy / no answer, a wrong-number status and flag (or the switch to the
//! alternate contact) for 404. Last, with nothing listening on the trunk at all, the call
//! fails as ours and must not use up the patient's attempt.

#[path = "common/browser.rs"]
mod browser;
#[path = "common/call_harness.rs"]
mod call_harness;
mod common;
#[path = "common/sip_peers.rs"]
mod sip_peers;

use std::time::Duration;

use browser::BrowserLine;
use call_harness::{call, wait_for, FixedSipp, Suifang};
use chrono::{DateTime, Utc};
use common::{repo_root, Client};
use serde_json::{json, Value};
use sip_peers::{fixtures, free_udp_port, require_sipp};

/// What one refusal must produce.
struct Case {
    status: u16,
    reason: &'static str,
    end_reason: &'static str,
    disposition: &'static str,
}

const REFUSALS: [Case; 4] = [
    Case {
        status: 486,
        reason: "Busy Here",
        end_reason: "busy",
        disposition: "busy",
    },
    // 603: the patient is there but declined now; retried like busy (see telephony/outcome.rs)
    Case {
        status: 603,
        reason: "Decline",
        end_reason: "declined",
        disposition: "busy",
    },
    Case {
        status: 480,
        reason: "Temporarily Unavailable",
        end_reason: "no_answer",
        disposition: "no_answer",
    },
    Case {
        status: 404,
        reason: "Not Found",
        end_reason: "wrong_number",
        disposition: "wrong_number",
    },
];

fn task(client: &Client, id: i64) -> Value {
    let r = client.get(&format!("/api/v1/tasks/{id}"));
    assert_eq!(r.status, 200, "GET task {id}: {}", r.body);
    r.body
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("not an RFC 3339 time: {v}"))
}

/// Claims the next task; returns (task id, patient id).
fn claim(nurse: &Client) -> (i64, i64) {
    let claim = nurse.post("/api/v1/queue/claim", json!({}));
    assert_eq!(claim.status, 200, "{}", claim.body);
    let t = &claim.body["task"];
    (
        t["id"].as_i64().unwrap_or_else(|| panic!("no task: {t}")),
        t["patient_id"].as_i64().expect("patient id"),
    )
}

/// Dials `task` and waits until the call has ended; returns the call row.
fn dial_until_ended(nurse: &Client, task: i64, limit: Duration) -> Value {
    let dialled = nurse.post(&format!("/api/v1/tasks/{task}/call"), json!({}));
    assert_eq!(dialled.status, 201, "{}", dialled.body);
    let id = dialled.body["id"].as_str().expect("call id").to_owned();
    wait_for(&format!("call {id} to end"), limit, || {
        let c = call(nurse, &id);
        (c["state"] == "ended").then_some(c)
    })
}

fn assert_retry_later(before: &Value, after: &Value, dialled_at: DateTime<Utc>, what: &str) {
    assert_eq!(after["status"], "pending", "{what}: {after}");
    assert_eq!(
        after["attempts_total"].as_i64(),
        before["attempts_total"].as_i64().map(|n| n + 1),
        "{what}: the attempt is counted: {before} -> {after}"
    );
    let next = time(&after["next_attempt_at"]);
    assert!(
        next > time(&before["next_attempt_at"]) && next >= dialled_at + chrono::Duration::hours(1),
        "{what}: retried later (policy: 2 h), not now: {next}"
    );
    assert!(after["flagged"].is_null(), "{what}: {after}");
}

#[test]
fn refusals_cancel_and_a_dead_trunk_dispose_tasks_as_the_retry_policy_says() {
    if !require_sipp("refusals_cancel_and_a_dead_trunk_dispose_tasks_as_the_retry_policy_says") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let trunk_port = free_udp_port();
    let trunk = format!("127.0.0.1:{trunk_port}");
    let suifang = Suifang::start(dir.path(), &[("SUIFANG_SIP_TRUNK", &trunk)]);
    let mic = repo_root().join("tests/fixtures/webrtc/nurse_en_48k.wav");
    let line = BrowserLine::connect(
        &repo_root(),
        &suifang.server.base,
        &mic,
        "nurse",
        "nurse-demo-1",
    );
    let nurse = suifang.login("nurse", "nurse-demo-1");
    let supervisor = suifang.login("supervisor", "supervisor-demo-1");
    let reject = std::fs::read_to_string(fixtures().join("uas_reject.xml")).expect("scenario");
    let mut tasks_seen = Vec::new();

    for case in &REFUSALS {
        let what = format!("{} {}", case.status, case.reason);
        let scenario = reject
            .replace("STATUS_CODE", &case.status.to_string())
            .replace("STATUS_REASON", case.reason);
        let mut sipp = FixedSipp::uas(&scenario, trunk_port);
        let (task_id, patient_id) = claim(&nurse);
        assert!(
            !tasks_seen.contains(&task_id),
            "{what}: a task disposed for retry later must not be offered again now ({task_id})"
        );
        tasks_seen.push(task_id);
        let before = task(&nurse, task_id);
        let dialled_at = Utc::now();
        let ended = dial_until_ended(&nurse, task_id, Duration::from_secs(20));
        assert_eq!(
            sipp.wait(Duration::from_secs(10)),
            Some(0),
            "{what}: sipp saw the whole exchange, our ACK included: {}",
            sipp.errors()
        );
        eprintln!("{what}: {ended}");
        assert_eq!(ended["end_reason"], case.end_reason, "{what}: {ended}");
        assert_eq!(ended["disposition"], case.disposition, "{what}: {ended}");
        assert_eq!(ended["sip_status"], case.status, "{what}: {ended}");
        assert!(ended["answered_at"].is_null(), "{what}: {ended}");
        assert!(ended["recording"].is_null(), "{what}: nothing to record");
        let after = wait_for(&format!("{what}: task disposed"), Duration::from_secs(5), || {
            let t = task(&nurse, task_id);
            (t["attempts_total"] != before["attempts_total"]).then_some(t)
        });
        eprintln!("{what}: task {before} -> {after}");
        assert_eq!(after["last_disposition"], case.disposition, "{what}: {after}");
        assert!(after["lease_owner"].is_null(), "{what}: lease released: {after}");
        if case.disposition == "wrong_number" {
            let patient = supervisor.get(&format!("/api/v1/patients/{patient_id}")).body;
            if patient["alt_phone"].is_string() && before["use_alt_contact"] == false {
                // the own number is wrong: the alternate contact is tried next
                assert_eq!(after["status"], "pending", "{what}: {after}");
                assert_eq!(after["use_alt_contact"], true, "{what}: {after}");
            } else {
                assert_eq!(after["status"], "wrong_number", "{what}: {after}");
                assert_eq!(after["flagged"], "wrong_number", "{what}: {after}");
            }
        } else {
            assert_retry_later(&before, &after, dialled_at, &what);
        }
    }

    // The nurse gives up while it rings: CANCEL (RFC 3261 §9.1), 487 from the phone.
    let scenario = std::fs::read_to_string(fixtures().join("uas_ring_cancel.xml")).expect("xml");
    let mut sipp = FixedSipp::uas(&scenario, trunk_port);
    let (task_id, _) = claim(&nurse);
    assert!(!tasks_seen.contains(&task_id), "{task_id} offered again");
    tasks_seen.push(task_id);
    let before = task(&nurse, task_id);
    let dialled_at = Utc::now();
    let dialled = nurse.post(&format!("/api/v1/tasks/{task_id}/call"), json!({}));
    assert_eq!(dialled.status, 201, "{}", dialled.body);
    let id = dialled.body["id"].as_str().expect("call id").to_owned();
    wait_for("ringing", Duration::from_secs(10), || {
        (call(&nurse, &id)["state"] == "ringing").then_some(())
    });
    let hangup = nurse.post(&format!("/api/v1/calls/{id}/hangup"), json!({}));
    assert_eq!(hangup.status, 200, "{}", hangup.body);
    let ended = wait_for("cancelled call to end", Duration::from_secs(20), || {
        let c = call(&nurse, &id);
        (c["state"] == "ended").then_some(c)
    });
    assert_eq!(
        sipp.wait(Duration::from_secs(10)),
        Some(0),
        "sipp got CANCEL and our ACK for its 487: {}",
        sipp.errors()
    );
    eprintln!("cancel: {ended}");
    assert_eq!(ended["end_reason"], "cancelled_while_ringing", "{ended}");
    assert_eq!(ended["disposition"], "no_answer", "{ended}");
    assert_eq!(ended["sip_status"], 487, "{ended}");
    let after = task(&nurse, task_id);
    assert_eq!(after["last_disposition"], "no_answer", "{after}");
    assert_retry_later(&before, &after, dialled_at, "CANCEL");

    // Nothing listens on the trunk: our failure, not the patient's. The INVITE times out
    // (Timer B, 64·T1 = 32 s, RFC 3261 §17.1.1.2) and the task keeps its attempts and lease.
    assert!(
        std::net::UdpSocket::bind(("127.0.0.1", trunk_port)).is_ok(),
        "the trunk port is free now"
    );
    let (task_id, _) = claim(&nurse);
    assert!(!tasks_seen.contains(&task_id), "{task_id} offered again");
    let before = task(&nurse, task_id);
    let ended = dial_until_ended(&nurse, task_id, Duration::from_secs(60));
    eprintln!("dead trunk: {ended}");
    assert_eq!(ended["end_reason"], "trunk_unreachable", "{ended}");
    assert!(ended["disposition"].is_null(), "{ended}");
    let after = task(&nurse, task_id);
    for key in [
        "status",
        "attempts_total",
        "next_attempt_at",
        "last_disposition",
        "lease_owner",
        "flagged",
    ] {
        assert_eq!(
            after[key], before[key],
            "a dead trunk must not touch the task's {key}: {before} -> {after}"
        );
    }
    // and the nurse can still dial that task once the trunk is back
    let mut sipp = FixedSipp::uas(
        &reject
            .replace("STATUS_CODE", "486")
            .replace("STATUS_REASON", "Busy Here"),
        trunk_port,
    );
    let ended = dial_until_ended(&nurse, task_id, Duration::from_secs(20));
    assert_eq!(sipp.wait(Duration::from_secs(10)), Some(0), "{}", sipp.errors());
    assert_eq!(ended["end_reason"], "busy", "{ended}");
    let after = task(&nurse, task_id);
    assert_retry_later(&before, &after, Utc::now(), "busy after a dead trunk");
    drop(line);
}
