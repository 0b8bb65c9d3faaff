//! What `lab(NAME)` and `baseline` mean (issue 17 item 4), over the patient's stored results.
//!
//! - `lab(NAME[, WINDOW])`: the latest **final or corrected** numeric result of that lab whose
//!   observation time is within WINDOW before `now` (default 30 days). Preliminary results
//!   are shown but never read: a rule must not page a doctor on a value the laboratory has not
//!   released. No result in the window: unknown, and the rule does not fire.
//! - `baseline`: the value the latest result is compared with, anchored at the discharge of
//!   the patient's active enrolment: the **first** final result of that lab observed at or
//!   after the discharge (other than the one judged, and not after it); when there is none,
//!   the **latest** final result in the [`BASELINE_BEFORE_DAYS`] days before the discharge (the
//!   pre-discharge value, the usual reference for NT-proBNP). No discharge or no such result:
//!   unknown, and the rule does not fire.

use chrono::{DateTime, Duration, Utc};

use crate::followup::lab::{LabName, LabPoint};

/// How far before the discharge a result still counts as the baseline.
pub const BASELINE_BEFORE_DAYS: i64 = 90;

/// The result `lab(name, window)` reads at `now`.
pub fn latest<'a>(
    labs: &'a [LabPoint],
    name: &LabName,
    window: Duration,
    now: DateTime<Utc>,
) -> Option<&'a LabPoint> {
    labs.iter()
        .filter(|p| p.lab == *name && p.status.is_final() && p.observed_at >= now - window)
        .max_by_key(|p| (p.observed_at, p.id))
}

/// The baseline `current` is compared with.
pub fn baseline<'a>(
    labs: &'a [LabPoint],
    current: &LabPoint,
    discharged_at: Option<DateTime<Utc>>,
) -> Option<&'a LabPoint> {
    let discharged_at = discharged_at?;
    let same = |p: &&LabPoint| p.lab == current.lab && p.status.is_final() && p.id != current.id;
    labs.iter()
        .filter(same)
        .filter(|p| p.observed_at >= discharged_at && p.observed_at <= current.observed_at)
        .min_by_key(|p| (p.observed_at, p.id))
        .or_else(|| {
            labs.iter()
                .filter(same)
                .filter(|p| {
                    p.observed_at < discharged_at
                        && p.observed_at >= discharged_at - Duration::days(BASELINE_BEFORE_DAYS)
                })
                .max_by_key(|p| (p.observed_at, p.id))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::followup::lab::ResultStatus;
    use chrono::TimeZone;

    fn day(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, d, 8, 0, 0).unwrap()
    }

    fn point(id: i64, lab: &str, value: f64, d: u32, status: ResultStatus) -> LabPoint {
        LabPoint {
            id,
            lab: LabName(lab.into()),
            value,
            unit: "pg/mL".into(),
            flags: vec![],
            status,
            observed_at: day(d),
        }
    }

    #[test]
    fn latest_reads_final_results_in_the_window_only() {
        use ResultStatus::*;
        let labs = [
            point(1, "k", 4.0, 1, Final),
            point(2, "k", 6.5, 20, Preliminary),
            point(3, "k", 5.0, 10, Corrected),
            point(4, "na", 140.0, 19, Final),
        ];
        let k = LabName("k".into());
        assert_eq!(
            latest(&labs, &k, Duration::days(30), day(20)).unwrap().id,
            3
        );
        // a 5-day window on the 20th sees nothing final
        assert!(latest(&labs, &k, Duration::days(5), day(20)).is_none());
    }

    const SCRIPT: &str = r#"
code = "labs"
version = 1
title = { zh = "化验", en = "Labs" }
[[questions]]
id = "weight"
text = { zh = "体重", en = "Weight" }
type = "number"
unit = "kg"
min = 20
max = 300
[[rules]]
id = "k-high"
when = "lab(k) > 5.5"
severity = "urgent"
route = "on_duty_doctor"
ack_sla_minutes = 15
[[rules]]
id = "nt-rise"
when = "lab(ntprobnp, 14d) > 1.5 * baseline"
severity = "high"
ack_sla_minutes = 240
"#;

    fn script() -> crate::followup::script::Script {
        crate::followup::script::load_str(std::path::Path::new("labs.toml"), SCRIPT)
            .expect("valid script")
    }

    fn names(ns: &[&str]) -> Vec<LabName> {
        ns.iter().map(|n| LabName(n.to_string())).collect()
    }

    #[test]
    fn a_final_result_over_the_threshold_fires_with_the_lab_as_evidence() {
        use crate::followup::rules::{evaluate, evaluate_labs, Answers};
        use ResultStatus::*;
        let s = script();
        let mut k = point(7, "k", 6.1, 20, Final);
        k.unit = "mmol/L".into();
        k.flags = vec![crate::followup::lab::AbnormalFlag::CriticalHigh];
        let found = evaluate_labs(&s, &names(&["k"]), &[k.clone()], Some(day(5)), day(20));
        assert_eq!(found.len(), 1, "{found:?}");
        let f = &found[0];
        assert_eq!(f.rule.as_str(), "k-high");
        assert_eq!(f.severity, crate::followup::script::Severity::Urgent);
        let lab = &f.evidence.labs[0];
        assert_eq!(
            (lab.observation, lab.value, lab.unit.as_str()),
            (7, 6.1, "mmol/L")
        );
        assert_eq!(lab.flags, ["HH"]);
        assert_eq!(lab.baseline, None);
        assert!(
            f.evidence
                .to_string()
                .contains("lab k = 6.1 mmol/L (HH) final"),
            "{}",
            f.evidence
        );
        // at or below the threshold, preliminary, or another lab arriving: nothing
        let mut low = k.clone();
        low.value = 5.5;
        assert!(evaluate_labs(&s, &names(&["k"]), &[low], Some(day(5)), day(20)).is_empty());
        let mut prelim = k.clone();
        prelim.status = Preliminary;
        assert!(evaluate_labs(&s, &names(&["k"]), &[prelim], Some(day(5)), day(20)).is_empty());
        assert!(evaluate_labs(&s, &names(&["na"]), &[k.clone()], Some(day(5)), day(20)).is_empty());
        // saving an answer never reads labs
        assert!(evaluate(&s, &Answers::new(), &[], day(20)).is_empty());
    }

    #[test]
    fn a_rise_over_the_baseline_fires_and_shows_the_baseline() {
        use crate::followup::rules::evaluate_labs;
        use ResultStatus::*;
        let s = script();
        let nt = |id, v, d| point(id, "ntprobnp", v, d, Final);
        let arrived = names(&["ntprobnp"]);
        // 1000 after the discharge on the 5th, then 1600: over 1.5 x
        let labs = [nt(1, 1000.0, 6), nt(2, 1600.0, 12)];
        let found = evaluate_labs(&s, &arrived, &labs, Some(day(5)), day(12));
        assert_eq!(found.len(), 1);
        let lab = &found[0].evidence.labs[0];
        assert_eq!((lab.value, lab.baseline), (1600.0, Some(1000.0)));
        assert_eq!(lab.baseline_at, Some(day(6)));
        // 1400 is not; the first result alone has no baseline; no discharge, no baseline
        let labs = [nt(1, 1000.0, 6), nt(2, 1400.0, 12)];
        assert!(evaluate_labs(&s, &arrived, &labs, Some(day(5)), day(12)).is_empty());
        assert!(evaluate_labs(&s, &arrived, &labs[..1], Some(day(5)), day(6)).is_empty());
        let labs = [nt(1, 1000.0, 6), nt(2, 1600.0, 12)];
        assert!(evaluate_labs(&s, &arrived, &labs, None, day(12)).is_empty());
        // the rule's own 14-day window: a result from 20 days ago is not "the latest"
        let labs = [nt(1, 1000.0, 6)];
        assert!(evaluate_labs(&s, &arrived, &labs, Some(day(5)), day(26)).is_empty());
    }

    #[test]
    fn a_lab_rule_reads_only_labs_and_skip_logic_none() {
        let mixed = SCRIPT.replace("lab(k) > 5.5", "lab(k) > 5.5 and weight > 80");
        let e =
            crate::followup::script::load_str(std::path::Path::new("m.toml"), &mixed).unwrap_err();
        assert!(e[0].to_string().contains("reads only labs"), "{e:?}");
        let skip = SCRIPT.replace(
            "max = 300
",
            "max = 300
show_if = \"lab(k) > 5\"
",
        );
        let e =
            crate::followup::script::load_str(std::path::Path::new("s.toml"), &skip).unwrap_err();
        assert!(
            e[0].to_string().contains("skip logic cannot read lab()"),
            "{e:?}"
        );
        assert_eq!(script().labs(), names(&["k", "ntprobnp"]));
    }

    #[test]
    fn baseline_is_the_first_after_discharge_else_the_latest_before() {
        use ResultStatus::*;
        let nt = |id, v, d| point(id, "ntprobnp", v, d, Final);
        let labs = [
            nt(1, 900.0, 1),
            nt(2, 1000.0, 3),
            nt(3, 1200.0, 6),
            nt(4, 2000.0, 9),
        ];
        let discharge = Some(day(5));
        // judged on the 9th: the first after the discharge (the 6th)
        assert_eq!(baseline(&labs, &labs[3], discharge).unwrap().id, 3);
        // judged on the 6th: nothing else after the discharge; the latest before (the 3rd)
        assert_eq!(baseline(&labs, &labs[2], discharge).unwrap().id, 2);
        // no discharge, or nothing within 90 days before it: unknown
        assert!(baseline(&labs, &labs[3], None).is_none());
        let far = [nt(1, 900.0, 1), nt(5, 2000.0, 9)];
        let long_after = Some(Utc.with_ymd_and_hms(2027, 6, 1, 0, 0, 0).unwrap());
        assert!(baseline(&far, &far[1], long_after).is_none());
    }
}
