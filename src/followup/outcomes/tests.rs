use chrono::{NaiveDate, TimeZone};

use super::*;

fn calendar() -> Calendar {
    Calendar {
        tz: chrono_tz::Asia::Shanghai,
        // a Wednesday
        holidays: vec![NaiveDate::from_ymd_opt(2026, 4, 1).unwrap()],
        tcm_two_business_days: false,
    }
}

/// 2026-`m`-`d` `h`:00 in Shanghai.
fn sh(m: u32, d: u32, h: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(2026, m, d, h, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn facts(id: i64, discharged_at: DateTime<Utc>) -> DischargeFacts {
    DischargeFacts {
        discharge_id: id,
        discharged_at,
        pathway: "heart-failure".into(),
        department: "cardiology".into(),
        nurse: NONE_KEY.into(),
        first_reached_at: None,
        completed: false,
        readmissions: vec![],
        escalations: vec![],
        satisfaction: Default::default(),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 5e-5
}

#[test]
fn wilson_matches_newcombe_1998_table() {
    // Newcombe, Stat Med 1998;17:857–872, Table II, method 3 (Wilson score, no continuity
    // correction), to four decimals
    let cases = [
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ];
    for (k, n, lo, hi) in cases {
        let (l, h) = wilson(k, n).unwrap();
        assert!(
            close(l, lo) && close(h, hi),
            "{k}/{n}: {l:.4}–{h:.4}, want {lo}–{hi}"
        );
    }
    assert_eq!(wilson(0, 0), None);
    assert_eq!(wilson(3, 2), None);
    let (l, h) = wilson(20, 20).unwrap();
    assert!(h == 1.0 && close(l, 0.8389), "{l}");
}

#[test]
fn reach_counts_business_days_and_seven_days() {
    let cal = calendar();
    // Monday 03-30 10:00; Wednesday 04-01 is a holiday, so the 2nd business day is Thu 04-02
    let mut on_thursday = facts(1, sh(3, 30, 10));
    on_thursday.first_reached_at = Some(sh(4, 2, 19));
    let mut on_friday = facts(2, sh(3, 30, 10));
    on_friday.first_reached_at = Some(sh(4, 3, 9));
    // exactly 7 × 24 h counts, one second more does not
    let mut seven_days = facts(3, sh(3, 30, 10));
    seven_days.first_reached_at = Some(sh(4, 6, 10));
    let mut too_late = facts(4, sh(3, 30, 10));
    too_late.first_reached_at = Some(sh(4, 6, 10) + Duration::seconds(1));
    let never = facts(5, sh(3, 30, 10));
    let all = [&on_thursday, &on_friday, &seven_days, &too_late, &never];
    let m = measure(&all, &cal, sh(12, 1, 0));
    assert_eq!(m.enrolled, 5);
    assert_eq!(m.reached, 4);
    assert_eq!(m.reached_within_2_business_days.events, 1);
    assert_eq!(m.reached_within_7_days.events, 3);
    assert_eq!(m.reached_within_7_days.rate, Some(0.6));
    // hours: 81, 95, 168, 168.0003 → median (95 + 168) / 2
    assert_eq!(m.median_hours_to_first_contact, Some((95.0 + 168.0) / 2.0));
}

#[test]
fn readmission_rates_count_only_finished_windows_and_unplanned_stays() {
    let cal = calendar();
    let as_of = sh(5, 31, 12);
    let unplanned = |at| Readmission {
        admitted_at: at,
        planned: false,
    };
    // day 10 unplanned: a 30-day and a 180-day event, if its windows are over
    let mut early = facts(1, sh(1, 5, 10));
    early.readmissions = vec![unplanned(sh(1, 15, 10))];
    // day 40: a 180-day event only
    let mut day_40 = facts(2, sh(1, 5, 10));
    day_40.readmissions = vec![unplanned(sh(2, 14, 10))];
    // planned at day 5: not an event
    let mut planned = facts(3, sh(1, 5, 10));
    planned.readmissions = vec![Readmission {
        admitted_at: sh(1, 10, 10),
        planned: true,
    }];
    // discharged 10 days before as_of: in neither denominator
    let recent = facts(4, sh(5, 21, 12));
    // exactly 30 days before as_of: in the 30-day denominator
    let boundary = facts(5, sh(5, 1, 12));
    let all = [&early, &day_40, &planned, &recent, &boundary];
    let m = measure(&all, &cal, as_of);
    assert_eq!(
        (
            m.readmissions.days_30.events,
            m.readmissions.days_30.eligible
        ),
        (1, 4)
    );
    // the 180 days of January's discharges are not over on May 31
    assert_eq!(
        (
            m.readmissions.days_180.events,
            m.readmissions.days_180.eligible
        ),
        (0, 0)
    );
    assert_eq!(m.readmissions.days_180.rate, None);
    let later = measure(&all, &cal, sh(12, 31, 0));
    assert_eq!(
        (
            later.readmissions.days_180.events,
            later.readmissions.days_180.eligible
        ),
        (2, 5)
    );
    let ci = wilson(2, 5).unwrap();
    assert_eq!(later.readmissions.days_180.ci95_low, Some(ci.0));
    assert_eq!(later.readmissions.days_180.ci95_high, Some(ci.1));
}

#[test]
fn reached_and_not_reached_split_the_readmissions() {
    let cal = calendar();
    let mut reached = facts(1, sh(1, 5, 10));
    reached.first_reached_at = Some(sh(1, 6, 10));
    let mut not_reached = facts(2, sh(1, 5, 10));
    not_reached.readmissions = vec![Readmission {
        admitted_at: sh(1, 20, 10),
        planned: false,
    }];
    // reached on day 9: "not reached" within 7 days
    let mut reached_late = facts(3, sh(1, 5, 10));
    reached_late.first_reached_at = Some(sh(1, 14, 10));
    let m = measure(&[&reached, &not_reached, &reached_late], &cal, sh(12, 1, 0));
    assert_eq!(m.readmissions_reached.days_30.eligible, 1);
    assert_eq!(m.readmissions_reached.days_30.events, 0);
    assert_eq!(m.readmissions_not_reached.days_30.eligible, 2);
    assert_eq!(m.readmissions_not_reached.days_30.events, 1);
    assert_eq!(m.readmissions.days_30.events, 1);
}

#[test]
fn escalations_by_severity_with_time_to_acknowledge() {
    let cal = calendar();
    let mut f = facts(1, sh(1, 5, 10));
    let esc = |severity, ack_minutes: Option<i64>| EscalationFact {
        severity,
        opened_at: sh(1, 6, 10),
        acknowledged_at: ack_minutes.map(|m| sh(1, 6, 10) + Duration::minutes(m)),
    };
    f.escalations = vec![
        esc(Severity::Urgent, Some(4)),
        esc(Severity::Urgent, Some(10)),
        esc(Severity::High, None),
    ];
    let m = measure(&[&f], &cal, sh(12, 1, 0));
    assert_eq!(m.escalations.all.opened, 3);
    assert_eq!(m.escalations.all.acknowledged, 2);
    assert_eq!(
        m.escalations.urgent.median_minutes_to_acknowledge,
        Some(7.0)
    );
    assert_eq!(m.escalations.high.opened, 1);
    assert_eq!(m.escalations.high.median_minutes_to_acknowledge, None);
    assert_eq!(m.escalations.emergency, EscalationCount::default());
}

#[test]
fn breakdown_groups_by_local_month_and_sorts_keys() {
    let cal = calendar();
    // 2026-01-31 20:00 UTC is already February in Shanghai
    let utc_january = facts(1, Utc.with_ymd_and_hms(2026, 1, 31, 20, 0, 0).unwrap());
    let mut january = facts(2, sh(1, 15, 10));
    january.nurse = "li".into();
    let facts = vec![utc_january, january];
    let months = breakdown(&facts, Dimension::Month, &cal, sh(12, 1, 0));
    let keys: Vec<_> = months
        .iter()
        .map(|g| (g.key.as_str(), g.metrics.enrolled))
        .collect();
    assert_eq!(keys, [("2026-01", 1), ("2026-02", 1)]);
    let nurses = breakdown(&facts, Dimension::Nurse, &cal, sh(12, 1, 0));
    let keys: Vec<_> = nurses.iter().map(|g| g.key.as_str()).collect();
    assert_eq!(keys, [NONE_KEY, "li"]);
}
