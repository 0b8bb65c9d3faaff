//! Tags set by rules (issue 20 item 6): `hf-leg-swelling` carries `tags =
//! ["fluid-overload-risk"]`.

use serde_json::{json, Value};

use super::clinic::{answer, delete, Clinic};

const TAG: &str = "fluid-overload-risk";

fn tags_of(c: &crate::common::Client, patient: i64) -> Vec<String> {
    let r = c.get(&format!("/api/v1/patients/{patient}"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect()
}

fn tag_actions(saved: &Value) -> Vec<(String, String)> {
    saved["tags"]
        .as_array()
        .unwrap_or_else(|| panic!("no tags in {saved}"))
        .iter()
        .map(|t| {
            (
                t["tag"].as_str().unwrap().to_owned(),
                t["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_rule_tags_the_patient_the_queue_and_report_filter_and_staff_removal_stands_until_a_new_answer()
{
    let dir = tempfile::tempdir().unwrap();
    let c = Clinic::start(dir.path());
    let p = c.hf_patient("MRN-T1", "张伟");
    let other = c.hf_patient("MRN-T2", "赵敏");
    c.build_queue();
    let claim = c.nina.post("/api/v1/queue/claim", json!({}));
    assert_eq!(claim.status, 200, "{}", claim.body);
    let task = claim.body["task"]["id"].as_i64().unwrap();
    let patient = claim.body["task"]["patient_id"].as_i64().unwrap();
    assert_eq!(claim.body["task"]["script_code"], "heart-failure");
    let (p, other) = if patient == p { (p, other) } else { (other, p) };

    // normal: no swelling, no tag
    let normal = answer(&c.nina, task, "leg_swelling", json!(false));
    assert_eq!(normal.status, 200, "{}", normal.body);
    assert_eq!(tag_actions(&normal.body), []);
    assert!(!tags_of(&c.nina, p).contains(&TAG.to_owned()));

    // abnormal: the rule fires, the tag is on the patient with its source
    let abnormal = answer(&c.nina, task, "leg_swelling", json!(true));
    assert_eq!(abnormal.status, 200, "{}", abnormal.body);
    assert_eq!(tag_actions(&abnormal.body), [(TAG.into(), "add".into())]);
    assert!(tags_of(&c.nina, p).contains(&TAG.to_owned()));
    assert!(!tags_of(&c.nina, other).contains(&TAG.to_owned()));
    let detail = c.nina.get(&format!("/api/v1/patients/{p}/tags")).body;
    let t = detail["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tag"] == TAG)
        .unwrap_or_else(|| panic!("{detail}"));
    assert_eq!(t["source"], "rule");
    assert_eq!(t["rule_id"], "hf-leg-swelling");
    assert_eq!(t["answer_id"], abnormal.body["answer"]["id"]);
    let report = c.nina.get(&format!("/api/v1/patients/{p}/report")).body;
    assert!(
        report["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["tag"] == TAG),
        "printed report shows the tag: {}",
        report["tags"]
    );

    // the queue filters by it
    let all = c.nina.get("/api/v1/queue?limit=100").body;
    assert_eq!(all["total"], 2, "{all}");
    let tagged = c.nina.get(&format!("/api/v1/queue?tag={TAG}")).body;
    assert_eq!(tagged["total"], 1, "{tagged}");
    assert_eq!(tagged["items"][0]["patient_id"], p);
    let none = c.nina.get("/api/v1/queue?tag=nobody-has-this").body;
    assert_eq!(none["total"], 0, "{none}");
    assert_eq!(
        c.nina.get("/api/v1/queue?tag=").body["total"],
        2,
        "empty = no filter"
    );

    // and the period report
    let report_all = c.sam.get("/api/v1/reports").body;
    let report_tag = c.sam.get(&format!("/api/v1/reports?tag={TAG}")).body;
    let report_none = c.sam.get("/api/v1/reports?tag=nobody-has-this").body;
    assert_eq!(report_all["discharges"], 2, "{report_all}");
    assert_eq!(report_tag["discharges"], 1, "{report_tag}");
    assert_eq!(report_tag["tag"], TAG);
    assert_eq!(report_tag["escalations_opened"], 1, "{report_tag}");
    assert_eq!(report_none["discharges"], 0, "{report_none}");
    assert_eq!(report_none["escalations_opened"], 0, "{report_none}");
    let csv = c.sam.request(
        "GET",
        &format!("/api/v1/reports?format=csv&tag={TAG}"),
        None,
        "",
    );
    assert!(
        csv.body.as_str().unwrap().contains(&format!("tag,{TAG}")),
        "{}",
        csv.body
    );

    // a staff member removes it (audited)
    let removed = delete(&c.nina, &format!("/api/v1/patients/{p}/tags/{TAG}"));
    assert_eq!(removed.status, 204, "{}", removed.body);
    assert!(!tags_of(&c.nina, p).contains(&TAG.to_owned()));
    assert_eq!(
        c.nina.get(&format!("/api/v1/queue?tag={TAG}")).body["total"],
        0
    );
    let again = delete(&c.nina, &format!("/api/v1/patients/{p}/tags/{TAG}"));
    assert_eq!(again.status, 404, "{}", again.body);
    let audit = c.audit();
    assert!(
        audit.iter().any(|(a, act, e, id, d)| a == "nina"
            && act == "remove_tag"
            && e == "patient"
            && *id == p.to_string()
            && d.contains(&format!("tag={TAG} source=rule"))),
        "{audit:?}"
    );

    // the same finding re-saved (same value), or another answer saved while the rule still
    // fires: the removal stands
    let resaved = answer(&c.nina, task, "leg_swelling", json!(true));
    assert_eq!(
        tag_actions(&resaved.body),
        [(TAG.into(), "stay_removed".into())]
    );
    let unrelated = answer(&c.nina, task, "breathless_worse", json!(false));
    assert_eq!(
        tag_actions(&unrelated.body),
        [(TAG.into(), "stay_removed".into())]
    );
    assert!(!tags_of(&c.nina, p).contains(&TAG.to_owned()));

    // a new answer the rule reads (swelling gone, then back) fires it again: the tag returns
    let gone = answer(&c.nina, task, "leg_swelling", json!(false));
    assert_eq!(tag_actions(&gone.body), []);
    let back = answer(&c.nina, task, "leg_swelling", json!(true));
    assert_eq!(tag_actions(&back.body), [(TAG.into(), "re_add".into())]);
    assert!(tags_of(&c.nina, p).contains(&TAG.to_owned()));
    let audit = c.audit();
    let by_rule: Vec<&String> = audit
        .iter()
        .filter(|(_, act, _, id, _)| act == "tag_by_rule" && *id == p.to_string())
        .map(|(_, _, _, _, d)| d)
        .collect();
    assert_eq!(by_rule.len(), 2, "added once, re-added once: {by_rule:?}");
    assert!(by_rule[0].contains("rule=hf-leg-swelling") && by_rule[0].ends_with("action=re_add"));
    assert!(by_rule[1].ends_with("action=add"));
}
