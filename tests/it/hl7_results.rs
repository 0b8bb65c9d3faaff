//! Issue 17 item 5 against the real binary and a real EMR (python-hl7's asyncio MLLP server,
//! tests/fixtures/hl7/emr.py): a completed follow-up reaches the EMR as an ORU^R01 with one OBX
//! per answer, the emergency answer flagged AA and the nurse's note as NTE; a late ACK (MSA-2
//! of another message) is not taken for this one's, so the message is sent again; while the EMR
//! is down the result waits in the outbox and is retried, and once it is back it is delivered
//! exactly once; a result the EMR refuses (AE) is kept with the EMR's error for the admin, who
//! can queue it again.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::emr_peer::Emr;
use crate::common::{wait_for, Client, Server};

fn claim(nurse: &Client) -> Value {
    let r = nurse.post("/api/v1/queue/claim", json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["task"].clone()
}

fn answer(nurse: &Client, task: i64, question: &str, value: Value) {
    let r = nurse.put(
        &format!("/api/v1/tasks/{task}/answers/{question}"),
        json!({ "value": value }),
    );
    assert_eq!(r.status, 200, "{question}: {}", r.body);
}

fn complete(nurse: &Client, task: i64, note: &str) {
    let r = nurse.post(
        &format!("/api/v1/tasks/{task}/disposition"),
        json!({ "disposition": "completed", "note": note }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

/// The outbox row of a task, as the admin's interfaces page lists it.
fn outbox_row(admin: &Client, task: i64) -> Option<Value> {
    let r = admin.get("/api/v1/hl7/outbox");
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["task_id"] == task)
        .cloned()
}

fn wait_status(admin: &Client, task: i64, status: &str, min_attempts: i64) -> Value {
    wait_for(
        &format!("outbox row of task {task} {status} after {min_attempts}+ tries"),
        Duration::from_secs(20),
        || {
            outbox_row(admin, task).filter(|r| {
                r["status"] == status && r["attempts"].as_i64().unwrap_or(0) >= min_attempts
            })
        },
    )
}

#[test]
fn completed_follow_ups_reach_the_emr_once_across_a_late_ack_an_outage_and_a_refusal() {
    let dir = tempfile::tempdir().unwrap();
    // the EMR's first ACK carries another message's MSA-2, as a late ACK would
    let emr = Emr::start(0, &["--stale-first"]);
    let port = emr.port;
    let target = format!("127.0.0.1:{port}");
    let server = Server::start(
        dir.path(),
        "demo",
        &[
            ("SUIFANG_HL7_RESULTS_TARGET", target.as_str()),
            ("SUIFANG_HL7_RESULTS_RETRY_SECONDS", "1"),
        ],
    );
    let nurse = Client::login(&server, "nurse", "nurse-demo-1");
    let admin = Client::login(&server, "admin", "admin-demo-1");

    // 1. the stroke follow-up: balance lost (an emergency), eyes fine; completed with a note
    let first = claim(&nurse);
    let task1 = first["id"].as_i64().unwrap();
    assert_eq!(first["script_code"], "stroke", "{first}");
    answer(&nurse, task1, "balance", json!(true));
    answer(&nurse, task1, "eyes", json!(false));
    complete(&nurse, task1, "daughter will take her to the ER");
    let row = wait_status(&admin, task1, "delivered", 1);
    let control1 = row["control_id"].as_str().unwrap().to_string();
    assert_eq!(row["kind"], "ORU^R01");
    // the stale ACK was not taken: the same message went again and its own AA settled it
    assert_eq!(row["attempts"], 2, "{row}");
    let got = emr.with_control_id(&control1);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[0]["msa2"].as_str().unwrap().starts_with("STALE-"));
    assert_eq!(got[1]["msa2"], control1.as_str());
    assert_eq!(
        got[0]["obx"], got[1]["obx"],
        "a retry sends the same message"
    );
    let m = &got[1];
    assert_eq!(m["type"], "ORU^R01^ORU_R01");
    assert_eq!(
        m["mrn"].as_str().unwrap().split('^').next(),
        Some(row["mrn"].as_str().unwrap())
    );
    let obx = m["obx"].as_array().unwrap();
    assert_eq!(obx.len(), 2, "one OBX per answer: {m}");
    let by_q = |q: &str| {
        obx.iter()
            .find(|o| o[0].as_str().unwrap().starts_with(&format!("{q}^")))
            .unwrap_or_else(|| panic!("no OBX for {q}: {m}"))
            .clone()
    };
    assert_eq!(by_q("balance")[1], "Y^Yes^HL70136");
    assert_eq!(
        by_q("balance")[3],
        "AA",
        "the emergency answer is critically abnormal"
    );
    assert_eq!(by_q("eyes")[1], "N^No^HL70136");
    assert_eq!(by_q("eyes")[3], "");
    assert_eq!(m["nte"], json!(["daughter will take her to the ER"]));

    // 2. the EMR goes down; the next completion waits in the outbox and is retried
    emr.stop();
    let task2 = claim(&nurse)["id"].as_i64().unwrap();
    complete(&nurse, task2, "");
    let waiting = wait_status(&admin, task2, "queued", 2);
    assert!(
        waiting["last_error"]
            .as_str()
            .unwrap()
            .contains("cannot connect"),
        "{waiting}"
    );
    let counts = admin.get("/api/v1/hl7/outbox").body["counts"].clone();
    assert_eq!(counts["queued"], 1, "{counts}");

    // 3. back on the same port: delivered, once. It refuses the third result (AE).
    let control2 = waiting["control_id"].as_str().unwrap().to_string();
    let control3 = format!("SFR{}", waiting["id"].as_i64().unwrap() + 1);
    let emr = Emr::start(port, &["--ae", &control3]);
    let row = wait_status(&admin, task2, "delivered", 3);
    assert_eq!(row["ack_code"], "AA");
    assert_eq!(
        emr.with_control_id(&control2).len(),
        1,
        "{:?}",
        emr.received()
    );

    let task3 = claim(&nurse)["id"].as_i64().unwrap();
    complete(&nurse, task3, "");
    let refused = wait_status(&admin, task3, "rejected", 1);
    assert_eq!(refused["control_id"], control3.as_str());
    assert_eq!(refused["ack_code"], "AE");
    assert_eq!(refused["last_error"], "unknown MRN at the EMR");
    // refused is final until an admin acts: no retry by itself
    let list = admin.get("/api/v1/hl7/outbox?status=rejected").body;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    let id3 = refused["id"].as_i64().unwrap();
    // a nurse may not requeue; the admin may (the EMR still refuses it: a second AE)
    let r = nurse.post(&format!("/api/v1/hl7/outbox/{id3}/requeue"), json!({}));
    assert_eq!(r.status, 403, "{}", r.body);
    let r = admin.post(&format!("/api/v1/hl7/outbox/{id3}/requeue"), json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    wait_status(&admin, task3, "rejected", 2);
    assert_eq!(emr.with_control_id(&control3).len(), 2);
    // a delivered result cannot be requeued
    let id2 = row["id"].as_i64().unwrap();
    let r = admin.post(&format!("/api/v1/hl7/outbox/{id2}/requeue"), json!({}));
    assert_eq!(r.status, 409, "{}", r.body);
    // nothing was sent twice that the EMR had ACKed
    assert_eq!(emr.with_control_id(&control2).len(), 1);
}
