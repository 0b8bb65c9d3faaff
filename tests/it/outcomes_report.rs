//! Issue 18 item 3 acceptance, against the real binary: a generated cohort of 2,000 discharges
//! over eight months (2025-03 to 2025-10, Asia/Shanghai, with holidays) is lived through by the
//! server, phase by phase: every four days the server starts with its clock at that day's
//! 10:00 (`SUIFANG_CLOCK_OFFSET_SECONDS`), the discharges of the last four days are imported
//! (CSV), the admissions that happened since are posted (some planned), the queue is built and
//! two nurses claim every task it offers, reaching some patients (completed or refused) and not
//! others (no answer). Then the outcome report is read, and its figures are compared with what
//! `tests/fixtures/outcomes/expected.py` computes, in Python with its own SQLite database, from
//! the same inputs: the rows imported, the attempts recorded (with the times the server stamped
//! on them, read back from each patient's timeline) and the admissions posted. Counts, rates and
//! medians must be equal; Wilson intervals equal to 1e-12 (two implementations of a formula
//! with a square root). Finally the SQL the report prints is run by Python's sqlite3 on the
//! server's database and must give the report's numbers back.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde_json::{json, Value};

use crate::common::{self, Client, Server};

const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;
const DISCHARGES: usize = 2000;
const PHASE_DAYS: i64 = 4;
/// China's 2025 public holidays that fall on weekdays in the period (Labour Day, Dragon Boat,
/// National Day): they move the 2-business-day deadline.
const HOLIDAYS: &[&str] = &[
    "2025-05-01",
    "2025-05-02",
    "2025-05-05",
    "2025-06-02",
    "2025-10-01",
    "2025-10-02",
    "2025-10-03",
    "2025-10-06",
    "2025-10-07",
    "2025-10-08",
];

/// A deterministic generator the test owns (the cohort is the same on every run).
struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Plan {
    /// Completed at the first offer.
    First,
    /// No answer at the first offer, completed at the second.
    Second,
    /// Refused at the first offer: reached, not completed.
    Refused,
    /// Never answers.
    Never,
}

struct Patient {
    mrn: String,
    discharged_at: DateTime<Utc>,
    department: &'static str,
    pathway: Option<&'static str>,
    plan: Plan,
    offers: u32,
    admission: Option<(DateTime<Utc>, bool)>,
}

fn local(day: NaiveDate, hour: u32) -> DateTime<Utc> {
    TZ.from_local_datetime(&day.and_hms_opt(hour, 0, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

fn cohort(first_phase: DateTime<Utc>, phases: i64) -> Vec<Patient> {
    let mut rng = Lcg(18);
    (0..DISCHARGES)
        .map(|i| {
            // discharged in the four days before phase k (k ≥ 1), on the hour
            let k = 1 + rng.below(phases as u64) as i64;
            let phase = first_phase + Duration::days(PHASE_DAYS * k);
            let discharged_at = phase - Duration::hours(1 + rng.below(95) as i64);
            let (department, pathway) = match i % 5 {
                0..=2 => ("cardiology", Some("outcome-hf")),
                3 => ("general-surgery", Some("outcome-surgery")),
                // no pathway for neurology: imported, not enrolled, not in the report
                _ => ("neurology", None),
            };
            let plan = match rng.below(20) {
                0..=8 => Plan::First,
                9..=12 => Plan::Second,
                13..=14 => Plan::Refused,
                _ => Plan::Never,
            };
            let admission = match rng.below(20) {
                0..=3 => Some((
                    discharged_at + Duration::hours(2 + rng.below(200 * 24) as i64),
                    false,
                )),
                4 => Some((
                    discharged_at + Duration::hours(2 + rng.below(60 * 24) as i64),
                    true,
                )),
                _ => None,
            };
            Patient {
                mrn: format!("OUT{i:04}"),
                discharged_at,
                department,
                pathway,
                plan,
                offers: 0,
                admission,
            }
        })
        .collect()
}

fn prompts_dir(dir: &Path) -> PathBuf {
    let prompts = dir.join("prompts");
    std::fs::create_dir_all(prompts.join("pathways")).unwrap();
    let repo = common::repo_root().join("prompts");
    for sub in ["scripts", "audio", "demo"] {
        std::os::unix::fs::symlink(repo.join(sub), prompts.join(sub)).unwrap();
    }
    // one call a day after discharge, offered for ten days: a patient can be reached at the
    // first or the second phase after the discharge, within 7 days or later
    for (code, dept, script) in [
        ("outcome-hf", "cardiology", "heart-failure"),
        ("outcome-surgery", "general-surgery", "post-surgery"),
    ] {
        std::fs::write(
            prompts.join(format!("pathways/{code}.toml")),
            format!(
                "code = \"{code}\"\nversion = 1\ntitle = {{ en = \"{code}\", zh = \"{code}\" }}\n\
                 priority = 10\n\n[match]\ndepartments = [\"{dept}\"]\n\n[[steps]]\n\
                 name = {{ en = \"Day 1 call\", zh = \"出院第1天随访\" }}\nday = 1\n\
                 window_after_days = 9\nscript = \"{script}\"\nrole = \"nurse\"\n"
            ),
        )
        .unwrap();
    }
    prompts
}

fn csv_of(patients: &[&Patient]) -> String {
    let mut out = String::from(
        "mrn,name,sex,birth_date,phone,alt_phone,alt_contact_name,alt_contact_relation,language,department,discharged_at,diagnoses,visit_number,attending,summary\n",
    );
    for p in patients {
        let n: u32 = p.mrn[3..].parse().unwrap();
        let icd = match p.department {
            "cardiology" => "I50.9",
            "general-surgery" => "K35.8",
            _ => "G40.9",
        };
        out.push_str(&format!(
            "{},{},F,1950-01-01,+861380000{n:04},,,,zh,{},{},{icd},V{n},,\n",
            p.mrn,
            p.mrn,
            p.department,
            p.discharged_at.with_timezone(&TZ).format("%Y-%m-%d %H:%M"),
        ));
    }
    out
}

struct Phase {
    server: Server,
    supervisor: Client,
}

fn start(dir: &Path, prompts: &Path, config: &Path, at: DateTime<Utc>, demo: bool) -> Phase {
    let offset = (at - Utc::now()).num_seconds().to_string();
    let server = Server::start(
        &dir.join("data"),
        if demo { "demo" } else { "serve" },
        &[
            ("SUIFANG_PROMPTS_DIR", prompts.to_str().unwrap()),
            ("SUIFANG_CONFIG", config.to_str().unwrap()),
            ("SUIFANG_TIME_ZONE", "Asia/Shanghai"),
            ("SUIFANG_CLOCK_OFFSET_SECONDS", &offset),
            ("SUIFANG_ALLOW_DEMO_LOGINS", "true"),
        ],
    );
    let supervisor = Client::login(&server, "supervisor", "supervisor-demo-1");
    Phase { server, supervisor }
}

fn python(args: &[&str]) -> Value {
    let out = Command::new("python3")
        .arg(common::repo_root().join("tests/fixtures/outcomes/expected.py"))
        .args(args)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "expected.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("expected.py prints JSON")
}

/// Compares one figure: exact, but intervals to 1e-12.
fn same(path: &str, got: &Value, want: &Value) -> Result<(), String> {
    let ok = match (got.as_f64(), want.as_f64()) {
        (Some(g), Some(w)) if path.contains("ci95") => (g - w).abs() <= 1e-12,
        (Some(g), Some(w)) => g == w,
        _ => got == want,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{path}: report {got}, expected {want}"))
    }
}

fn compare(path: &str, got: &Value, want: &Value, errors: &mut Vec<String>) {
    match want {
        Value::Object(fields) => {
            for (k, w) in fields {
                compare(&format!("{path}.{k}"), &got[k], w, errors);
            }
        }
        _ => {
            if let Err(e) = same(path, got, want) {
                errors.push(e);
            }
        }
    }
}

#[test]
fn the_outcome_report_matches_figures_computed_apart_from_the_same_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let prompts = prompts_dir(dir.path());
    let config = dir.path().join("suifang.toml");
    std::fs::write(
        &config,
        format!(
            "[hospital]\nholidays = [{}]\n",
            HOLIDAYS
                .iter()
                .map(|h| format!("\"{h}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
    .unwrap();
    let first_phase = local(NaiveDate::from_ymd_opt(2025, 2, 25).unwrap(), 10);
    // phases with discharges: up to 2025-10-31; then two more for the last calls
    let discharge_phases = 62;
    let mut patients = cohort(first_phase, discharge_phases);
    let as_of = local(NaiveDate::from_ymd_opt(2026, 2, 16).unwrap(), 10);

    // the demo seeds users and departments (its own patients are discharged today, in
    // December 2026, far outside the period and not yet due at any phase)
    drop(start(dir.path(), &prompts, &config, Utc::now(), true));

    let mut attempts: Vec<(i64, String, &'static str)> = Vec::new(); // (task, nurse, disposition)
    let mut patient_ids: HashMap<String, i64> = HashMap::new();
    let mut posted_admissions = 0;
    let last_phase = discharge_phases + 3;
    let mut prev_at = DateTime::<Utc>::MIN_UTC;
    for k in 0..=last_phase {
        let at = if k == last_phase {
            as_of
        } else {
            first_phase + Duration::days(PHASE_DAYS * k)
        };
        let phase = start(dir.path(), &prompts, &config, at, false);
        let sup = &phase.supervisor;
        if k == 0 {
            let r = phase.server_admin().post(
                "/api/v1/users",
                json!({"username": "zhao", "display_name": "赵护士 Nurse Zhao", "role": "nurse",
                       "password": "nurse-zhao-12345", "department": "cardiology"}),
            );
            assert!(r.status == 200 || r.status == 201, "{}", r.body);
        }
        // this phase's discharges
        let due: Vec<&Patient> = patients
            .iter()
            .filter(|p| p.discharged_at <= at && p.discharged_at > prev_at)
            .collect();
        if !due.is_empty() {
            let r = sup.request(
                "POST",
                "/api/v1/patients/import",
                Some(&csv_of(&due)),
                "text/csv",
            );
            assert_eq!(r.status, 200, "phase {k}: {}", r.body);
            assert_eq!(r.body["imported"], due.len(), "phase {k}");
        }
        // admissions that happened since the last phase, before anyone is called
        for p in patients
            .iter()
            .filter(|p| p.admission.is_some_and(|(a, _)| a <= at && a > prev_at))
        {
            let (admitted_at, planned) = p.admission.unwrap();
            let id = match patient_ids.get(&p.mrn) {
                Some(id) => *id,
                None => {
                    let r = sup.get(&format!("/api/v1/patients?q={}", p.mrn));
                    let id = r.body["items"][0]["id"]
                        .as_i64()
                        .unwrap_or_else(|| panic!("{}: {}", p.mrn, r.body));
                    patient_ids.insert(p.mrn.clone(), id);
                    id
                }
            };
            let r = sup.post(
                &format!("/api/v1/patients/{id}/admissions"),
                json!({"admitted_at": admitted_at.to_rfc3339(), "patient_class": "inpatient",
                       "department": p.department,
                       "admission_type": if planned { "elective" } else { "emergency" }}),
            );
            assert_eq!(r.status, 201, "{}: {}", p.mrn, r.body);
            posted_admissions += 1;
        }
        prev_at = at;
        if k == last_phase {
            break;
        }
        let r = sup.post("/api/v1/queue/build", json!({}));
        assert_eq!(r.status, 200, "{}", r.body);
        // two nurses take turns until the queue has nothing more for today
        let nurses = [
            (
                "nurse",
                Client::login(&phase.server, "nurse", "nurse-demo-1"),
            ),
            (
                "zhao",
                Client::login(&phase.server, "zhao", "nurse-zhao-12345"),
            ),
        ];
        let by_mrn: HashMap<String, usize> = patients
            .iter()
            .enumerate()
            .map(|(i, p)| (p.mrn.clone(), i))
            .collect();
        for turn in 0.. {
            let (name, nurse) = &nurses[turn % 2];
            let claim = nurse.post("/api/v1/queue/claim", json!({}));
            if claim.status == 404 {
                break;
            }
            assert_eq!(claim.status, 200, "phase {k}: {}", claim.body);
            let task = &claim.body["task"];
            let mrn = task["patient_name"].as_str().unwrap().to_string();
            let Some(&i) = by_mrn.get(&mrn) else {
                panic!("phase {k}: a task of a patient outside the cohort: {task}");
            };
            patient_ids.insert(mrn.clone(), task["patient_id"].as_i64().unwrap());
            let p = &mut patients[i];
            p.offers += 1;
            let disposition = match (p.plan, p.offers) {
                (Plan::First, _) => "completed",
                (Plan::Second, 1) => "no_answer",
                (Plan::Second, _) => "completed",
                (Plan::Refused, _) => "refused",
                (Plan::Never, _) => "no_answer",
            };
            let id = task["id"].as_i64().unwrap();
            let r = nurse.post(
                &format!("/api/v1/tasks/{id}/disposition"),
                json!({"disposition": disposition}),
            );
            assert_eq!(r.status, 200, "phase {k}: {}", r.body);
            attempts.push((id, name.to_string(), disposition));
        }
        drop(phase);
    }
    let phase = start(dir.path(), &prompts, &config, as_of, false);
    let from = "2025-03-01";
    let to = "2025-10-31";
    let report = phase
        .supervisor
        .get(&format!("/api/v1/reports/outcomes?from={from}&to={to}"));
    assert_eq!(report.status, 200, "{}", report.body);
    let report = report.body;

    // the attempts with the times the server gave them (timeline, oldest first per task)
    let mut stamped: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    let mut task_patient: HashMap<i64, String> = HashMap::new();
    let ids: Vec<(String, i64)> = patient_ids.iter().map(|(m, i)| (m.clone(), *i)).collect();
    for (mrn, id) in &ids {
        let tl = phase
            .supervisor
            .get(&format!("/api/v1/patients/{id}/timeline"));
        assert_eq!(tl.status, 200, "{}", tl.body);
        for item in tl.body["items"].as_array().unwrap() {
            if item["kind"] == "attempt" {
                let task = item["task_id"].as_i64().unwrap();
                stamped
                    .entry(task)
                    .or_default()
                    .push(item["at"].as_i64().unwrap());
                task_patient.insert(task, mrn.clone());
            }
        }
    }
    for times in stamped.values_mut() {
        times.sort();
    }
    let mut seen: HashMap<i64, usize> = HashMap::new();
    let attempt_inputs: Vec<Value> = attempts
        .iter()
        .map(|(task, nurse, disposition)| {
            let n = seen.entry(*task).or_default();
            let at = stamped[task][*n];
            *n += 1;
            json!({"mrn": task_patient[task], "nurse": nurse, "disposition": disposition, "at": at})
        })
        .collect();
    assert_eq!(
        stamped.values().map(Vec::len).sum::<usize>(),
        attempts.len(),
        "every attempt recorded is on a timeline"
    );
    let as_of_reported = DateTime::parse_from_rfc3339(report["as_of"].as_str().unwrap())
        .unwrap()
        .timestamp();
    let inputs = json!({
        "time_zone": "Asia/Shanghai",
        "holidays": HOLIDAYS,
        "from": from,
        "to": to,
        "as_of": as_of_reported,
        "discharges": patients.iter().map(|p| json!({"mrn": p.mrn, "discharged_at": p.discharged_at.timestamp(),
            "department": p.department, "pathway": p.pathway})).collect::<Vec<_>>(),
        "attempts": attempt_inputs,
        "admissions": patients.iter().filter_map(|p| p.admission.filter(|(a, _)| *a <= as_of)
            .map(|(a, planned)| json!({"mrn": p.mrn, "admitted_at": a.timestamp(), "planned": planned}))).collect::<Vec<_>>(),
    });
    let inputs_file = dir.path().join("inputs.json");
    std::fs::write(&inputs_file, inputs.to_string()).unwrap();
    let expected = python(&[inputs_file.to_str().unwrap()]);

    // the cohort exercises what the report measures
    let total = &report["total"];
    let enrolled = total["enrolled"].as_i64().unwrap();
    eprintln!(
        "outcome cohort: {} discharges imported, {enrolled} enrolled, {} attempts, {posted_admissions} admissions posted; \
         reached within 2 business days {}, within 7 days {}, completed {}, median hours to first contact {}; \
         30-day readmission {}/{} (reached {}/{}, not reached {}/{}), 180-day {}/{}",
        patients.len(), attempts.len(),
        total["reached_within_2_business_days"]["events"], total["reached_within_7_days"]["events"],
        total["completed"]["events"], total["median_hours_to_first_contact"],
        total["readmissions"]["days_30"]["events"], total["readmissions"]["days_30"]["eligible"],
        total["readmissions_reached"]["days_30"]["events"], total["readmissions_reached"]["days_30"]["eligible"],
        total["readmissions_not_reached"]["days_30"]["events"], total["readmissions_not_reached"]["days_30"]["eligible"],
        total["readmissions"]["days_180"]["events"], total["readmissions"]["days_180"]["eligible"],
    );
    assert!(enrolled > 1500 && enrolled < 1700, "{enrolled}");
    let t30 = &total["readmissions"]["days_30"];
    assert!(t30["events"].as_i64().unwrap() > 20, "{t30}");
    let t180 = &total["readmissions"]["days_180"];
    assert!(
        t180["eligible"].as_i64().unwrap() > 0 && t180["eligible"].as_i64().unwrap() < enrolled,
        "some 6-month windows are over at as_of, not all: {t180}"
    );
    assert_eq!(report["month"].as_array().unwrap().len(), 8);
    let w2 = total["reached_within_2_business_days"]["events"]
        .as_i64()
        .unwrap();
    let w7 = total["reached_within_7_days"]["events"].as_i64().unwrap();
    let reached = total["reached"].as_i64().unwrap();
    assert!(
        0 < w2 && w2 < w7 && w7 < reached && reached < enrolled,
        "{total}"
    );

    let mut errors = Vec::new();
    let mut groups = 0;
    for dim in ["total", "month", "pathway", "department", "nurse"] {
        let want = expected[dim].as_object().unwrap();
        let got: BTreeMap<String, &Value> = if dim == "total" {
            [("all".to_string(), &report["total"])]
                .into_iter()
                .collect()
        } else {
            report[dim]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| (g["key"].as_str().unwrap().to_string(), g))
                .collect()
        };
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{dim} groups"
        );
        for (key, w) in want {
            compare(&format!("{dim}={key}"), got[key], w, &mut errors);
            groups += 1;
        }
    }
    assert!(
        errors.is_empty(),
        "{} figures differ:\n{}",
        errors.len(),
        errors.join("\n")
    );
    eprintln!("outcome report: {groups} groups equal to the Python figures");

    // CSV: the same total
    let csv = phase.supervisor.request(
        "GET",
        &format!("/api/v1/reports/outcomes?from={from}&to={to}&format=csv"),
        None,
        "",
    );
    assert_eq!(csv.status, 200);
    let text = csv.body.as_str().unwrap().to_string();
    assert!(
        text.contains(&format!("\ntotal,all,{enrolled},{w2},")),
        "{}",
        &text[..400.min(text.len())]
    );

    // the printed SQL, run by Python's sqlite3 on the server's database, gives the numbers back
    drop(phase);
    let report_file = dir.path().join("report.json");
    std::fs::write(&report_file, report.to_string()).unwrap();
    let db = dir.path().join("data/data/suifang.db");
    assert!(db.is_file(), "{}", db.display());
    let rows = python(&[
        "--reproduce",
        db.to_str().unwrap(),
        report_file.to_str().unwrap(),
    ]);
    let sql_value =
        |metric: &str, dim: &str, key: &str| rows[format!("{metric}|{dim}|{key}")].clone();
    let mut sql_checked = 0;
    for dim in ["total", "month", "pathway", "department", "nurse"] {
        let groups: Vec<&Value> = if dim == "total" {
            vec![&report["total"]]
        } else {
            report[dim].as_array().unwrap().iter().collect()
        };
        for g in groups {
            let key = g["key"].as_str().unwrap();
            for (metric, want) in [
                ("enrolled", g["enrolled"].clone()),
                (
                    "reached_within_2_business_days",
                    g["reached_within_2_business_days"]["events"].clone(),
                ),
                (
                    "reached_within_7_days",
                    g["reached_within_7_days"]["events"].clone(),
                ),
                ("completed", g["completed"]["events"].clone()),
                (
                    "median_hours_to_first_contact",
                    g["median_hours_to_first_contact"].clone(),
                ),
                (
                    "readmission_30d_events",
                    g["readmissions"]["days_30"]["events"].clone(),
                ),
                (
                    "readmission_30d_eligible",
                    g["readmissions"]["days_30"]["eligible"].clone(),
                ),
                (
                    "readmission_180d_reached_events",
                    g["readmissions_reached"]["days_180"]["events"].clone(),
                ),
                (
                    "readmission_180d_not_reached_eligible",
                    g["readmissions_not_reached"]["days_180"]["eligible"].clone(),
                ),
            ] {
                let got = sql_value(metric, dim, key);
                assert!(
                    got.as_f64() == want.as_f64(),
                    "printed SQL {metric} {dim}={key}: {got} vs report {want}"
                );
                sql_checked += 1;
            }
        }
    }
    eprintln!("printed SQL: {sql_checked} figures reproduced from the database");
}

impl Phase {
    fn server_admin(&self) -> Client {
        Client::login(&self.server, "admin", "admin-demo-1")
    }
}
