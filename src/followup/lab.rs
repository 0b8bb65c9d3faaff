//! Lab results as the clinical domain sees them (issue 17 item 4): a catalogue that maps the
//! laboratory's codes (LOINC or local) onto a few canonical lab names with one unit each, the
//! unit conversions that are exact, and the result statuses and abnormal flags of HL7 v2.
//!
//! Pure: the catalogue comes from the config (`[labs.NAME]`, over [`LabCatalog::defaults`]);
//! the HL7 reader (`hl7::oru`) resolves each OBX row through it, and the rules read the stored
//! series by canonical name (`lab(k) > 5.5`).

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A canonical lab name as scripts write it (`k`, `ntprobnp`): `[a-z][a-z0-9_]*`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LabName(pub String);

impl LabName {
    /// Whether `s` has the shape of a lab name.
    pub fn is_valid(s: &str) -> bool {
        let mut chars = s.chars();
        chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LabName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// OBX-11 (HL7 table 0085) reduced to what suifang keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultStatus {
    /// F: final; what rules read.
    Final,
    /// C: a correction of a final result; replaces the earlier value and counts as final.
    Corrected,
    /// P (also R unverified, S partial): kept and shown as preliminary, never read by rules.
    Preliminary,
}

impl ResultStatus {
    /// Reads OBX-11; `Ok(None)` for the codes that carry no result (X cannot be obtained,
    /// D deleted, W wrong, I pending, N not asked, O order only, U no change of status).
    pub fn of_obx11(code: &str) -> Result<Option<ResultStatus>, String> {
        match code.trim() {
            "F" => Ok(Some(ResultStatus::Final)),
            "C" => Ok(Some(ResultStatus::Corrected)),
            "P" | "R" | "S" => Ok(Some(ResultStatus::Preliminary)),
            "X" | "D" | "W" | "I" | "N" | "O" | "U" => Ok(None),
            other => Err(format!(
                "result status `{other}` is not in HL7 table 0085 (F, C, P, R, S, X, D, W, I)"
            )),
        }
    }

    /// Whether rules read it: final and corrected results only.
    pub fn is_final(self) -> bool {
        matches!(self, ResultStatus::Final | ResultStatus::Corrected)
    }

    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            ResultStatus::Final => "final",
            ResultStatus::Corrected => "corrected",
            ResultStatus::Preliminary => "preliminary",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<ResultStatus> {
        [
            ResultStatus::Final,
            ResultStatus::Corrected,
            ResultStatus::Preliminary,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// OBX-8 abnormal flags (HL7 table 0078); codes outside the table are kept as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AbnormalFlag {
    /// L
    Low,
    /// H
    High,
    /// LL: below the lower panic limit.
    CriticalLow,
    /// HH: above the upper panic limit.
    CriticalHigh,
    /// A (non-numeric results).
    Abnormal,
    /// AA
    CriticalAbnormal,
    /// N
    Normal,
    /// `<`: below the absolute low-off instrument scale.
    BelowScale,
    /// `>`: above the absolute high-off instrument scale.
    AboveScale,
    /// Any other code of the table or of the laboratory, as sent.
    Other(String),
}

impl AbnormalFlag {
    /// One OBX-8 repetition.
    pub fn of_code(code: &str) -> AbnormalFlag {
        match code.trim() {
            "L" => AbnormalFlag::Low,
            "H" => AbnormalFlag::High,
            "LL" => AbnormalFlag::CriticalLow,
            "HH" => AbnormalFlag::CriticalHigh,
            "A" => AbnormalFlag::Abnormal,
            "AA" => AbnormalFlag::CriticalAbnormal,
            "N" => AbnormalFlag::Normal,
            "<" => AbnormalFlag::BelowScale,
            ">" => AbnormalFlag::AboveScale,
            other => AbnormalFlag::Other(other.to_string()),
        }
    }

    /// The HL7 code.
    pub fn code(&self) -> &str {
        match self {
            AbnormalFlag::Low => "L",
            AbnormalFlag::High => "H",
            AbnormalFlag::CriticalLow => "LL",
            AbnormalFlag::CriticalHigh => "HH",
            AbnormalFlag::Abnormal => "A",
            AbnormalFlag::CriticalAbnormal => "AA",
            AbnormalFlag::Normal => "N",
            AbnormalFlag::BelowScale => "<",
            AbnormalFlag::AboveScale => ">",
            AbnormalFlag::Other(c) => c,
        }
    }
}

/// Flags as stored: codes joined with `~` (the HL7 repetition separator).
pub fn flags_text(flags: &[AbnormalFlag]) -> String {
    flags
        .iter()
        .map(AbnormalFlag::code)
        .collect::<Vec<_>>()
        .join("~")
}

/// The stored flags back.
pub fn flags_of_text(text: &str) -> Vec<AbnormalFlag> {
    text.split('~')
        .filter(|c| !c.is_empty())
        .map(AbnormalFlag::of_code)
        .collect()
}

/// One stored result as rules and charts read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabPoint {
    /// `lab_observations.id`.
    pub id: i64,
    pub lab: LabName,
    /// In `unit`.
    pub value: f64,
    pub unit: String,
    pub flags: Vec<AbnormalFlag>,
    pub status: ResultStatus,
    pub observed_at: DateTime<Utc>,
}

/// The lab a rule read, as the escalation shows it: which lab, value, unit, flags, status and
/// time, and the baseline it was compared with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabEvidence {
    /// `lab_observations.id`.
    pub observation: i64,
    pub lab: LabName,
    pub value: f64,
    pub unit: String,
    /// OBX-8 codes (`HH`).
    pub flags: Vec<String>,
    pub status: ResultStatus,
    pub observed_at: DateTime<Utc>,
    /// The baseline value and when it was taken, when the rule compared with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_at: Option<DateTime<Utc>>,
}

impl fmt::Display for LabEvidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lab {} = {} {}", self.lab, self.value, self.unit)?;
        if !self.flags.is_empty() {
            write!(f, " ({})", self.flags.join(","))?;
        }
        write!(
            f,
            " {} at {}",
            self.status.as_str(),
            self.observed_at.format("%Y-%m-%d %H:%M UTC")
        )?;
        if let (Some(b), Some(at)) = (self.baseline, self.baseline_at) {
            write!(
                f,
                ", baseline {b} {} at {}",
                self.unit,
                at.format("%Y-%m-%d")
            )?;
        }
        Ok(())
    }
}

/// Which code system an OBX-3 code is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeSystem {
    /// `LN`: LOINC.
    Loinc,
    /// Anything else: the laboratory's own codes.
    Local,
}

impl CodeSystem {
    /// OBX-3.3 / .6 (HL7 table 0396): `LN` is LOINC, every other name is local.
    pub fn of_name(name: &str) -> CodeSystem {
        if name.trim().eq_ignore_ascii_case("LN") || name.trim().eq_ignore_ascii_case("LOINC") {
            CodeSystem::Loinc
        } else {
            CodeSystem::Local
        }
    }
}

/// One lab of the catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct LabDefinition {
    /// Canonical name.
    pub name: LabName,
    /// Shown on charts and escalations.
    pub display_en: String,
    /// Same, in Chinese.
    pub display_zh: String,
    /// The unit values are stored in (UCUM spelling, `mmol/L`; empty for a pure ratio).
    pub unit: String,
    /// LOINC codes that mean this lab.
    pub loinc: Vec<String>,
    /// The laboratory's local codes that mean this lab.
    pub local: Vec<String>,
    /// Other spellings or units accepted, with the factor that takes a value into `unit`
    /// (`"mEq/L" = 1.0` for potassium). Only exact conversions belong here.
    pub units: BTreeMap<String, f64>,
}

/// Why a value cannot be stored under its lab.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    /// The lab has a unit and OBX-6 is empty.
    #[error("{lab} needs a unit ({unit})")]
    Missing { lab: LabName, unit: String },
    /// Not the lab's unit and no exact conversion is configured.
    #[error("unit `{got}` is not {unit} and has no exact conversion for {lab} (add it under [labs.{lab}] units)")]
    Unknown {
        lab: LabName,
        unit: String,
        got: String,
    },
}

/// Units compared the way laboratories write them: case-insensitive, without spaces, with
/// `µ`/`μ` read as `u` (`umol/L`, `µmol/l` and `μmol/L` are one unit). No two units the
/// catalogue deals with differ only by case.
pub fn normalize_unit(unit: &str) -> String {
    unit.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            'µ' | 'μ' => 'u',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

impl LabDefinition {
    /// The factor that takes a value in `unit` (OBX-6.1) into the lab's own unit.
    pub fn factor(&self, unit: &str) -> Result<f64, UnitError> {
        let got = normalize_unit(unit);
        if got == normalize_unit(&self.unit) {
            return Ok(1.0);
        }
        if let Some((_, f)) = self.units.iter().find(|(u, _)| normalize_unit(u) == got) {
            return Ok(*f);
        }
        if got.is_empty() {
            return Err(UnitError::Missing {
                lab: self.name.clone(),
                unit: self.unit.clone(),
            });
        }
        Err(UnitError::Unknown {
            lab: self.name.clone(),
            unit: self.unit.clone(),
            got: unit.trim().to_string(),
        })
    }

    /// Whether an OBX-3 identifier in `system` names this lab.
    pub fn has_code(&self, code: &str, system: CodeSystem) -> bool {
        let code = code.trim();
        !code.is_empty()
            && match system {
                CodeSystem::Loinc => self.loinc.iter().any(|c| c == code),
                CodeSystem::Local => self.local.iter().any(|c| c.eq_ignore_ascii_case(code)),
            }
    }
}

/// The labs suifang knows, by canonical name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabCatalog {
    labs: BTreeMap<LabName, LabDefinition>,
}

impl LabCatalog {
    /// A catalogue of these labs; a later definition of a name replaces an earlier one.
    pub fn new(labs: impl IntoIterator<Item = LabDefinition>) -> LabCatalog {
        LabCatalog {
            labs: labs.into_iter().map(|l| (l.name.clone(), l)).collect(),
        }
    }

    /// The lab with this canonical name.
    pub fn get(&self, name: &str) -> Option<&LabDefinition> {
        self.labs.get(&LabName(name.to_string()))
    }

    /// The lab an OBX-3 code means.
    pub fn find(&self, code: &str, system: CodeSystem) -> Option<&LabDefinition> {
        self.labs.values().find(|l| l.has_code(code, system))
    }

    /// Labs by name.
    pub fn iter(&self) -> impl Iterator<Item = &LabDefinition> {
        self.labs.values()
    }

    /// Replaces or adds labs (the config's `[labs.NAME]` over the defaults).
    pub fn extend(&mut self, labs: impl IntoIterator<Item = LabDefinition>) {
        for l in labs {
            self.labs.insert(l.name.clone(), l);
        }
    }

    /// The built-in catalogue. LOINC codes from the LOINC database (loinc.org/<code>, e.g.
    /// https://loinc.org/33762-6); units are those of Chinese and European laboratories (SI).
    /// Conversions listed are exact: equal quantities under another name (pg/mL = ng/L,
    /// mEq/L = mmol/L for the monovalent K⁺ and Na⁺) or a power of ten (ng/mL = 1000 ng/L).
    /// Conversions that need a molar mass (creatinine mg/dL → µmol/L, glucose mg/dL →
    /// mmol/L) or an equation (HbA1c IFCC mmol/mol → NGSP %) are not exact and are left out:
    /// such a value is refused with an ERR unless the hospital configures the factor.
    pub fn defaults() -> LabCatalog {
        let lab = |name: &str,
                   en: &str,
                   zh: &str,
                   unit: &str,
                   loinc: &[&str],
                   local: &[&str],
                   units: &[(&str, f64)]| LabDefinition {
            name: LabName(name.into()),
            display_en: en.into(),
            display_zh: zh.into(),
            unit: unit.into(),
            loinc: loinc.iter().map(|s| s.to_string()).collect(),
            local: local.iter().map(|s| s.to_string()).collect(),
            units: units.iter().map(|(u, f)| (u.to_string(), *f)).collect(),
        };
        LabCatalog::new([
            // 33762-6 NT-proBNP [Mass/volume] in Serum or Plasma; 71425-3 the same in Blood
            // (point of care)
            lab(
                "ntprobnp",
                "NT-proBNP",
                "N末端B型利钠肽原",
                "pg/mL",
                &["33762-6", "71425-3"],
                &["NTPROBNP", "NT-PROBNP"],
                &[("ng/L", 1.0)],
            ),
            // 30934-4 BNP [Mass/volume] in Serum or Plasma; 42637-9 the same in Blood
            lab(
                "bnp",
                "BNP",
                "B型利钠肽",
                "pg/mL",
                &["30934-4", "42637-9"],
                &["BNP"],
                &[("ng/L", 1.0)],
            ),
            // 2823-3 Potassium [Moles/volume] in Serum or Plasma; 6298-4 the same in Blood
            lab(
                "k",
                "Potassium",
                "血钾",
                "mmol/L",
                &["2823-3", "6298-4"],
                &["K"],
                &[("mEq/L", 1.0)],
            ),
            // 2951-2 Sodium [Moles/volume] in Serum or Plasma; 2947-0 the same in Blood
            lab(
                "na",
                "Sodium",
                "血钠",
                "mmol/L",
                &["2951-2", "2947-0"],
                &["NA"],
                &[("mEq/L", 1.0)],
            ),
            // 14682-9 Creatinine [Moles/volume] in Serum or Plasma. 2160-0 is the mass
            // concentration (mg/dL): mapped, but its mg/dL values are refused unless a
            // factor (88.4, molar mass 113.12 g/mol) is configured.
            lab(
                "creatinine",
                "Creatinine",
                "肌酐",
                "umol/L",
                &["14682-9", "2160-0"],
                &["CREA", "CR"],
                &[("mmol/L", 1000.0)],
            ),
            // 62238-1 eGFR CKD-EPI; 98979-8 CKD-EPI 2021; 33914-3 MDRD
            lab(
                "egfr",
                "eGFR",
                "估算肾小球滤过率",
                "mL/min/1.73m2",
                &["62238-1", "98979-8", "33914-3"],
                &["EGFR"],
                &[
                    ("mL/min/{1.73_m2}", 1.0),
                    ("mL/min/1.73 m2", 1.0),
                    ("ml/min/1.73m²", 1.0),
                ],
            ),
            // 4548-4 Hemoglobin A1c/Hemoglobin.total in Blood; 17856-6 the same by HPLC
            lab(
                "hba1c",
                "HbA1c",
                "糖化血红蛋白",
                "%",
                &["4548-4", "17856-6"],
                &["HBA1C"],
                &[],
            ),
            // 14749-6 Glucose [Moles/volume] in Serum or Plasma; 15074-8 the same in Blood.
            // 2345-7 (mass, mg/dL) is mapped but refused without a configured factor.
            lab(
                "glucose",
                "Glucose",
                "血糖",
                "mmol/L",
                &["14749-6", "15074-8", "2345-7"],
                &["GLU"],
                &[],
            ),
            // 6301-6 INR in Platelet poor plasma by Coagulation assay; 34714-6 INR in Blood
            lab(
                "inr",
                "INR",
                "国际标准化比值",
                "{INR}",
                &["6301-6", "34714-6"],
                &["INR"],
                &[("", 1.0), ("ratio", 1.0), ("{ratio}", 1.0), ("1", 1.0)],
            ),
            // Troponin T and I are different assays with different limits: two series, never
            // one. 67151-1 / 6598-7 Troponin T.cardiac (high-sensitivity / conventional);
            // 89579-7 / 10839-9 Troponin I.cardiac.
            lab(
                "troponin_t",
                "Troponin T",
                "肌钙蛋白T",
                "ng/L",
                &["67151-1", "6598-7"],
                &["TNT", "HSTNT"],
                &[("pg/mL", 1.0), ("ng/mL", 1000.0), ("ug/L", 1000.0)],
            ),
            lab(
                "troponin_i",
                "Troponin I",
                "肌钙蛋白I",
                "ng/L",
                &["89579-7", "10839-9"],
                &["TNI", "HSTNI"],
                &[("pg/mL", 1.0), ("ng/mL", 1000.0), ("ug/L", 1000.0)],
            ),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_find_their_lab_in_either_system() {
        let c = LabCatalog::defaults();
        assert_eq!(c.find("2823-3", CodeSystem::Loinc).unwrap().name.0, "k");
        assert_eq!(c.find("k", CodeSystem::Local).unwrap().name.0, "k");
        // a LOINC code is not a local code and the other way round
        assert!(c.find("K", CodeSystem::Loinc).is_none());
        assert!(c.find("2823-3", CodeSystem::Local).is_none());
        assert_eq!(CodeSystem::of_name("LN"), CodeSystem::Loinc);
        assert_eq!(CodeSystem::of_name("99LAB"), CodeSystem::Local);
    }

    #[test]
    fn only_exact_conversions_are_taken() {
        let c = LabCatalog::defaults();
        let k = c.get("k").unwrap();
        assert_eq!(k.factor("mmol/L"), Ok(1.0));
        assert_eq!(k.factor("MMOL/L"), Ok(1.0));
        assert_eq!(k.factor("mEq/L"), Ok(1.0));
        assert!(matches!(k.factor(""), Err(UnitError::Missing { .. })));
        let e = k.factor("mg/dL").unwrap_err();
        assert!(e.to_string().contains("[labs.k]"), "{e}");
        let tnt = c.get("troponin_t").unwrap();
        assert_eq!(tnt.factor("ng/mL"), Ok(1000.0));
        assert_eq!(c.get("creatinine").unwrap().factor("µmol/L"), Ok(1.0));
        assert!(c.get("creatinine").unwrap().factor("mg/dL").is_err());
        assert!(c.get("glucose").unwrap().factor("mg/dL").is_err());
        assert_eq!(c.get("inr").unwrap().factor(""), Ok(1.0));
    }

    #[test]
    fn statuses_and_flags_read_the_hl7_tables() {
        assert_eq!(ResultStatus::of_obx11("F"), Ok(Some(ResultStatus::Final)));
        assert_eq!(
            ResultStatus::of_obx11("C"),
            Ok(Some(ResultStatus::Corrected))
        );
        assert_eq!(
            ResultStatus::of_obx11("P"),
            Ok(Some(ResultStatus::Preliminary))
        );
        assert_eq!(ResultStatus::of_obx11("X"), Ok(None));
        assert_eq!(ResultStatus::of_obx11("D"), Ok(None));
        assert!(ResultStatus::of_obx11("Q").is_err());
        assert!(!ResultStatus::Preliminary.is_final());
        let flags = vec![AbnormalFlag::of_code("HH"), AbnormalFlag::of_code("ZZ")];
        assert_eq!(flags_text(&flags), "HH~ZZ");
        assert_eq!(flags_of_text("HH~ZZ"), flags);
        assert!(flags_of_text("").is_empty());
    }

    #[test]
    fn a_later_definition_replaces_the_default_of_its_name() {
        let mut c = LabCatalog::defaults();
        let mut glucose = c.get("glucose").unwrap().clone();
        glucose.units.insert("mg/dL".into(), 0.0555);
        c.extend([glucose]);
        assert_eq!(c.get("glucose").unwrap().factor("mg/dL"), Ok(0.0555));
        assert!(LabName::is_valid("troponin_t") && !LabName::is_valid("Tn-T"));
    }
}
