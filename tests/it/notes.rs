//! Notes and tags (issue 20 items 5 and 6) against the real binary: a fresh `suifang serve`
//! with a nurse, a second nurse, a supervisor and an admin, and heart-failure patients due
//! their day-1 call.
//!
//! Notes: created with the session's author and discipline, links checked to belong to the
//! patient, structured kinds validated, corrected only by new versions (history kept, only the
//! author or a supervisor), searched in Chinese and English (trigram and substring), shown in the
//! timeline and the printed report's data, every read and write audited.
//!
//! Tags: a rule with `tags = [...]` fires on an answer and the tag is on the patient; the queue
//! and the report filter by it; staff remove it (audited); re-saving the same answer does not
//! bring it back, a new answer the rule reads does.

mod clinic;
mod tags;

use crate::common::console;
use crate::common::serial;
use clinic::Clinic;
use serde_json::{json, Value};

fn ids(items: &Value) -> Vec<i64> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["note_id"].as_i64().or(n["id"].as_i64()).unwrap())
        .collect()
}

#[test]
fn notes_are_created_corrected_by_versions_searched_and_shown_in_timeline_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let c = Clinic::start(dir.path());
    let p = c.hf_patient("MRN-N1", "王芳");
    let other = c.hf_patient("MRN-N2", "李雷");

    // a free note: the author is the session's user, with her discipline
    let free = c.nina.post(
        &format!("/api/v1/patients/{p}/notes"),
        json!({"body": "患者诉夜间憋醒，已嘱抬高床头 extra pillows"}),
    );
    assert_eq!(free.status, 201, "{}", free.body);
    let note = free.body["id"].as_i64().unwrap();
    assert_eq!(free.body["kind"], "free");
    assert_eq!(free.body["version"], 1);
    assert_eq!(free.body["discipline"], "nursing");
    assert_eq!(free.body["author_name"], "nina");
    assert_eq!(free.body["history"].as_array().unwrap().len(), 1);

    // a structured note, its data checked per kind
    let med = c.nina.post(
        &format!("/api/v1/patients/{p}/notes"),
        json!({"kind": "medication_change", "body": "Furosemide increased after weight gain",
               "data": {"drug": "furosemide", "change": "dose", "dose": "40 mg qd"}}),
    );
    assert_eq!(med.status, 201, "{}", med.body);
    assert_eq!(med.body["data"]["dose"], "40 mg qd");
    let med_id = med.body["id"].as_i64().unwrap();
    for (bad, field) in [
        (
            json!({"kind": "medication_change", "body": "x", "data": {"drug": "a", "change": "double"}}),
            "data",
        ),
        (
            json!({"kind": "plan", "body": "x", "data": {"action": "weigh", "due": "soon"}}),
            "data",
        ),
        (
            json!({"kind": "free", "body": "x", "data": {"drug": "a"}}),
            "data",
        ),
        (json!({"body": "   "}), "body"),
        (json!({"body": "x", "call_id": "no-such-call"}), "call_id"),
        (json!({"body": "x", "escalation_id": 999}), "escalation_id"),
    ] {
        let r = c
            .nina
            .post(&format!("/api/v1/patients/{p}/notes"), bad.clone());
        assert_eq!(r.status, 422, "{bad}: {}", r.body);
        assert_eq!(r.body["error"]["field"], field, "{bad}: {}", r.body);
    }
    let missing = c
        .nina
        .post("/api/v1/patients/999999/notes", json!({"body": "x"}));
    assert_eq!(missing.status, 404, "{}", missing.body);

    // correction = a new version; only the author or a supervisor
    let v2 = c.nina.post(
        &format!("/api/v1/notes/{note}/versions"),
        json!({"body": "患者诉夜间憋醒两次，已嘱抬高床头", "reason": "次数补充"}),
    );
    assert_eq!(v2.status, 200, "{}", v2.body);
    assert_eq!(v2.body["version"], 2);
    let refused = c.nora.post(
        &format!("/api/v1/notes/{note}/versions"),
        json!({"body": "someone else's correction"}),
    );
    assert_eq!(refused.status, 403, "{}", refused.body);
    let v3 = c.sam.post(
        &format!("/api/v1/notes/{note}/versions"),
        json!({"body": "患者诉夜间憋醒两次（护士长核对），已嘱抬高床头", "reason": "核对"}),
    );
    assert_eq!(v3.status, 200, "{}", v3.body);
    let read = c.nora.get(&format!("/api/v1/notes/{note}"));
    assert_eq!(read.status, 200, "{}", read.body);
    let n = &read.body;
    assert_eq!(n["version"], 3);
    assert!(n["body"].as_str().unwrap().contains("护士长核对"), "{n}");
    assert_eq!(
        n["author_name"], "nina",
        "the first author stays the note's author"
    );
    let history = n["history"].as_array().unwrap();
    let versions: Vec<i64> = history
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [3, 2, 1], "every version kept, newest first");
    assert_eq!(history[0]["author_name"], "sam");
    assert_eq!(history[0]["reason"], "核对");
    assert!(history[2]["body"]
        .as_str()
        .unwrap()
        .contains("extra pillows"));
    // the versions table refuses edits even from someone with the database file
    let db = rusqlite::Connection::open(dir.path().join("data/suifang.db")).unwrap();
    let edit = db.execute(
        "UPDATE note_versions SET body = 'x' WHERE note_id = ?1",
        [note],
    );
    assert!(edit.is_err(), "note_versions must be append-only");
    drop(db);

    // search: Chinese through the trigram index and by substring, English, latest text only
    let search = |q: &str| {
        let r = c
            .nora
            .get(&format!("/api/v1/notes/search?q={}", url_encode(q)));
        assert_eq!(r.status, 200, "{q}: {}", r.body);
        r.body
    };
    let zh = search("憋醒两次");
    assert_eq!(zh["mode"], "fts");
    assert_eq!(ids(&zh["items"]), [note]);
    assert_eq!(zh["items"][0]["patient_name"], "王芳");
    let short = search("憋醒");
    assert_eq!(short["mode"], "substring");
    assert_eq!(ids(&short["items"]), [note]);
    let en = search("FUROSEMIDE");
    assert_eq!(ids(&en["items"]), [med_id], "case-insensitive English");
    assert_eq!(
        ids(&search("extra pillows")["items"]),
        Vec::<i64>::new(),
        "a corrected-away text is not found"
    );
    let quoted = search("\"pillows OR 1");
    assert_eq!(
        ids(&quoted["items"]),
        Vec::<i64>::new(),
        "FTS syntax is literal"
    );
    let empty = c.nora.get("/api/v1/notes/search?q=%20");
    assert_eq!(empty.status, 422);

    // the patient's notes, the timeline and the printed report
    let list = c.nora.get(&format!("/api/v1/patients/{p}/notes")).body;
    assert_eq!(ids(&list["items"]), [med_id, note]);
    assert_eq!(
        c.nora.get(&format!("/api/v1/patients/{other}/notes")).body["items"],
        json!([])
    );
    let timeline = c.nora.get(&format!("/api/v1/patients/{p}/timeline")).body;
    let in_timeline: Vec<&Value> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "note")
        .collect();
    assert_eq!(in_timeline.len(), 2, "{timeline}");
    let t = in_timeline.iter().find(|i| i["note_id"] == note).unwrap();
    assert_eq!(t["version"], 3);
    assert_eq!(t["history"].as_array().unwrap().len(), 3);
    assert_eq!(t["discipline"], "nursing");
    let report = c.nora.get(&format!("/api/v1/patients/{p}/report")).body;
    assert_eq!(ids(&report["notes"]), [med_id, note], "{report}");
    assert_eq!(report["notes"][0]["kind"], "medication_change");

    // audited: writes with the patient, reads, searches with the query and the ids returned
    let audit = c.audit();
    let has = |actor: &str, action: &str, id: Option<i64>, words: &str| {
        audit.iter().any(|(a, act, entity, eid, detail)| {
            a == actor
                && act == action
                && entity == "note"
                && id.is_none_or(|id| *eid == id.to_string())
                && detail.contains(words)
        })
    };
    assert!(
        has(
            "nina",
            "create",
            Some(note),
            &format!("patient={p} kind=free")
        ),
        "{audit:?}"
    );
    assert!(has("nina", "correct", Some(note), "version=2"), "{audit:?}");
    assert!(has("sam", "correct", Some(note), "version=3"), "{audit:?}");
    assert!(
        has("nora", "view", Some(note), &format!("patient={p}")),
        "{audit:?}"
    );
    assert!(
        has(
            "nora",
            "search",
            None,
            &format!("q=\"憋醒两次\" ids=[{note}]")
        ),
        "{audit:?}"
    );
    assert!(
        has("nora", "search", None, "q=\"extra pillows\" ids=[]"),
        "{audit:?}"
    );
    assert!(
        !has("nora", "correct", Some(note), ""),
        "a refused correction is not recorded as one"
    );
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The same in the console (real headless Chromium): the nurse claims the heart-failure call,
/// answers leg swelling and sees the rule's tag, filters the queue by it, adds a free and a
/// structured note, corrects one (history of two versions), searches, takes the tag off, and
/// the printed report lists the notes. Checked afterwards against the API and the audit log.
#[test]
fn console_notes_and_tags_in_the_browser() {
    let _machine = serial::shared();
    let dir = tempfile::tempdir().unwrap();
    let c = Clinic::start(dir.path());
    c.hf_patient("MRN-B1", "王芳");
    c.hf_patient("MRN-B2", "李雷");
    c.build_queue();
    let out = console::browser(
        "notes",
        &c.server,
        json!({"user": clinic::USERS[0].0, "password": clinic::USERS[0].1}),
    );
    assert_eq!(out["script"], "heart-failure", "{out}");
    assert_eq!(out["queue_rows"], 2, "{out}");
    assert_eq!(out["tag_shown"], true);
    assert_eq!(
        out["filtered_rows"], 1,
        "the tag filter keeps the tagged patient's task"
    );
    assert_eq!(out["filtered_task"], out["task_id"], "{out}");
    let p = out["patient_id"].as_i64().unwrap();
    let note = out["note_id"].as_i64().unwrap();
    assert_eq!(
        out["med_data"].as_str().unwrap(),
        "furosemide · dose change · 40 mg qd".replace("dose change", "调整剂量"),
        "{out}"
    );
    assert_eq!(out["history_versions"], json!([2, 1]), "{out}");
    assert_eq!(out["note_text"], "患者诉夜间憋醒两次，已嘱抬高床头");
    assert_eq!(out["search_hits"], json!([note]), "{out}");
    assert_eq!(out["tag_removed"], true);
    assert_eq!(out["report_notes"].as_array().unwrap().len(), 2, "{out}");
    assert!(
        out["report_notes"]
            .as_array()
            .unwrap()
            .contains(&json!(note)),
        "{out}"
    );
    assert!(
        out["report_note_text"].to_string().contains("憋醒两次"),
        "the report shows the latest version: {out}"
    );
    assert!(
        !out["report_tags"]
            .as_str()
            .unwrap()
            .contains("fluid-overload-risk"),
        "{out}"
    );

    // what the browser showed is what the server holds
    let notes = c.sam.get(&format!("/api/v1/patients/{p}/notes")).body;
    let items = notes["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{notes}");
    let n = items.iter().find(|n| n["id"] == note).unwrap();
    assert_eq!(n["version"], 2);
    assert_eq!(n["history"][0]["reason"], "次数补充");
    assert_eq!(n["discipline"], "nursing");
    let med = items.iter().find(|n| n["id"] != note).unwrap();
    assert_eq!(med["kind"], "medication_change");
    assert_eq!(
        med["data"],
        json!({"drug": "furosemide", "change": "dose", "dose": "40 mg qd"})
    );
    let tags = c.sam.get(&format!("/api/v1/patients/{p}/tags")).body;
    assert!(
        tags["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["tag"] != "fluid-overload-risk"),
        "{tags}"
    );
    let audit = c.audit();
    for (action, entity) in [
        ("tag_by_rule", "patient"),
        ("remove_tag", "patient"),
        ("create", "note"),
        ("correct", "note"),
        ("search", "note"),
    ] {
        assert!(
            audit.iter().any(|(a, act, e, _, _)| act == action
                && e == entity
                && (a == "nina" || action == "tag_by_rule")),
            "{action} {entity} audited: {audit:?}"
        );
    }
}
