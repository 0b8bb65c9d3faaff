//! Issue 19 acceptance against the real binary and real peers: Kannel (bearerbox, smsbox and
//! the fake SMSC of kannel-extras) carries the link SMS, its delivery report and the patient's
//! "TD"; headless Chromium on a 360×740 screen is the patient's phone. Bad input: unknown,
//! revoked and expired tokens answer the same 404, five wrong birth years lock a link (and give
//! the nurse a call-back task), one patient's link never opens another's answers, and Kannel's
//! callbacks are refused without the key or from another network.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::console::browser_script;
use crate::common::kannel::{self, Kannel, Ports};
use crate::common::{serial, wait_for, Client, Server};

mod vitals;

const SECRET: &str = "kannel-callback-key-0123456789";

fn env(ports: &Ports) -> Vec<(&'static str, String)> {
    vec![
        ("SUIFANG_SMS_SENDSMS_URL", ports.sendsms_url()),
        ("SUIFANG_SMS_USERNAME", kannel::USER.into()),
        ("SUIFANG_SMS_PASSWORD", kannel::PASSWORD.into()),
        ("SUIFANG_SMS_SENDER_ID", "10086".into()),
        ("SUIFANG_SMS_CALLBACK_SECRET", SECRET.into()),
    ]
}

fn start(dir: &std::path::Path, env: &[(&'static str, String)]) -> Server {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Server::start(dir, "demo", &env)
}

fn get_url(server: &Server) -> String {
    format!(
        "{}/sms/kannel/inbound?key={SECRET}&from=%p&to=%P&text=%a",
        server.base
    )
}

/// A heart-failure patient discharged yesterday from cardiology: her first task is the day-1
/// nurse call with the heart-failure script. Returns (patient id, task id).
fn patient(supervisor: &Client, mrn: &str, phone: &str, born: &str, language: &str) -> (i64, i64) {
    let r = supervisor.post(
        "/api/v1/patients",
        json!({"mrn": mrn, "name": format!("患者{mrn}"), "phone": phone, "birth_date": born, "language": language}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_i64().unwrap();
    let discharged = (chrono::Utc::now() - chrono::Duration::hours(20)).to_rfc3339();
    let r = supervisor.post(
        &format!("/api/v1/patients/{id}/discharges"),
        json!({"discharged_at": discharged, "department": "cardiology", "diagnoses": [{"icd10": "I50.9"}]}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let tasks = supervisor.get(&format!("/api/v1/patients/{id}/tasks")).body;
    let task = tasks["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["script_code"] == "heart-failure" && t["status"] == "pending")
        .min_by_key(|t| t["due_at"].as_str().unwrap_or_default().to_string())
        .unwrap_or_else(|| panic!("no heart-failure task: {tasks}"))["id"]
        .as_i64()
        .unwrap();
    (id, task)
}

/// The link in the newest SMS the fake SMSC got for `phone_tail`, once `n` have arrived.
fn link_from_sms(kannel: &Kannel, phone_tail: &str, n: usize) -> (String, String) {
    let texts = wait_for(
        &format!("SMS #{n} to …{phone_tail} at the fake SMSC"),
        Duration::from_secs(20),
        || {
            let t = kannel.received(phone_tail);
            (t.len() >= n).then_some(t)
        },
    );
    let text = texts[n - 1].clone();
    let start = text
        .find("http://")
        .unwrap_or_else(|| panic!("no link in {text:?}"));
    let url: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && !"（(".contains(*c))
        .collect();
    (url, text)
}

fn sms_status(client: &Client, patient: i64) -> Value {
    let r = client.get(&format!("/api/v1/patients/{patient}/sms"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

fn task(client: &Client, id: i64) -> Value {
    let r = client.get(&format!("/api/v1/tasks/{id}"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

const NORMAL: &str = r#"{"weight": 68.5, "breathless_worse": false, "breathless_at_rest": false,
  "orthopnea": false, "leg_swelling": false, "bp": {"systolic": 124, "diastolic": 78},
  "meds_taken": true, "low_salt_diet": true, "activity_as_advised": true, "social_problem": false,
  "notes": ""}"#;

const ABNORMAL: &str = r#"{"weight": 71, "breathless_worse": true, "breathless_at_rest": true,
  "orthopnea": false, "leg_swelling": true, "bp": {"systolic": 186, "diastolic": 104},
  "meds_taken": true, "low_salt_diet": true, "activity_as_advised": true, "social_problem": false,
  "notes": "ankles swollen"}"#;

#[test]
fn a_patient_answers_by_sms_link_on_a_phone_normal_completes_abnormal_escalates() {
    let _machine = serial::shared();
    let dir = tempfile::tempdir().unwrap();
    let ports = Ports::pick();
    let server = start(dir.path(), &env(&ports));
    let mut kannel = Kannel::start(&ports, &get_url(&server));
    let supervisor = Client::login(&server, "supervisor", "supervisor-demo-1");
    let nurse = Client::login(&server, "nurse", "nurse-demo-1");
    let doctor = Client::login(&server, "doctor", "doctor-demo-1");
    let (well, well_task) = patient(&supervisor, "SMS-1", "+8613800138101", "1956-04-02", "zh");
    let (ill, ill_task) = patient(&supervisor, "SMS-2", "+8613800138102", "1949-11-30", "en");

    // 1. the nurse sends the link; Kannel carries it to the fake SMSC
    let r = nurse.post(&format!("/api/v1/tasks/{well_task}/sms-link"), json!({}));
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(
        r.body.to_string().len() < 400 && !r.body.to_string().contains("/f/"),
        "the API never shows the token: {}",
        r.body
    );
    let (url, text) = link_from_sms(&kannel, "13800138101", 1);
    assert!(text.starts_with("【Demo Hospital】"), "{text}");
    assert!(text.contains("回TD退订"), "{text}");
    assert!(
        !text.contains("患者") && !text.contains("心"),
        "no name or health detail in the SMS: {text}"
    );
    assert!(url.starts_with(&format!("{}/f/", server.base)), "{url}");
    let token = url.rsplit('/').next().unwrap().to_string();
    assert_eq!(token.len(), 24, "{token}");

    // 2. the fake SMSC's delivery report marks it delivered; the stored copy lost the token
    let delivered = wait_for("the SMS marked delivered", Duration::from_secs(20), || {
        let s = sms_status(&nurse, well);
        (s["messages"][0]["state"] == "delivered").then_some(s)
    });
    let stored = delivered["messages"][0]["body"].as_str().unwrap();
    assert!(
        !stored.contains(&token) && stored.contains("/f/…"),
        "{stored}"
    );

    // 3. normal answers on the phone (zh): the task is completed by the link, no call needed
    let out = browser_script(
        "sms_link.js",
        &server,
        json!({"url": url, "lang": "zh", "prefix": "sms-link-zh", "birth_year": 1956,
               "wrong_years": [1957], "answers": serde_json::from_str::<Value>(NORMAL).unwrap()}),
    );
    eprintln!("normal flow: {out:#}");
    assert_eq!(out["lang"], "zh-CN");
    assert_eq!(out["outcome"], "normal", "{out:#}");
    assert_eq!(out["reopened"], "already", "{out:#}");
    assert_eq!(out["questions"].as_array().unwrap().len(), 11, "{out:#}");
    assert!(
        out["wrong"][0].as_str().unwrap().contains('4'),
        "4 tries left: {out:#}"
    );
    assert!(
        out["alarm"].is_null() && out["advice"] == json!([]),
        "{out:#}"
    );
    let t = task(&nurse, well_task);
    assert_eq!(
        (t["status"].as_str(), t["last_disposition"].as_str()),
        (Some("completed"), Some("patient_link")),
        "{t}"
    );
    let links = sms_status(&nurse, well)["links"].clone();
    assert!(
        links[0]["completed_at"].is_string() && links[0]["first_opened_at"].is_string(),
        "{links}"
    );

    // 4. abnormal answers (en): the emergency advice at once, escalation, a nurse call-back
    let r = nurse.post(&format!("/api/v1/tasks/{ill_task}/sms-link"), json!({}));
    assert_eq!(r.status, 201, "{}", r.body);
    let (url2, text2) = link_from_sms(&kannel, "13800138102", 1);
    assert!(
        text2.starts_with("Demo Hospital: ") && text2.contains("Reply STOP"),
        "{text2}"
    );
    let out = browser_script(
        "sms_link.js",
        &server,
        json!({"url": url2, "lang": "en", "prefix": "sms-link-en", "birth_year": 1949,
               "answers": serde_json::from_str::<Value>(ABNORMAL).unwrap()}),
    );
    eprintln!("abnormal flow: {out:#}");
    assert_eq!(out["lang"], "en");
    assert_eq!(out["outcome"], "callback", "{out:#}");
    assert_eq!(
        out["alarm"]["question"], "bp",
        "the emergency shows on the answer that made it: {out:#}"
    );
    assert!(
        out["alarm"]["text"]
            .as_str()
            .unwrap()
            .contains("Call 120 now"),
        "{out:#}"
    );
    let escalations: Vec<Value> = doctor.get("/api/v1/escalations").body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["key"]["patient"] == ill)
        .cloned()
        .collect();
    let rules: Vec<&str> = escalations
        .iter()
        .filter_map(|e| e["key"]["rule"].as_str())
        .collect();
    assert!(
        rules.contains(&"hf-bp-emergency") && rules.contains(&"hf-breathless-at-rest"),
        "{escalations:#?}"
    );
    assert!(
        escalations
            .iter()
            .any(|e| e.to_string().contains("\"kind\":\"patient_link\"")),
        "the evidence says it came by the link: {escalations:#?}"
    );
    let t = task(&nurse, ill_task);
    assert_eq!(t["status"], "completed", "{t}");
    let tasks = nurse.get(&format!("/api/v1/patients/{ill}/tasks")).body;
    let call_back = tasks["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| {
            t["step_name"]
                .as_str()
                .unwrap_or("")
                .starts_with("Call back")
        })
        .unwrap_or_else(|| panic!("no call-back task: {tasks}"))
        .clone();
    assert_eq!(
        (call_back["status"].as_str(), call_back["role"].as_str()),
        (Some("pending"), Some("nurse"))
    );
    assert!(
        call_back["priority"].as_i64().unwrap() >= 140,
        "emergency: above every pathway: {call_back}"
    );

    // 5. "TD" from the first patient's phone opts her out (audited); no link goes to her now
    kannel.send_mo("13800138101", "10086", "TD");
    wait_for("the opt-out", Duration::from_secs(20), || {
        (sms_status(&nurse, well)["opted_out"] == true).then_some(())
    });
    let admin = Client::login(&server, "admin", "admin-demo-1");
    let audit = admin.get("/api/v1/audit").body.to_string();
    assert!(audit.contains("sms.opt_out"), "{audit}");
    // any other text is a reply for the nurse
    kannel.send_mo("13800138102", "10086", "我今天好多了");
    let reply = wait_for("the reply", Duration::from_secs(20), || {
        let s = sms_status(&nurse, ill);
        s["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["direction"] == "in")
            .cloned()
    });
    assert_eq!(
        (reply["kind"].as_str(), reply["body"].as_str()),
        (Some("reply"), Some("我今天好多了"))
    );
    let (_, day3) = {
        let tasks = supervisor
            .get(&format!("/api/v1/patients/{well}/tasks"))
            .body;
        let t = tasks["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["status"] == "pending")
            .cloned()
            .unwrap();
        (well, t["id"].as_i64().unwrap())
    };
    let r = nurse.post(&format!("/api/v1/tasks/{day3}/sms-link"), json!({}));
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("opted out"),
        "{}",
        r.body
    );
    drop(kannel);
}

fn identity(server: &Server, token: &str, answer: &str) -> (u16, Value, Option<String>) {
    let resp = ureq::post(&format!("{}/f/{token}/identity", server.base))
        .send_json(json!({"answer": answer}));
    let resp = match resp {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    let status = resp.status();
    let cookie = resp
        .header("set-cookie")
        .map(|c| c.split(';').next().unwrap_or("").to_string());
    let body = resp.into_json().unwrap_or(Value::Null);
    (status, body, cookie)
}

fn get_with(server: &Server, path: &str, cookie: Option<&str>) -> (u16, String) {
    let mut req = ureq::get(&format!("{}{path}", server.base));
    if let Some(c) = cookie {
        req = req.set("Cookie", c);
    }
    match req.call() {
        Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
        Err(ureq::Error::Status(s, r)) => (s, r.into_string().unwrap_or_default()),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn bad_links_answer_404_alike_wrong_birth_years_lock_and_links_stay_with_their_patient() {
    let _machine = serial::shared();
    let dir = tempfile::tempdir().unwrap();
    let ports = Ports::pick();
    let mut env = env(&ports);
    let server = start(dir.path(), &env);
    let kannel = Kannel::start(&ports, &get_url(&server));
    let supervisor = Client::login(&server, "supervisor", "supervisor-demo-1");
    let nurse = Client::login(&server, "nurse", "nurse-demo-1");
    let (a, a_task) = patient(&supervisor, "BAD-A", "+8613800138201", "1960-01-15", "zh");
    let (_b, b_task) = patient(&supervisor, "BAD-B", "+8613800138202", "1971-07-07", "zh");
    let (c, c_task) = patient(&supervisor, "BAD-C", "+8613800138203", "1945-05-05", "zh");
    for t in [a_task, b_task, c_task] {
        assert_eq!(
            nurse
                .post(&format!("/api/v1/tasks/{t}/sms-link"), json!({}))
                .status,
            201
        );
    }
    let token = |tail: &str| {
        link_from_sms(&kannel, tail, 1)
            .0
            .rsplit('/')
            .next()
            .unwrap()
            .to_string()
    };
    let (ta, tb, tc) = (
        token("13800138201"),
        token("13800138202"),
        token("13800138203"),
    );

    // unknown (right shape), malformed: the same 404 page
    let (s_unknown, unknown) = get_with(&server, "/f/AAAAAAAAAAAAAAAAAAAAAAAA", None);
    let (s_bad, bad) = get_with(&server, "/f/..%2f..%2fetc", None);
    assert_eq!((s_unknown, s_bad), (404, 404));
    assert_eq!(unknown, bad);

    // one patient's session never opens another's link
    let (s, _, cookie_b) = identity(&server, &tb, "1971");
    assert_eq!(s, 200);
    let cookie_b = cookie_b.expect("cookie");
    let (s, body) = get_with(&server, &format!("/f/{tb}/form"), Some(&cookie_b));
    assert_eq!(s, 200, "{body}");
    let (s, body) = get_with(&server, &format!("/f/{ta}/form"), Some(&cookie_b));
    assert_eq!(s, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body,
        json!({"identity_required": true, "check": "birth_year"}),
        "B's cookie on A's link shows nothing of A"
    );
    let put = ureq::put(&format!("{}/f/{ta}/answers/weight", server.base))
        .set("Cookie", &cookie_b)
        .send_json(json!({"value": 70}));
    assert!(matches!(put, Err(ureq::Error::Status(401, _))), "{put:?}");
    // B's own link is bound to B's task: its form is B's
    let (_, own) = get_with(&server, &format!("/f/{tb}/form"), Some(&cookie_b));
    let own: Value = serde_json::from_str(&own).unwrap();
    assert_eq!(own["answers"], json!([]));

    // five wrong birth years lock A's link; the right one is refused after; the nurse calls
    let mut answers = Vec::new();
    for y in ["1961", "1959", "1906", "60", "1950"] {
        let (status, body, cookie) = identity(&server, &ta, y);
        assert_eq!((status, cookie), (200, None), "{body}");
        answers.push(body);
    }
    let left: Vec<Value> = answers.iter().map(|b| b["tries_left"].clone()).collect();
    assert_eq!(left, [json!(4), json!(3), json!(2), json!(1), Value::Null]);
    assert_eq!(answers[4], json!({"ok": false, "locked": true}));
    let (status, _, cookie) = identity(&server, &ta, "1960");
    assert_eq!(
        (status, cookie),
        (423, None),
        "the right year after the lock"
    );
    let (status, _) = get_with(&server, &format!("/f/{ta}"), None);
    assert_eq!(status, 200, "a locked link's page says it is locked");
    let tasks = nurse.get(&format!("/api/v1/patients/{a}/tasks")).body;
    assert!(tasks.to_string().contains("SMS link locked"), "{tasks}");
    let links = sms_status(&nurse, a)["links"].clone();
    assert_eq!(links[0]["identity_failures"], 5);
    assert!(links[0]["locked_at"].is_string(), "{links}");

    // revoked: the same 404 as unknown
    let link_c = sms_status(&nurse, c)["links"][0]["id"].as_i64().unwrap();
    assert_eq!(
        nurse
            .post(&format!("/api/v1/sms-links/{link_c}/revoke"), json!({}))
            .status,
        200
    );
    let (s, revoked) = get_with(&server, &format!("/f/{tc}"), None);
    assert_eq!((s, revoked.as_str()), (404, unknown.as_str()));
    assert_eq!(identity(&server, &tc, "1945").0, 404);

    // Kannel's callbacks: no key or a wrong key → 403, nothing stored
    let msg = sms_status(&nurse, a)["messages"][0]["id"].as_i64().unwrap();
    for key in ["", "wrong-key-wrong-key-wrong"] {
        let (s, _) = get_with(
            &server,
            &format!("/sms/kannel/dlr?key={key}&msg={msg}&status=2"),
            None,
        );
        assert_eq!(s, 403, "key {key:?}");
        let (s, _) = get_with(
            &server,
            &format!("/sms/kannel/inbound?key={key}&from=13800138201&text=TD"),
            None,
        );
        assert_eq!(s, 403);
    }
    assert_eq!(sms_status(&nurse, a)["opted_out"], false);
    drop(kannel);

    // expired (the clock four days on) answers the same 404; and with Kannel's network moved
    // elsewhere even the right key is refused from loopback
    let base_before = server.base.clone();
    drop(server);
    env.push(("SUIFANG_CLOCK_OFFSET_SECONDS", (4 * 86_400).to_string()));
    env.push(("SUIFANG_SMS_CALLBACK_ALLOW", "10.9.9.9/32".into()));
    let later = start(dir.path(), &env);
    assert_ne!(later.base, "", "{base_before}");
    let (s, expired) = get_with(&later, &format!("/f/{tb}"), None);
    assert_eq!((s, expired.as_str()), (404, unknown.as_str()));
    let (s, _) = get_with(
        &later,
        &format!("/sms/kannel/dlr?key={SECRET}&msg={msg}&status=2"),
        None,
    );
    assert_eq!(s, 403, "right key from a network not allowed");
    let nurse = Client::login(&later, "nurse", "nurse-demo-1");
    assert_eq!(sms_status(&nurse, a)["messages"][0]["state"], "delivered");
}

#[test]
fn a_link_not_done_in_time_gets_one_reminder_with_a_fresh_link() {
    let _machine = serial::shared();
    let dir = tempfile::tempdir().unwrap();
    let ports = Ports::pick();
    let mut env = env(&ports);
    env.push(("SUIFANG_SMS_REMIND_AFTER_HOURS", "2".into()));
    let server = start(dir.path(), &env);
    let kannel = Kannel::start(&ports, &get_url(&server));
    let supervisor = Client::login(&server, "supervisor", "supervisor-demo-1");
    let nurse = Client::login(&server, "nurse", "nurse-demo-1");
    let (p, t) = patient(&supervisor, "REM-1", "+8613800138301", "1950-02-02", "zh");
    // a second patient whose link, sent at the end, tells that the outbox has polled
    let (_, witness_task) = patient(&supervisor, "REM-2", "+8613800138302", "1951-03-03", "en");
    assert_eq!(
        nurse
            .post(&format!("/api/v1/tasks/{t}/sms-link"), json!({}))
            .status,
        201
    );
    let (first, _) = link_from_sms(&kannel, "13800138301", 1);
    let first_path = first
        .split_once("/f/")
        .map(|(_, tok)| format!("/f/{tok}"))
        .unwrap();
    drop(server);

    // one hour on: not yet
    let mut at = env.clone();
    at.push(("SUIFANG_CLOCK_OFFSET_SECONDS", "3600".into()));
    let server = start(dir.path(), &at);
    assert_eq!(get_with(&server, &first_path, None).0, 200);
    drop(server);

    // three hours on: the sweep at start-up queues the one reminder, with a new link
    let mut later = env.clone();
    later.push(("SUIFANG_CLOCK_OFFSET_SECONDS", (3 * 3600).to_string()));
    let server = start(dir.path(), &later);
    let (second, text) = link_from_sms(&kannel, "13800138301", 2);
    assert!(text.contains("提醒") && text.contains("回TD退订"), "{text}");
    assert_ne!(second, first);
    let second_path = second
        .split_once("/f/")
        .map(|(_, tok)| format!("/f/{tok}"))
        .unwrap();
    assert_eq!(get_with(&server, &second_path, None).0, 200);
    assert_eq!(
        get_with(&server, &first_path, None).0,
        404,
        "the first link gave way to the reminder's"
    );
    let nurse = Client::login(&server, "nurse", "nurse-demo-1");
    let kinds: Vec<Value> = sms_status(&nurse, p)["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].clone())
        .collect();
    assert_eq!(kinds, [json!("reminder"), json!("link")]);
    drop(server);

    // and no second reminder, however long it stays undone
    let mut much_later = env;
    much_later.push(("SUIFANG_CLOCK_OFFSET_SECONDS", (30 * 3600).to_string()));
    let server = start(dir.path(), &much_later);
    let nurse = Client::login(&server, "nurse", "nurse-demo-1");
    // The worker sweeps for reminders before each send, the first sweep before the first
    // send: once the second patient's SMS reaches the fake SMSC, that sweep is over and any
    // reminder it queued is in the outbox.
    assert_eq!(
        nurse
            .post(&format!("/api/v1/tasks/{witness_task}/sms-link"), json!({}))
            .status,
        201
    );
    link_from_sms(&kannel, "13800138302", 1);
    assert_eq!(
        sms_status(&nurse, p)["messages"].as_array().unwrap().len(),
        2
    );
    assert_eq!(kannel.received("13800138301").len(), 2);
}
