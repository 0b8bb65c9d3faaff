//! Acceptance, end to end with real peers: a nurse's SIP desk phone (baresip) registers to
//! suifang with digest and takes her calls without a browser.
//!
//! - Registration: an admin sets her extension and SIP password; a wrong password is refused
//!   and audited; the right one registers and shows in the API; after `kill -9` and a restart
//!   the binding is still there and calls are routed to it; a desk phone that does not answer
//!   (or a nurse who gives up while it rings) does not touch the task.
//! - Click-to-call: the nurse dials a task, her desk phone rings and answers, the patient
//!   (baresip on the trunk) is dialled and bridged: suifang's recording holds the desk phone's
//!   audio on the left and the patient's on the right, and the desk phone's own recording
//!   holds the patient.
//! - The desk phone dials a patient's national number itself (authenticated with 407), and a
//!   patient's call-back rings the desk phone.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use suifang::media::envelope::{best_lag_correlation, rms_envelope, speech_match};

use crate::common;
use crate::common::call_harness::{call, chunked_match, dialling, padded, Baresip, Suifang};
use crate::common::serial;
use crate::common::sip_peers::{fixtures, free_udp_port, read_mono, read_stereo, require_baresip};
use crate::common::{repo_root, run_with_stdin, wait_for, Client};

const DESK_PASSWORD: &str = "desk-phone-1001";

/// `secs_before` of silence, then `src`, then `secs_after` of silence (8 kHz, for baresip).
fn framed(src: &Path, secs_before: u32, secs_after: u32, dir: &Path, name: &str) -> PathBuf {
    let out = dir.join(name);
    let status = std::process::Command::new("sox")
        .arg(src)
        .arg(&out)
        .args(["pad", &secs_before.to_string(), &secs_after.to_string()])
        .status()
        .expect("sox");
    assert!(status.success(), "sox pad failed");
    out
}

/// [`chunked_match`] of `speech` wherever it starts in `rec` (the phones' timelines differ by
/// however long the other party took to answer): the best envelope lag within 30 s first,
/// then the chunk-by-chunk check from a second before it.
fn found(speech: &[i16], rec: &[i16]) -> f64 {
    let lag = best_lag_correlation(
        &rms_envelope(speech, 8000, 20),
        &rms_envelope(rec, 8000, 20),
        1500,
    )
    .lag_frames;
    let start = usize::try_from(lag - 50).unwrap_or(0) * 160;
    chunked_match(speech, rec.get(start..).unwrap_or(&[]))
}

fn me(client: &Client) -> i64 {
    client.get("/api/v1/me").body["user"]["id"]
        .as_i64()
        .expect("me")
}

fn registrations(client: &Client) -> Vec<Value> {
    let r = client.get("/api/v1/telephony/registrations");
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"].as_array().cloned().unwrap_or_default()
}

/// Waits until extension `ext` is registered; returns its row.
fn registered(client: &Client, ext: &str, limit: Duration) -> Value {
    wait_for(&format!("extension {ext} to register"), limit, || {
        registrations(client)
            .into_iter()
            .find(|r| r["extension"] == ext)
    })
}

/// Waits until the registrar holds `n` desk-phone accounts.
fn accounts_loaded(client: &Client, n: u64) {
    wait_for(
        "the registrar to load the accounts",
        Duration::from_secs(10),
        || (client.get("/api/v1/telephony").body["agent_accounts"] == n).then_some(()),
    );
}

fn audit(admin: &Client) -> Vec<Value> {
    admin.get("/api/v1/audit").body["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn task(client: &Client, id: i64) -> Value {
    let r = client.get(&format!("/api/v1/tasks/{id}"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

fn claim(nurse: &Client) -> (i64, i64) {
    let c = nurse.post("/api/v1/queue/claim", json!({}));
    assert_eq!(c.status, 200, "{}", c.body);
    let t = &c.body["task"];
    (
        t["id"].as_i64().expect("task id"),
        t["patient_id"].as_i64().expect("patient id"),
    )
}

fn ended(client: &Client, id: &str, recorded: bool, limit: Duration) -> Value {
    wait_for(&format!("call {id} to end"), limit, || {
        let c = call(client, id);
        let done = c["state"] == "ended" && (!recorded || c["recording"]["status"] == "complete");
        done.then_some(c)
    })
}

fn log_kinds(c: &Value) -> Vec<String> {
    c["events"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|x| {
                    format!(
                        "{} {}",
                        x["kind"].as_str().unwrap_or(""),
                        x["detail"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The task fields a call that never reached the patient must leave alone.
fn untouched(before: &Value, after: &Value, what: &str) {
    for key in [
        "status",
        "attempts_total",
        "next_attempt_at",
        "last_disposition",
        "lease_owner",
    ] {
        assert_eq!(
            after[key], before[key],
            "{what}: task {key}: {before} -> {after}"
        );
    }
}

#[test]
fn a_desk_phone_registers_with_digest_survives_a_restart_and_unanswered_rings_spare_the_task() {
    let _machine = serial::exclusive();
    if !require_baresip("desk phone registration") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // a short agent ring so the unanswered case is quick
    let config = dir.path().join("suifang.toml");
    std::fs::write(&config, "[sip]\nagent_ring_seconds = 3\n").expect("config");
    let config = config.display().to_string();
    let trunk = format!("127.0.0.1:{}", free_udp_port());
    let env = [
        ("SUIFANG_CONFIG", config.as_str()),
        ("SUIFANG_SIP_TRUNK", trunk.as_str()),
    ];
    let suifang = Suifang::start(dir.path(), &env);
    let admin = suifang.login("admin", "admin-demo-1");
    let nurse = suifang.login("nurse", "nurse-demo-1");
    let supervisor = suifang.login("supervisor", "supervisor-demo-1");
    let nurse_id = me(&nurse);
    let path = format!("/api/v1/users/{nurse_id}/sip");

    // only admins set credentials; the login password and bad extensions are refused
    let body = json!({"extension": "1001", "password": DESK_PASSWORD});
    assert_eq!(nurse.put(&path, body.clone()).status, 403);
    let same = admin.put(
        &path,
        json!({"extension": "1001", "password": "nurse-demo-1"}),
    );
    assert_eq!(same.status, 422, "{}", same.body);
    assert_eq!(same.body["error"]["field"], "password", "{}", same.body);
    let bad = admin.put(
        &path,
        json!({"extension": "+8613", "password": DESK_PASSWORD}),
    );
    assert_eq!(bad.status, 422, "{}", bad.body);
    let set = admin.put(&path, body);
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(set.body["realm"], "suifang");
    let exts = supervisor.get("/api/v1/telephony/extensions").body;
    assert_eq!(exts["items"][0]["extension"], "1001", "{exts}");
    assert!(!exts.to_string().contains("ha1"), "no hashes shown: {exts}");
    accounts_loaded(&supervisor, 1);

    // a wrong password is refused, logged in the audit, and registers nothing
    let wav = padded(
        &fixtures().join("agent-zh-8k.wav"),
        30,
        dir.path(),
        "desk.wav",
    );
    let wrong = Baresip::desk_phone(
        &wav,
        "1001",
        "not-the-password",
        suifang.sip,
        free_udp_port(),
        false,
        None,
    );
    let failed = wait_for(
        "the refused login in the audit",
        Duration::from_secs(15),
        || {
            audit(&admin)
                .into_iter()
                .find(|e| e["action"] == "sip_auth_failed" && e["entity_id"] == "1001")
        },
    );
    eprintln!("audited: {failed}");
    assert!(
        failed["detail"]
            .as_str()
            .unwrap_or("")
            .contains("wrong password"),
        "{failed}"
    );
    assert!(registrations(&supervisor).is_empty());
    wrong.stop();

    // the right one registers: visible to supervisors, without secrets
    let phone_port = free_udp_port();
    let phone = Baresip::desk_phone(
        &wav,
        "1001",
        DESK_PASSWORD,
        suifang.sip,
        phone_port,
        false,
        None,
    );
    let reg = registered(&supervisor, "1001", Duration::from_secs(15));
    eprintln!("registration: {reg}");
    assert_eq!(reg["username"], "nurse");
    assert_eq!(reg["user_id"], nurse_id);
    assert_eq!(reg["transport"], "udp");
    assert_eq!(reg["source"], format!("127.0.0.1:{phone_port}"));
    assert!(
        reg["user_agent"].as_str().unwrap_or("").contains("baresip"),
        "{reg}"
    );
    let left = reg["expires_at"].as_i64().unwrap() - chrono::Utc::now().timestamp();
    assert!(
        (500..=600).contains(&left),
        "baresip asked for 600 s: {left} s left"
    );
    assert_eq!(nurse.get("/api/v1/telephony/registrations").status, 403);
    assert!(!registrations(&supervisor)
        .iter()
        .any(|r| r.to_string().contains(DESK_PASSWORD)));
    let entries = audit(&admin);
    for action in ["sip_credentials_set", "sip_registered"] {
        assert!(
            entries.iter().any(|e| e["action"] == action),
            "audit lacks {action}"
        );
    }
    assert!(!entries
        .iter()
        .any(|e| e.to_string().contains(DESK_PASSWORD)));

    // kill -9 and start again: the binding is restored from the database
    suifang.kill9();
    let suifang = Suifang::start(dir.path(), &env);
    let supervisor = suifang.login("supervisor", "supervisor-demo-1");
    let nurse = suifang.login("nurse", "nurse-demo-1");
    assert_eq!(registrations(&supervisor).len(), 1);
    let status = supervisor.get("/api/v1/telephony").body;
    assert_eq!(
        status["desk_phones"], 1,
        "restored into the registrar: {status}"
    );

    // no browser line: a click rings the desk phone; unanswered, the task is not disposed
    let (task_id, _) = claim(&nurse);
    let before = task(&nurse, task_id);
    let dialled = nurse.post(&format!("/api/v1/tasks/{task_id}/call"), json!({}));
    assert_eq!(dialled.status, 201, "{}", dialled.body);
    assert_eq!(dialled.body["state"], "agent_ringing", "{}", dialled.body);
    assert_eq!(
        dialled.body["agent_device"], "desk_phone",
        "{}",
        dialled.body
    );
    let id = dialled.body["id"].as_str().expect("id").to_owned();
    let dtmf = nurse.post(&format!("/api/v1/calls/{id}/dtmf"), json!({"digits": "1"}));
    assert_eq!(
        dtmf.status, 409,
        "nothing to send DTMF to yet: {}",
        dtmf.body
    );
    let gone = ended(&nurse, &id, false, Duration::from_secs(15));
    eprintln!("unanswered: {gone}");
    assert_eq!(gone["end_reason"], "agent_no_answer", "{gone}");
    assert!(gone["disposition"].is_null(), "{gone}");
    assert!(
        gone["recording"].is_null(),
        "the patient was never called: {gone}"
    );
    untouched(&before, &task(&nurse, task_id), "desk phone not answered");

    // she gives up while it rings: cancelled, the task again untouched
    let dialled = nurse.post(&format!("/api/v1/tasks/{task_id}/call"), json!({}));
    assert_eq!(dialled.status, 201, "{}", dialled.body);
    let id = dialled.body["id"].as_str().expect("id").to_owned();
    // she hangs up once the phone rings (its second call: the first went unanswered)
    phone.wait_for_output("Incoming call from", 2, Duration::from_secs(10));
    let hung = nurse.post(&format!("/api/v1/calls/{id}/hangup"), json!({}));
    assert_eq!(hung.status, 200, "{}", hung.body);
    let gone = ended(&nurse, &id, false, Duration::from_secs(15));
    assert_eq!(
        gone["end_reason"], "cancelled_before_agent_answered",
        "{gone}"
    );
    untouched(
        &before,
        &task(&nurse, task_id),
        "cancelled while the desk phone rang",
    );
    phone.stop();
}

#[test]
fn a_nurse_on_her_desk_phone_clicks_call_and_the_patient_is_bridged_and_recorded() {
    let _machine = serial::exclusive();
    if !require_baresip("desk phone click-to-call") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let trunk_port = free_udp_port();
    let trunk = format!("127.0.0.1:{trunk_port}");
    let suifang = Suifang::start(dir.path(), &[("SUIFANG_SIP_TRUNK", &trunk)]);
    // the command line sets the extension (password on stdin) while the server runs
    let out = run_with_stdin(
        dir.path(),
        &["user", "sip", "--username", "nurse", "--extension", "1001"],
        &format!("{DESK_PASSWORD}\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let nurse = suifang.login("nurse", "nurse-demo-1");
    let supervisor = suifang.login("supervisor", "supervisor-demo-1");
    // the server notices the command line's change within 5 s
    accounts_loaded(&supervisor, 1);

    // the nurse speaks after the consent announcement (4.7 s); her phone outlasts the call
    let nurse_speech = fixtures().join("agent-zh-8k.wav");
    let desk_wav = framed(&nurse_speech, 8, 30, dir.path(), "desk.wav");
    let desk = Baresip::desk_phone(
        &desk_wav,
        "1001",
        DESK_PASSWORD,
        suifang.sip,
        free_udp_port(),
        true,
        None,
    );
    registered(&supervisor, "1001", Duration::from_secs(15));

    let (task_id, patient_id) = claim(&nurse);
    let number = supervisor
        .get(&format!("/api/v1/patients/{patient_id}"))
        .body["phone"]
        .as_str()
        .expect("phone")
        .to_owned();
    let patient_speech = fixtures().join("patient-en-8k.wav");
    let patient_wav = framed(&patient_speech, 6, 8, dir.path(), "patient.wav");
    let patient = Baresip::start(&patient_wav, &number, trunk_port, None);

    let dialled = nurse.post(&format!("/api/v1/tasks/{task_id}/call"), json!({}));
    assert_eq!(dialled.status, 201, "{}", dialled.body);
    assert_eq!(dialled.body["state"], "agent_ringing");
    let id = dialled.body["id"].as_str().expect("id").to_owned();
    wait_for("the patient to answer", Duration::from_secs(20), || {
        (call(&nurse, &id)["state"] == "answered").then_some(())
    });
    let done = ended(&nurse, &id, true, Duration::from_secs(45));
    eprintln!("call: {done}");
    assert_eq!(done["end_reason"], "hangup_by_patient", "{done}");
    assert_eq!(done["agent_device"], "desk_phone", "{done}");
    assert_eq!(done["agent_id"], me(&nurse), "{done}");
    assert_eq!(done["task_id"], task_id, "{done}");
    let kinds = log_kinds(&done);
    for want in ["state agent_ringing", "state dialing", "state answered"] {
        assert!(
            kinds.iter().any(|k| k == want),
            "call log lacks {want}: {kinds:?}"
        );
    }
    let live = nurse.get("/api/v1/calls?live=true").body;
    assert!(
        live["items"].as_array().is_some_and(|i| i.is_empty()),
        "both legs ended: {live}"
    );

    let (left, right, rate) = read_stereo(&common::recording_file(&suifang.server, &done));
    assert_eq!(rate, 8000);
    let (nurse_pcm, _) = read_mono(&nurse_speech);
    let (patient_pcm, _) = read_mono(&patient_speech);
    let consent =
        suifang::telephony::prompts::decode_8k(&repo_root().join("prompts/audio/consent.wav"))
            .expect("consent prompt");
    let consent_left = speech_match(&consent, 8000, &left, rate);
    let nurse_left = found(&nurse_pcm, &left);
    let patient_right = found(&patient_pcm, &right);
    let nurse_right = found(&nurse_pcm, &right);
    let (heard, heard_rate) = desk.heard();
    assert_eq!(heard_rate, 8000);
    let patient_heard = found(&patient_pcm, &heard);
    eprintln!(
        "consent~left {consent_left:?} nurse~left {nurse_left:.2} patient~right {patient_right:.2} \
         nurse~right {nurse_right:.2} desk heard patient {patient_heard:.2}"
    );
    assert!(
        consent_left.corr > 0.6,
        "the announcement is recorded: {consent_left:?}"
    );
    assert!(
        nurse_left > 0.6,
        "the desk phone's audio on the left: {nurse_left:.2}"
    );
    assert!(
        patient_right > 0.6,
        "the patient on the right: {patient_right:.2}"
    );
    assert!(
        nurse_right < 0.5,
        "channels are not mixed: {nurse_right:.2}"
    );
    assert!(
        patient_heard > 0.6,
        "the desk phone heard the patient: {patient_heard:.2}"
    );
    patient.stop();
    desk.stop();
}

#[test]
fn a_desk_phone_dials_a_patient_itself_and_takes_the_patients_call_back() {
    let _machine = serial::exclusive();
    if !require_baresip("desk phone dials out and takes a call-back") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let trunk_port = free_udp_port();
    let trunk = format!("127.0.0.1:{trunk_port}");
    let suifang = Suifang::start(
        dir.path(),
        &[
            ("SUIFANG_SIP_TRUNK", &trunk),
            ("SUIFANG_SIP_TRUNK_ALLOW", "127.0.0.1/32"),
        ],
    );
    let admin = suifang.login("admin", "admin-demo-1");
    let nurse = suifang.login("nurse", "nurse-demo-1");
    let supervisor = suifang.login("supervisor", "supervisor-demo-1");
    let nurse_id = me(&nurse);
    let set = admin.put(
        &format!("/api/v1/users/{nurse_id}/sip"),
        json!({"extension": "1001", "password": DESK_PASSWORD}),
    );
    assert_eq!(set.status, 200, "{}", set.body);
    accounts_loaded(&supervisor, 1);
    let (task_id, patient_id) = claim(&nurse);
    let number = supervisor
        .get(&format!("/api/v1/patients/{patient_id}"))
        .body["phone"]
        .as_str()
        .expect("phone")
        .to_owned();
    let national = number
        .strip_prefix("+86")
        .expect("a Chinese demo number")
        .to_owned();
    let patient_speech = fixtures().join("patient-en-8k.wav");
    let (patient_pcm, _) = read_mono(&patient_speech);
    let patient_wav = padded(&patient_speech, 6, dir.path(), "patient.wav");
    let patient = Baresip::start(&patient_wav, &number, trunk_port, None);

    // the nurse dials the national number on her phone: 407, then through the trunk
    let desk_wav = padded(
        &fixtures().join("agent-zh-8k.wav"),
        60,
        dir.path(),
        "desk.wav",
    );
    let target = format!("sip:{national}@{}", suifang.sip);
    let live_call = |direction: &str| {
        let live = supervisor.get("/api/v1/calls?live=true").body;
        live["items"].as_array()?.iter().find_map(|c| {
            (c["direction"] == direction)
                .then(|| c["id"].as_str().map(str::to_owned))
                .flatten()
        })
    };
    let (desk, id) = dialling(
        || {
            let port = free_udp_port();
            let (w, t) = (&desk_wav, Some(target.as_str()));
            Baresip::desk_phone(w, "1001", DESK_PASSWORD, suifang.sip, port, true, t)
        },
        || live_call("outbound"),
    );
    let out = ended(&supervisor, &id, true, Duration::from_secs(40));
    eprintln!("dialled from the desk phone: {out}");
    assert_eq!(out["patient_id"], patient_id, "matched by number: {out}");
    assert_eq!(
        out["task_id"], task_id,
        "and to the nurse's claimed task: {out}"
    );
    assert_eq!(out["agent_id"], nurse_id, "{out}");
    assert_eq!(out["agent_device"], "desk_phone", "{out}");
    assert!(out["answered_at"].is_i64(), "{out}");
    let (_, right, _) = read_stereo(&common::recording_file(&suifang.server, &out));
    let on_right = found(&patient_pcm, &right);
    eprintln!("patient~right {on_right:.2}");
    assert!(on_right > 0.6, "the patient on the right: {on_right:.2}");
    patient.stop();

    // the patient calls back; the nurse has no browser line: her desk phone takes it
    registered(&supervisor, "1001", Duration::from_secs(15));
    let caller_wav = padded(&patient_speech, 4, dir.path(), "caller.wav");
    let hotline = format!("sip:hotline@{}", suifang.sip);
    let (caller, id) = dialling(
        // from the carrier's network (a fresh port each start: the trunk's own port, free
        // again since the patient's phone stopped, may be taken by a parallel test meanwhile)
        || Baresip::start(&caller_wav, &number, free_udp_port(), Some(&hotline)),
        || live_call("inbound"),
    );
    let back = ended(&supervisor, &id, true, Duration::from_secs(40));
    eprintln!("call-back: {back}");
    assert_eq!(back["agent_id"], nurse_id, "routed to her: {back}");
    assert_eq!(
        back["agent_device"], "desk_phone",
        "on her desk phone: {back}"
    );
    assert_eq!(
        back["end_reason"], "hangup_by_patient",
        "not voicemail: {back}"
    );
    let (_, right, _) = read_stereo(&common::recording_file(&suifang.server, &back));
    let on_right = found(&patient_pcm, &right);
    eprintln!("caller~right {on_right:.2}");
    assert!(on_right > 0.6, "the caller on the right: {on_right:.2}");
    caller.stop();
    desk.stop();
}
