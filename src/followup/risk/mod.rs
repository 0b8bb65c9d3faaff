//! Risk at discharge (issue 18 item 2): the LACE index of C. van Walraven et al., "Derivation
//! and validation of an index to predict early death or unplanned readmission after discharge
//! from hospital to the community", CMAJ 182 (2010) 551–557 — Length of stay, Acuity of the
//! admission, Comorbidity (Charlson, [`charlson`]) and Emergency department visits in the six
//! months before the admission; 0–19 points, 10 or more is high risk.
//!
//! Computed at enrolment when the stay is known (its admission gives the length of stay and
//! the acuity); the queue puts high-risk tasks first within a priority band, and a pathway
//! step may choose who calls by it (`mode_if_risk_at_least`).

pub mod charlson;

use serde::{Deserialize, Serialize};

/// LACE 10 or more: high risk (van Walraven 2010; the usual cut-off, e.g. in Ontario's
/// Health Links and Alberta's H2H tools).
pub const HIGH_RISK_LACE: u8 = 10;

/// What the index is computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaceInput {
    /// Days from the admission date to the discharge date (local), 0 for a same-day stay.
    pub length_of_stay_days: i64,
    /// Admitted as an emergency (acute, unplanned).
    pub emergent: bool,
    /// ICD-10 codes of the stay.
    pub icd10: Vec<String>,
    /// Emergency-department visits in the six months before the admission.
    pub ed_visits_6_months: u32,
}

/// The index with its parts, as stored and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lace {
    pub total: u8,
    pub l_points: u8,
    pub a_points: u8,
    pub c_points: u8,
    pub e_points: u8,
    pub charlson: u32,
    pub conditions: Vec<charlson::Condition>,
    pub high_risk: bool,
}

/// L: <1 day 0, 1–3 days as many points, 4–6 days 4, 7–13 days 5, 14 or more 7 (van Walraven
/// 2010, Table 3).
pub fn length_points(days: i64) -> u8 {
    match days {
        i64::MIN..=0 => 0,
        1..=3 => days as u8,
        4..=6 => 4,
        7..=13 => 5,
        _ => 7,
    }
}

/// C: Charlson 0–3 as many points, 4 or more 5 (ibid.).
pub fn comorbidity_points(charlson: u32) -> u8 {
    match charlson {
        0..=3 => charlson as u8,
        _ => 5,
    }
}

/// E: visits 0–3 as many points, 4 or more 4 (ibid.).
pub fn ed_points(visits: u32) -> u8 {
    visits.min(4) as u8
}

/// The LACE index of a stay.
pub fn lace(input: &LaceInput) -> Lace {
    let conditions = charlson::conditions(&input.icd10);
    let charlson: u32 = conditions.iter().map(|c| charlson::weight(*c)).sum();
    let (l, a, c, e) = (
        length_points(input.length_of_stay_days),
        if input.emergent { 3 } else { 0 },
        comorbidity_points(charlson),
        ed_points(input.ed_visits_6_months),
    );
    let total = l + a + c + e;
    Lace {
        total,
        l_points: l,
        a_points: a,
        c_points: c,
        e_points: e,
        charlson,
        conditions,
        high_risk: total >= HIGH_RISK_LACE,
    }
}

/// A pathway step's `mode_if_risk_at_least = { lace = 10, mode = "nurse" }`: at or above that
/// LACE the step is called in `mode` instead of its own (a robot step for low risk, a nurse for
/// high risk). `M` is the step's call mode type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskSwitch<M> {
    pub lace: u8,
    pub mode: M,
}

impl<M: Copy> RiskSwitch<M> {
    /// The mode a step with its own `default` mode is called in for a discharge of `lace`
    /// (unknown risk keeps the default).
    pub fn resolve(switch: Option<&RiskSwitch<M>>, default: M, lace: Option<u8>) -> M {
        match (switch, lace) {
            (Some(s), Some(score)) if score >= s.lace => s.mode,
            _ => default,
        }
    }
}

impl<M> RiskSwitch<M> {
    /// The threshold must be one LACE can reach.
    pub fn validate(&self) -> Result<(), String> {
        if self.lace > 19 {
            return Err(format!(
                "mode_if_risk_at_least.lace is {}; LACE runs from 0 to 19",
                self.lace
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(days: i64, emergent: bool, icd10: &[&str], ed: u32) -> LaceInput {
        LaceInput {
            length_of_stay_days: days,
            emergent,
            icd10: icd10.iter().map(|s| s.to_string()).collect(),
            ed_visits_6_months: ed,
        }
    }

    #[test]
    fn point_tables_of_van_walraven_2010() {
        let l: Vec<u8> = [0, 1, 2, 3, 4, 6, 7, 13, 14, 40]
            .map(length_points)
            .to_vec();
        assert_eq!(l, [0, 1, 2, 3, 4, 4, 5, 5, 7, 7]);
        let c: Vec<u8> = [0, 1, 2, 3, 4, 9].map(comorbidity_points).to_vec();
        assert_eq!(c, [0, 1, 2, 3, 5, 5]);
        let e: Vec<u8> = [0, 1, 2, 3, 4, 12].map(ed_points).to_vec();
        assert_eq!(e, [0, 1, 2, 3, 4, 4]);
    }

    #[test]
    fn published_worked_examples() {
        // the worked examples of the R package cliot's lace_readmission_index (citing van
        // Walraven 2010): 5-day acute stay (4 + 3), Charlson 5 (5), 2 ED visits (2) = 14 …
        // Charlson 5 here: heart failure 1 + diabetes with complications 2 + renal 2
        let high = lace(&input(5, true, &["I50.9", "E11.2", "N18.4"], 2));
        assert_eq!(high.charlson, 5);
        assert_eq!(
            (high.l_points, high.a_points, high.c_points, high.e_points),
            (4, 3, 5, 2)
        );
        assert_eq!(high.total, 14);
        assert!(high.high_risk);
        // … and a 2-day elective stay without comorbidity or ED visits = 2
        let low = lace(&input(2, false, &["K35.8"], 0));
        assert_eq!(low.total, 2);
        assert!(!low.high_risk);
        // the maximum is 19
        let max = lace(&input(30, true, &["C78.0"], 9));
        assert_eq!(max.total, 19);
    }

    #[test]
    fn a_risk_switch_changes_the_mode_at_its_threshold() {
        let switch = RiskSwitch {
            lace: 10,
            mode: "nurse",
        };
        assert_eq!(
            RiskSwitch::resolve(Some(&switch), "robot", Some(10)),
            "nurse"
        );
        assert_eq!(
            RiskSwitch::resolve(Some(&switch), "robot", Some(9)),
            "robot"
        );
        assert_eq!(RiskSwitch::resolve(Some(&switch), "robot", None), "robot");
        assert_eq!(RiskSwitch::resolve(None, "robot", Some(19)), "robot");
        assert!(RiskSwitch {
            lace: 20,
            mode: "nurse"
        }
        .validate()
        .is_err());
    }
}
