//! Acceptance, end to end: recording retention. Two patients call back through a real sipp
//! phone while no nurse is online, so suifang records two voicemails. A supervisor puts the
//! second on hold. The server is stopped and started again 40 days later (clock offset) with a
//! 30-day retention: the first recording's file is deleted at start-up, its audio answers 410
//! Gone with the reason, its row keeps the SHA-256 and duration, the deletion is in the audit
//! log (whose hash chain still verifies), and the held recording is untouched.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::call_harness::{call, demo_patients, FixedSipp, Suifang, NO_TRUNK_PINGS};
use crate::common::serial;
use crate::common::sip_peers::{fixtures, require_sipp};
use crate::common::{self, sip_peers, wait_for};

/// A voicemail from `number`, dialled by sipp at the trunk's address (`trunk_port`); returns
/// the ended call row (with its recording).
fn voicemail_from(
    suifang: &Suifang,
    trunk_port: u16,
    supervisor: &common::Client,
    patient: &Value,
) -> Value {
    let number = patient["phone"].as_str().expect("phone");
    let scenario = std::fs::read_to_string(fixtures().join("uac_call_bye.xml"))
        .expect("xml")
        .replace("CALLER_NUMBER", number);
    let mut caller = FixedSipp::uac_from(&scenario, suifang.sip, trunk_port);
    assert_eq!(
        caller.wait(Duration::from_secs(30)),
        Some(0),
        "sipp's call from {number} was answered: {}",
        caller.errors()
    );
    let id = wait_for("the call's row", Duration::from_secs(10), || {
        let r = supervisor.get("/api/v1/calls").body;
        r["items"].as_array()?.iter().find_map(|c| {
            (c["direction"] == "inbound" && c["patient_id"] == patient["id"])
                .then(|| c["id"].as_str().map(str::to_owned))
                .flatten()
        })
    });
    wait_for(
        "the voicemail to be recorded",
        Duration::from_secs(10),
        || {
            let c = call(supervisor, &id);
            (c["state"] == "ended" && c["recording"]["status"] == "complete").then_some(c)
        },
    )
}

fn recording_id(call: &Value) -> i64 {
    call["recording"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no recording id: {call}"))
}

#[test]
fn old_audio_is_deleted_with_an_audit_trail_and_held_recordings_are_kept() {
    let _machine = serial::shared();
    if !require_sipp("old_audio_is_deleted_with_an_audit_trail_and_held_recordings_are_kept") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");

    let trunk_port = sip_peers::free_udp_port();
    let trunk = format!("127.0.0.1:{trunk_port}");
    let suifang = Suifang::start(&data, &[("SUIFANG_SIP_TRUNK", &trunk), NO_TRUNK_PINGS]);
    let supervisor = suifang.login("supervisor", "supervisor-demo-1");
    let patients = demo_patients(&supervisor);
    let expired = voicemail_from(&suifang, trunk_port, &supervisor, &patients[0]);
    let held = voicemail_from(&suifang, trunk_port, &supervisor, &patients[1]);
    let (expired_id, held_id) = (recording_id(&expired), recording_id(&held));
    let (expired_file, held_file) = (
        common::recording_file(&suifang.server, &expired),
        common::recording_file(&suifang.server, &held),
    );
    assert!(expired_file.is_file() && held_file.is_file());

    let empty = supervisor.put(
        &format!("/api/v1/recordings/{held_id}/hold"),
        json!({"reason": "  "}),
    );
    assert_eq!(empty.status, 422, "a hold needs a reason: {}", empty.body);
    let hold = supervisor.put(
        &format!("/api/v1/recordings/{held_id}/hold"),
        json!({"reason": "complaint 2026-117"}),
    );
    assert_eq!(hold.status, 200, "{}", hold.body);
    let nurse = suifang.login("nurse", "nurse-demo-1");
    let denied = nurse.put(
        &format!("/api/v1/recordings/{expired_id}/hold"),
        json!({"reason": "mine"}),
    );
    assert_eq!(denied.status, 403, "nurses may not hold: {}", denied.body);
    drop(suifang);

    // 40 days later, with a 30-day retention
    let config = dir.path().join("suifang.toml");
    std::fs::write(&config, "[recordings]\nretention_days = 30\n").expect("config");
    let later = (40 * 86_400).to_string();
    let suifang = Suifang::start(
        &data,
        &[
            ("SUIFANG_CONFIG", &config.display().to_string()),
            ("SUIFANG_CLOCK_OFFSET_SECONDS", &later),
        ],
    );
    assert!(
        suifang
            .stdout_line("audio is deleted after 30 days")
            .is_some(),
        "the retention is announced at start-up"
    );
    wait_for("the expired file to go", Duration::from_secs(15), || {
        (!expired_file.exists()).then_some(())
    });
    assert!(held_file.is_file(), "the held recording's file is kept");

    let supervisor = suifang.login("supervisor", "supervisor-demo-1");
    let gone = supervisor.get(&format!("/api/v1/recordings/{expired_id}/audio"));
    assert_eq!(gone.status, 410, "{}", gone.body);
    assert_eq!(
        gone.body["error"]["code"], "recording_purged",
        "{}",
        gone.body
    );
    let download = supervisor.get(&format!("/api/v1/recordings/{expired_id}/download"));
    assert_eq!(download.status, 410, "{}", download.body);
    let kept = supervisor.get(&format!("/api/v1/recordings/{held_id}/audio"));
    assert_eq!(kept.status, 200, "the held recording still plays");

    // the row keeps what proves what was recorded
    let row = call(&supervisor, expired["id"].as_str().expect("call id"));
    assert_eq!(
        row["recording"]["sha256"], expired["recording"]["sha256"],
        "{row}"
    );
    assert_eq!(
        row["recording"]["duration_ms"],
        expired["recording"]["duration_ms"]
    );
    let list = supervisor.get("/api/v1/recordings?limit=50");
    assert_eq!(list.status, 200, "{}", list.body);
    let item = |id: i64| -> Value {
        list.body["items"]
            .as_array()
            .and_then(|a| a.iter().find(|r| r["recording_id"] == id).cloned())
            .unwrap_or_else(|| panic!("recording {id} not listed: {}", list.body))
    };
    assert!(
        item(expired_id)["purged_at"].is_string(),
        "{}",
        item(expired_id)
    );
    assert_eq!(item(held_id)["purged_at"], Value::Null);
    assert_eq!(item(held_id)["hold_reason"], "complaint 2026-117");

    let too_late = supervisor.put(
        &format!("/api/v1/recordings/{expired_id}/hold"),
        json!({"reason": "too late"}),
    );
    assert_eq!(too_late.status, 409, "{}", too_late.body);

    let admin = suifang.login("admin", "admin-demo-1");
    let audit = admin.get("/api/v1/audit");
    assert_eq!(audit.status, 200, "{}", audit.body);
    let entries = audit.body["items"].as_array().cloned().unwrap_or_default();
    let has = |action: &str, id: i64| {
        entries.iter().any(|e| {
            e["action"] == action
                && e["entity_id"].as_str().and_then(|s| s.parse::<i64>().ok()) == Some(id)
        })
    };
    assert!(
        has("purge_audio", expired_id),
        "purge audited: {}",
        audit.body
    );
    assert!(has("hold", held_id), "hold audited");
    assert!(!has("purge_audio", held_id));
    let verify = admin.get("/api/v1/audit/verify");
    assert_eq!(verify.status, 200, "{}", verify.body);
    assert!(
        verify.body["broken_at"].is_null() && verify.body["rows"].as_i64() > Some(0),
        "audit chain intact: {}",
        verify.body
    );
}
