//! The outcome report over a real SQLite file: its figures equal what its printed SQL returns,
//! group by group, and a few are checked by hand.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};

use super::*;
use crate::followup::outcomes::OutcomeMetrics;
use crate::followup::pathway::PathwayCatalog;
use crate::followup::patient::{Diagnosis, DiagnosisKind, NewDischarge};
use crate::followup::script::AnswerValue;
use crate::store::patients::record_discharge;
use crate::store::{temp_store, Store};

fn catalog() -> PathwayCatalog {
    PathwayCatalog::load_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/pathways"),
    )
    .expect("the shipped pathways load")
}

fn calendar() -> Calendar {
    Calendar {
        tz: chrono_tz::Asia::Shanghai,
        holidays: vec![NaiveDate::from_ymd_opt(2026, 2, 17).unwrap()],
        tcm_two_business_days: false,
    }
}

fn sh(m: u32, d: u32, h: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(2026, m, d, h, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

/// A tiny deterministic generator (no test should depend on a seed it cannot see).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// 90 discharges over January–March in two departments (two pathways), with attempts by two
/// nurses, readmissions (some planned, one cancelled), escalations of every severity and
/// satisfaction answers (some partial, some changed).
fn cohort(store: &Store) {
    store
        .write_blocking(|tx| {
            tx.execute_batch(
                "INSERT OR IGNORE INTO departments (code, name_en, name_zh) VALUES
                    ('cardiology', 'Cardiology', '心内科'), ('surgery', 'Surgery', '外科');
                 INSERT INTO users (id, username, display_name, role, password_hash, created_at)
                    VALUES (1, 'wang', 'Wang', 'nurse', 'x', 0), (2, 'li', 'Li', 'nurse', 'x', 0);",
            )?;
            let mut rng = Lcg(7);
            let mut satisfaction_rng = Lcg(11);
            for i in 0..90i64 {
                tx.execute(
                    "INSERT INTO patients (id, mrn, name, phone, created_at, updated_at)
                     VALUES (?1, ?2, 'p', '+8613800000001', 0, 0)",
                    rusqlite::params![i + 1, format!("M{i}")],
                )?;
                let at = sh(1, 1, 8) + Duration::hours(i * 23 + rng.next(5) as i64);
                let (dept, icd) = if i % 3 == 0 {
                    ("surgery", "K35.8")
                } else {
                    ("cardiology", "I50.9")
                };
                let d = NewDischarge {
                    discharged_at: at,
                    department: Some(dept.into()),
                    diagnoses: vec![Diagnosis {
                        icd10: icd.into(),
                        kind: DiagnosisKind::F,
                    }],
                    visit_number: Some(format!("V{i}")),
                    attending: None,
                    disposition: None,
                    summary: None,
                };
                let out = record_discharge(tx, i + 1, &d, &catalog(), &calendar(), at)?;
                let discharge = out.discharge_id;
                let task: i64 = tx.query_row(
                    "SELECT MIN(id) FROM followup_tasks WHERE patient_id = ?1",
                    [i + 1],
                    |r| r.get(0),
                )?;
                // attempts: none, one unreached then reached, or reached at once
                let nurse = 1 + rng.next(2) as i64;
                let first = at + Duration::hours(2 + rng.next(200) as i64);
                match rng.next(3) {
                    0 => {}
                    1 => {
                        tx.execute(
                            "INSERT INTO task_attempts (task_id, user_id, disposition, contact, at)
                             VALUES (?1, ?2, 'no_answer', 'primary', ?3)",
                            rusqlite::params![task, nurse, first.timestamp()],
                        )?;
                        tx.execute(
                            "INSERT INTO task_attempts (task_id, user_id, disposition, contact, at)
                             VALUES (?1, ?2, 'refused', 'primary', ?3)",
                            rusqlite::params![task, 3 - nurse, first.timestamp() + 7200],
                        )?;
                    }
                    _ => {
                        tx.execute(
                            "INSERT INTO task_attempts (task_id, user_id, disposition, contact, at)
                             VALUES (?1, ?2, 'completed', 'primary', ?3)",
                            rusqlite::params![task, nurse, first.timestamp()],
                        )?;
                        tx.execute(
                            "UPDATE followup_tasks SET status = 'completed' WHERE id = ?1",
                            [task],
                        )?;
                    }
                }
                // satisfaction: two thirds answer some of the closing script's questions
                if satisfaction_rng.next(3) != 0 {
                    let last_task: i64 = tx.query_row(
                        "SELECT MAX(id) FROM followup_tasks WHERE patient_id = ?1",
                        [i + 1],
                        |r| r.get(0),
                    )?;
                    let overall = AnswerValue::Number(1.0 + satisfaction_rng.next(5) as f64);
                    let recommend = AnswerValue::Scale(satisfaction_rng.next(11) as u8);
                    let comment = AnswerValue::Text(
                        [" ", "很好", "too many calls"][satisfaction_rng.next(3) as usize].into(),
                    );
                    for (q, v) in [
                        ("overall", overall),
                        ("recommend", recommend),
                        ("comment", comment),
                    ] {
                        if satisfaction_rng.next(4) == 0 {
                            continue;
                        }
                        let value = serde_json::to_string(&v).unwrap();
                        tx.execute(
                            "INSERT INTO answers (task_id, patient_id, script_code, script_version,
                                 question_id, value, answered_at, updated_at)
                             VALUES (?1, ?2, 'satisfaction', 1, ?3, ?4, ?5, ?5)",
                            rusqlite::params![
                                last_task,
                                i + 1,
                                q,
                                value,
                                at.timestamp() + 86_400 * 31
                            ],
                        )?;
                    }
                }
                // readmissions: a third of the patients, some planned, one cancelled
                if rng.next(3) == 0 {
                    let admitted = at + Duration::days(1 + rng.next(120) as i64);
                    let planned = rng.next(4) == 0;
                    let cancelled = (i == 10).then_some(admitted.timestamp() + 3600);
                    tx.execute(
                        "INSERT INTO admissions (patient_id, admitted_at, patient_class, stay,
                             planned, source, cancelled_at, created_at)
                         VALUES (?1, ?2, 'I', 1, ?3, 'api', ?4, 0)",
                        rusqlite::params![i + 1, admitted.timestamp(), planned, cancelled],
                    )?;
                    tx.execute(
                        "INSERT INTO readmissions (admission_id, index_discharge_id,
                             days_since_discharge, contacted_before, planned, cancelled_at)
                         VALUES (last_insert_rowid(), ?1, ?2, 0, ?3, ?4)",
                        rusqlite::params![
                            discharge,
                            (admitted - at).num_days(),
                            planned,
                            cancelled
                        ],
                    )?;
                }
                // escalations: within and outside the 30 days
                for (j, sev) in ["routine", "high", "urgent", "emergency"]
                    .iter()
                    .enumerate()
                {
                    if rng.next(4) != 0 {
                        continue;
                    }
                    let opened = at + Duration::days(rng.next(40) as i64);
                    let acked = (rng.next(3) != 0)
                        .then(|| opened.timestamp() + 60 * (1 + rng.next(90) as i64));
                    tx.execute(
                        "INSERT INTO escalations (patient_id, script_code, rule_id, department_code,
                             route, severity, ack_sla_minutes, level, status, ack_due_at,
                             opened_at, updated_at, acknowledged_at, notified, evidence)
                         VALUES (?1, 's', ?2, ?3, '{}', ?4, 15, 'primary', 'resolved', 0, ?5, 0,
                             ?6, '[]', '[]')",
                        rusqlite::params![
                            i + 1,
                            format!("r{j}"),
                            dept,
                            sev,
                            opened.timestamp(),
                            acked
                        ],
                    )?;
                }
            }
            Ok(())
        })
        .unwrap();
}

/// `(metric, value)` of a group as the printed SQL names them.
fn figures(m: &OutcomeMetrics) -> Vec<(String, Option<f64>)> {
    let mut v = vec![
        ("enrolled".into(), Some(m.enrolled as f64)),
        (
            "reached_within_2_business_days".into(),
            Some(m.reached_within_2_business_days.events as f64),
        ),
        (
            "reached_within_7_days".into(),
            Some(m.reached_within_7_days.events as f64),
        ),
        ("completed".into(), Some(m.completed.events as f64)),
        ("reached".into(), Some(m.reached as f64)),
        (
            "median_hours_to_first_contact".into(),
            m.median_hours_to_first_contact,
        ),
    ];
    for (split, set) in [
        ("", &m.readmissions),
        ("_reached", &m.readmissions_reached),
        ("_not_reached", &m.readmissions_not_reached),
    ] {
        for (days, rc) in [(30, &set.days_30), (180, &set.days_180)] {
            v.push((
                format!("readmission_{days}d{split}_eligible"),
                Some(rc.eligible as f64),
            ));
            v.push((
                format!("readmission_{days}d{split}_events"),
                Some(rc.events as f64),
            ));
        }
    }
    let s = &m.satisfaction;
    for (name, n) in [
        ("responses", s.responses),
        ("overall_answered", s.overall_answered),
        ("recommend_answered", s.recommend_answered),
        ("promoters", s.promoters),
        ("detractors", s.detractors),
        ("comments", s.comments),
    ] {
        v.push((format!("satisfaction_{name}"), Some(n as f64)));
    }
    if s.overall_mean.is_some() {
        v.push(("satisfaction_overall_mean".into(), s.overall_mean));
    }
    let e = &m.escalations;
    for (sev, c) in [
        ("emergency", &e.emergency),
        ("urgent", &e.urgent),
        ("high", &e.high),
        ("routine", &e.routine),
    ] {
        // the SQL has no row for a severity without escalations
        if c.opened > 0 {
            v.push((format!("escalations_opened.{sev}"), Some(c.opened as f64)));
            v.push((
                format!("escalations_acknowledged.{sev}"),
                Some(c.acknowledged as f64),
            ));
        }
        if let Some(median) = c.median_minutes_to_acknowledge {
            v.push((
                format!("escalations_median_minutes_to_acknowledge.{sev}"),
                Some(median),
            ));
        }
    }
    v
}

#[test]
fn the_printed_sql_reproduces_every_figure() {
    let (_dir, store) = temp_store();
    cohort(&store);
    let (from, to) = (
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        NaiveDate::from_ymd_opt(2026, 3, 31).unwrap(),
    );
    // 180 days are over for January's and half of February's discharges
    let as_of = sh(8, 15, 12);
    let (report, reproduced) = store
        .write_blocking(move |tx| {
            let report = outcome_report(tx, &calendar(), from, to, as_of)?;
            let reproduced = reproduce(tx, &report.sql)?;
            Ok((report, reproduced))
        })
        .unwrap();
    assert_eq!(report.total.metrics.enrolled, 90);
    // the cohort exercises what the report measures
    let t = &report.total.metrics;
    assert!(t.reached > 20 && t.reached < 90, "{t:?}");
    assert!(
        t.readmissions.days_30.events > 0
            && t.readmissions.days_180.events > 0
            && t.readmissions.days_180.eligible < 90,
        "{t:?}"
    );
    assert!(t.escalations.urgent.acknowledged > 0);
    let s = &t.satisfaction;
    assert!(
        s.responses > 30 && s.overall_answered < s.responses && s.promoters > 0 && s.detractors > 0,
        "{s:?}"
    );
    // a comment of only spaces is no comment
    assert!(s.comments > 0 && s.comments < s.responses, "{s:?}");
    assert_eq!(report.month.len(), 3);
    assert_eq!(report.department.len(), 2);
    assert_eq!(
        report
            .nurse
            .iter()
            .map(|g| g.key.as_str())
            .collect::<Vec<_>>(),
        [NONE_KEY, "li", "wang"]
    );
    let groups = std::iter::once(("total", &report.total))
        .chain(report.month.iter().map(|g| ("month", g)))
        .chain(report.pathway.iter().map(|g| ("pathway", g)))
        .chain(report.department.iter().map(|g| ("department", g)))
        .chain(report.nurse.iter().map(|g| ("nurse", g)));
    let mut checked = 0;
    for (dim, g) in groups {
        for (metric, want) in figures(&g.metrics) {
            let got = reproduced
                .get(&(metric.clone(), dim.to_string(), g.key.clone()))
                .copied();
            match want {
                Some(w) => assert_eq!(got, Some(w), "{metric} {dim}={}", g.key),
                None => assert!(got.is_none(), "{metric} {dim}={}: {got:?}", g.key),
            }
            checked += 1;
        }
    }
    assert!(checked > 300, "{checked}");
    // and nothing the SQL returns is missing from the report
    assert!(
        reproduced.len() <= checked,
        "{} > {checked}",
        reproduced.len()
    );
}

#[test]
fn hand_checked_figures_and_csv() {
    let (_dir, store) = temp_store();
    store
        .write_blocking(|tx| {
            tx.execute_batch(
                "INSERT OR IGNORE INTO departments (code, name_en, name_zh)
                     VALUES ('cardiology', 'Cardiology', '心内科');
                 INSERT INTO users (id, username, display_name, role, password_hash, created_at)
                     VALUES (1, 'wang', 'Wang', 'nurse', 'x', 0);
                 INSERT INTO patients (id, mrn, name, phone, created_at, updated_at)
                     VALUES (1, 'M1', 'p', '+8613800000001', 0, 0),
                            (2, 'M2', 'q', '+8613800000002', 0, 0);",
            )?;
            for p in [1, 2] {
                let d = NewDischarge {
                    discharged_at: sh(2, 13, 10),
                    department: Some("cardiology".into()),
                    diagnoses: vec![Diagnosis {
                        icd10: "I50.9".into(),
                        kind: DiagnosisKind::F,
                    }],
                    visit_number: None,
                    attending: None,
                    disposition: None,
                    summary: None,
                };
                record_discharge(tx, p, &d, &catalog(), &calendar(), sh(2, 13, 10))?;
            }
            // Friday 02-13 → Mon 02-16, Tue 02-17 is a holiday → Wed 02-18 is the 2nd business
            // day: patient 1 reached on it at 19:00 (within), patient 2 on Thu (not)
            tx.execute_batch(&format!(
                "INSERT INTO task_attempts (task_id, user_id, disposition, contact, at) VALUES
                    ((SELECT MIN(id) FROM followup_tasks WHERE patient_id = 1), 1, 'completed', 'primary', {}),
                    ((SELECT MIN(id) FROM followup_tasks WHERE patient_id = 2), 1, 'callback_requested', 'primary', {});",
                sh(2, 18, 19).timestamp(),
                sh(2, 19, 9).timestamp()
            ))?;
            Ok(())
        })
        .unwrap();
    let day = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
    let r = store
        .read_blocking(move |c| outcome_report(c, &calendar(), day(2, 1), day(2, 28), sh(3, 20, 0)))
        .unwrap();
    let m = &r.total.metrics;
    assert_eq!(m.enrolled, 2);
    assert_eq!(m.reached_within_2_business_days.events, 1);
    assert_eq!(m.reached_within_7_days.events, 2);
    // 129 h and 143 h
    assert_eq!(m.median_hours_to_first_contact, Some(136.0));
    assert_eq!(m.readmissions.days_30.eligible, 2);
    assert_eq!(m.readmissions.days_180.eligible, 0);
    let csv = outcome_csv(&r).unwrap();
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("dimension,key,enrolled,reached_within_2_business_days,"));
    assert!(csv.contains("\ntotal,all,2,1,0.500000,"), "{csv}");
    assert!(csv.contains("\nmonth,2026-02,2,"), "{csv}");
    assert!(csv.contains("\nnurse,wang,2,"), "{csv}");
}
