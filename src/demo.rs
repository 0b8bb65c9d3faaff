//! Demo data: departments, one user per role with known passwords, and patients discharged in
//! the last days so today's queue has work. Idempotent: seeding twice changes nothing.

use chrono::{DateTime, Duration, Utc};

use crate::auth::password::hash_password;
use crate::auth::role::Role;
use crate::followup::admission::{AdmissionType, NewAdmission, PatientClass};
use crate::followup::discipline::Discipline;
use crate::followup::escalation::shift::{parse_time, Holidays, Shift, ShiftError, Weekdays};
use crate::followup::escalation::UserId;
use crate::followup::pathway::{Calendar, PathwayCatalog};
use crate::followup::patient::{Diagnosis, DiagnosisKind, Language, NewDischarge, NewPatient};
use crate::store::admissions::{record_admission, AdmissionSource};
use crate::store::audit::{append, Actor};
use crate::store::escalations::{self, DutySlot};
use crate::store::{care_teams, patients, users, Store, StoreError};

/// The demo logins (username, password, role, display name, department), printed at start.
pub const DEMO_USERS: &[(&str, &str, Role, &str, Option<&str>)] = &[
    (
        "nurse",
        "nurse-demo-1",
        Role::Nurse,
        "王护士 Nurse Wang",
        Some("cardiology"),
    ),
    (
        "supervisor",
        "supervisor-demo-1",
        Role::Supervisor,
        "李护士长 Supervisor Li",
        None,
    ),
    (
        "doctor",
        "doctor-demo-1",
        Role::Doctor,
        "张医生 Dr Zhang",
        Some("cardiology"),
    ),
    (
        "doctor2",
        "doctor2-demo-1",
        Role::Doctor,
        "刘医生 Dr Liu (backup)",
        Some("cardiology"),
    ),
    (
        "head",
        "head-demo-1",
        Role::Doctor,
        "陈主任 Dr Chen (head)",
        Some("cardiology"),
    ),
    ("admin", "admin-demo-1", Role::Admin, "Admin", None),
    // The rest of the heart-failure care team (issue 20 item 2): clinicians log in as doctors
    // (inbox and patient timeline) and are told apart by their discipline.
    (
        "pharmacist",
        "pharmacist-demo-1",
        Role::Doctor,
        "孙药师 Pharmacist Sun",
        Some("cardiology"),
    ),
    (
        "dietitian",
        "dietitian-demo-1",
        Role::Doctor,
        "周营养师 Dietitian Zhou",
        Some("cardiology"),
    ),
    (
        "rehab",
        "rehab-demo-1",
        Role::Doctor,
        "吴康复师 Therapist Wu",
        Some("cardiology"),
    ),
    (
        "psychologist",
        "psychologist-demo-1",
        Role::Doctor,
        "郑心理师 Psychologist Zheng",
        Some("cardiology"),
    ),
    (
        "social",
        "social-demo-1",
        Role::Doctor,
        "冯社工 Social worker Feng",
        Some("cardiology"),
    ),
];

/// Each demo login's discipline, and whether she leads the cardiology care team.
const DEMO_TEAM: &[(&str, &str, bool)] = &[
    ("head", "cardiology", true),
    ("doctor", "cardiology", false),
    ("doctor2", "cardiology", false),
    ("pharmacist", "pharmacy", false),
    ("dietitian", "nutrition", false),
    ("rehab", "rehabilitation", false),
    ("psychologist", "psychology", false),
    ("social", "social_work", false),
    ("nurse", "nursing", false),
];

/// Demo shifts (hospital time): (login, weekdays, start, end, holidays). The allied disciplines
/// work office hours; the cardiologists cover day and night every day, holidays included.
const DEMO_SHIFTS: &[(&str, &str, &str, &str, Holidays)] = &[
    ("pharmacist", "mon-fri", "08:00", "17:30", Holidays::Skip),
    ("dietitian", "mon-fri", "08:00", "17:30", Holidays::Skip),
    ("rehab", "mon-fri", "08:00", "17:30", Holidays::Skip),
    ("psychologist", "mon-fri", "08:00", "17:30", Holidays::Skip),
    ("social", "mon-fri", "08:00", "17:30", Holidays::Skip),
    ("doctor", "daily", "08:00", "20:00", Holidays::Also),
    ("doctor2", "daily", "20:00", "08:00", Holidays::Also),
];

const DEPARTMENTS: &[(&str, &str, &str)] = &[
    ("cardiology", "Cardiology", "心内科"),
    ("neurology", "Neurology", "神经内科"),
    ("endocrinology", "Endocrinology", "内分泌科"),
    ("general-surgery", "General surgery", "普外科"),
    ("orthopedics", "Orthopedics", "骨科"),
];

/// (MRN, name, phone, days since discharge, department, ICD-10 codes, language)
type DemoPatient = (
    &'static str,
    &'static str,
    &'static str,
    i64,
    &'static str,
    &'static [&'static str],
    Language,
);

const DEMO_PATIENTS: &[DemoPatient] = &[
    (
        "D0001",
        "陈建国",
        "+8613800000001",
        1,
        "cardiology",
        &["I50.9"],
        Language::Zh,
    ),
    (
        "D0002",
        "刘秀英",
        "+8613800000002",
        3,
        "cardiology",
        &["I50.1", "I10"],
        Language::Zh,
    ),
    (
        "D0003",
        "John Smith",
        "+14155550103",
        1,
        "cardiology",
        &["I21.4"],
        Language::En,
    ),
    (
        "D0004",
        "赵丽华",
        "+8613800000004",
        7,
        "endocrinology",
        &["E11.9"],
        Language::Zh,
    ),
    (
        "D0005",
        "孙伟",
        "+8613800000005",
        1,
        "general-surgery",
        &["K35.8"],
        Language::Zh,
    ),
    (
        "D0006",
        "周明",
        "+8613800000006",
        1,
        "neurology",
        &["I63.9"],
        Language::Zh,
    ),
    (
        "D0007",
        "Mary Jones",
        "+14155550107",
        2,
        "cardiology",
        &["I50.9"],
        Language::En,
    ),
    (
        "D0008",
        "吴芳",
        "+8613800000008",
        3,
        "cardiology",
        &["I25.1"],
        Language::Zh,
    ),
];

/// Seeds the demo data; returns whether anything was added.
/// The demo logins that still work with their published password: active accounts named as
/// in [`DEMO_USERS`] whose password is still the demo one. A production `serve` refuses to
/// start while this is not empty (`auth.allow_demo_logins`).
pub fn working_demo_logins(store: &Store) -> Result<Vec<&'static str>, StoreError> {
    let mut working = Vec::new();
    for (name, password, ..) in DEMO_USERS {
        let found = store.read_blocking(move |c| users::user_for_login(c, name))?;
        if let Some((user, hash)) = found {
            if user.active && crate::auth::password::verify_password(password, &hash) {
                working.push(*name);
            }
        }
    }
    Ok(working)
}

/// The cardiology heart-failure care team with every discipline, and its members' shifts.
fn seed_care_team(
    tx: &rusqlite::Transaction,
    ids: &std::collections::HashMap<&str, i64>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let team = care_teams::create_team(
        tx,
        "cardiology",
        Some("heart-failure"),
        "Heart failure team",
        "心衰多学科团队",
        now,
    )?;
    let code = |c: &str| Discipline::parse_code(c).map_err(|e| StoreError::Invalid(e.to_string()));
    for (name, discipline, lead) in DEMO_TEAM {
        if let Some(id) = ids.get(name) {
            let d = code(discipline)?;
            users::set_discipline(tx, *id, Some(&d))?;
            care_teams::set_member(tx, team, *id, &d, *lead, now)?;
        }
    }
    for (name, weekdays, start, end, holidays) in DEMO_SHIFTS {
        let Some(id) = ids.get(name) else { continue };
        let discipline = DEMO_TEAM
            .iter()
            .find(|(n, ..)| n == name)
            .map_or("cardiology", |(_, d, _)| *d);
        let invalid = |e: ShiftError| StoreError::Invalid(e.to_string());
        let shift = Shift {
            weekdays: Weekdays::parse(weekdays).map_err(invalid)?,
            start: parse_time(start).map_err(invalid)?,
            end: parse_time(end).map_err(invalid)?,
            holidays: *holidays,
        };
        care_teams::add_shift(tx, *id, &code(discipline)?, &shift, now)?;
    }
    Ok(())
}

pub fn seed(
    store: &Store,
    pathways: &PathwayCatalog,
    calendar: &Calendar,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let mut hashed = Vec::new();
    for (name, password, role, display, dept) in DEMO_USERS {
        let hash = hash_password(password).map_err(|e| StoreError::Invalid(e.to_string()))?;
        hashed.push((*name, hash, *role, *display, *dept));
    }
    let pathways = pathways.clone();
    let calendar = calendar.clone();
    store.write_blocking(move |tx| {
        let seeded: i64 = tx.query_row(
            "SELECT COUNT(*) FROM users WHERE username = 'admin'",
            [],
            |r| r.get(0),
        )?;
        if seeded > 0 {
            return Ok(false);
        }
        for (code, en, zh) in DEPARTMENTS {
            users::ensure_department(tx, code, en, zh)?;
        }
        let t = now.timestamp();
        let mut nurse_id = None;
        let mut ids = std::collections::HashMap::new();
        for (name, hash, role, display, dept) in &hashed {
            let id = users::create_user(tx, name, display, *role, hash, *dept, t)?;
            ids.insert(*name, id);
            if *role == Role::Nurse {
                nurse_id = Some(id);
            }
        }
        // Every department: Dr Zhang on duty, Dr Liu backup, Dr Chen head; supervisors last.
        for (code, _, _) in DEPARTMENTS {
            for (slot, who) in [
                (DutySlot::OnDuty, "doctor"),
                (DutySlot::Backup, "doctor2"),
                (DutySlot::Head, "head"),
            ] {
                if let Some(id) = ids.get(who) {
                    escalations::set_duty(tx, code, slot, UserId(*id), now)?;
                }
            }
        }
        if let Some(id) = ids.get("doctor") {
            escalations::add_group_member(tx, false, "psychiatry_liaison", UserId(*id))?;
        }
        seed_care_team(tx, &ids, now)?;
        for (index, (mrn, name, phone, days_ago, dept, codes, language)) in
            DEMO_PATIENTS.iter().enumerate()
        {
            let patient = NewPatient {
                mrn: mrn.to_string(),
                name: name.to_string(),
                sex: None,
                birth_date: None,
                phone: phone.to_string(),
                alt_phone: None,
                alt_contact_name: None,
                alt_contact_relation: None,
                language: *language,
                do_not_call: false,
                tags: vec!["demo".into()],
            }
            .validate()
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
            let id = patients::insert_patient(tx, &patient, nurse_id, t)?;
            let discharged_at = now - Duration::days(*days_ago);
            // The stay the discharge ends, so the demo shows a LACE score (issue 18): an
            // emergency admission of 3 to 7 days, which with these diagnoses stays below the
            // high-risk line (at most 5 + 3 + 1 + 0 = 9) and leaves the queue's order alone.
            let stay = NewAdmission {
                admitted_at: discharged_at - Duration::days(3 + index as i64 % 5),
                department: Some(dept.to_string()),
                visit_number: Some(format!("V-{mrn}")),
                patient_class: PatientClass::Inpatient,
                admission_type: Some(AdmissionType::Emergency),
            };
            record_admission(tx, id, &stay, AdmissionSource::Import, &[], now)?;
            let discharge = NewDischarge {
                discharged_at,
                department: Some(dept.to_string()),
                diagnoses: codes
                    .iter()
                    .map(|c| Diagnosis {
                        icd10: c.to_string(),
                        kind: DiagnosisKind::F,
                    })
                    .collect(),
                visit_number: Some(format!("V-{mrn}")),
                attending: None,
                disposition: Some("home".into()),
                summary: None,
            };
            patients::record_discharge(tx, id, &discharge, &pathways, &calendar, now)?;
        }
        crate::store::tasks::build_queue(tx, now)?;
        append(
            tx,
            &Actor::system("demo"),
            "seed",
            "demo",
            None,
            "demo users and patients",
            t,
        )?;
        Ok(true)
    })
}
