//! `[labs.NAME]`: the lab catalogue (issue 17 item 4) — which laboratory codes mean which
//! canonical lab, in which unit, with which exact conversions. Entries here change or add to
//! the built-in catalogue (`followup::lab::LabCatalog::defaults`): a key left out of an entry
//! keeps the built-in value of that lab, so a hospital adding its local potassium code writes
//! only `[labs.k] local = ["K", "KAL"]`.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::ConfigError;
use crate::followup::lab::{LabCatalog, LabDefinition, LabName};

/// One `[labs.NAME]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabEntry {
    /// Name shown on charts and escalations, English.
    pub display_en: Option<String>,
    /// Same, Chinese.
    pub display_zh: Option<String>,
    /// The unit values are stored in (`mmol/L`). Required for a lab not built in.
    pub unit: Option<String>,
    /// LOINC codes (OBX-3 with coding system `LN`).
    pub loinc: Option<Vec<String>>,
    /// The laboratory's own codes (any other coding system).
    pub local: Option<Vec<String>>,
    /// Other units accepted, with the factor into `unit` (`{ "mEq/L" = 1.0 }`). Only exact
    /// conversions belong here; a value in a unit not listed is refused (AE with ERR at OBX-6).
    pub units: Option<BTreeMap<String, f64>>,
}

/// The whole `[labs]` table, by canonical name.
pub type LabsConfig = BTreeMap<String, LabEntry>;

/// The built-in catalogue with the config's entries over it; errors name the key.
pub fn catalog(labs: &LabsConfig) -> Result<LabCatalog, ConfigError> {
    let mut catalog = LabCatalog::defaults();
    let mut added = Vec::new();
    for (name, e) in labs {
        let invalid = |message: String| ConfigError::Invalid {
            key: "labs",
            message: format!("[labs.{name}]: {message}"),
        };
        if !LabName::is_valid(name) {
            return Err(invalid(
                "a lab name is lower-case letters, digits and `_` (scripts write lab(NAME))".into(),
            ));
        }
        let base = catalog.get(name).cloned();
        let unit = e
            .unit
            .clone()
            .or_else(|| base.as_ref().map(|b| b.unit.clone()))
            .ok_or_else(|| invalid("`unit` is required for a lab that is not built in".into()))?;
        let units = e
            .units
            .clone()
            .or_else(|| base.as_ref().map(|b| b.units.clone()))
            .unwrap_or_default();
        if let Some((u, f)) = units.iter().find(|(_, f)| !f.is_finite() || **f <= 0.0) {
            return Err(invalid(format!(
                "units.\"{u}\" = {f}: a conversion factor must be positive"
            )));
        }
        let def = LabDefinition {
            name: LabName(name.clone()),
            display_en: e
                .display_en
                .clone()
                .or_else(|| base.as_ref().map(|b| b.display_en.clone()))
                .unwrap_or_else(|| name.clone()),
            display_zh: e
                .display_zh
                .clone()
                .or_else(|| base.as_ref().map(|b| b.display_zh.clone()))
                .unwrap_or_else(|| name.clone()),
            unit,
            loinc: e
                .loinc
                .clone()
                .or_else(|| base.as_ref().map(|b| b.loinc.clone()))
                .unwrap_or_default(),
            local: e
                .local
                .clone()
                .or_else(|| base.as_ref().map(|b| b.local.clone()))
                .unwrap_or_default(),
            units,
        };
        added.push(def.clone());
        catalog.extend([def]);
    }
    // one code, one lab: otherwise a result would land in whichever series was looked at first
    let mut seen: BTreeMap<(bool, String), String> = BTreeMap::new();
    for lab in catalog.iter() {
        let codes = lab
            .loinc
            .iter()
            .map(|c| (true, c.clone()))
            .chain(lab.local.iter().map(|c| (false, c.to_ascii_uppercase())));
        for key in codes {
            if let Some(other) = seen.insert(key.clone(), lab.name.0.clone()) {
                return Err(ConfigError::Invalid {
                    key: "labs",
                    message: format!(
                        "code `{}` is listed for both {other} and {}",
                        key.1, lab.name
                    ),
                });
            }
        }
    }
    Ok(catalog)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> LabsConfig {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn an_entry_changes_only_the_keys_it_names() {
        let c = catalog(&parse("[k]\nlocal = [\"KAL\"]\n")).unwrap();
        let k = c.get("k").unwrap();
        assert_eq!(k.local, ["KAL"]);
        assert_eq!(k.unit, "mmol/L");
        assert!(k.loinc.contains(&"2823-3".to_string()));
        assert!(c.get("ntprobnp").is_some(), "the other defaults stay");
    }

    #[test]
    fn a_new_lab_needs_a_unit_and_bad_entries_name_themselves() {
        let c = catalog(&parse("[crp]\nunit = \"mg/L\"\nloinc = [\"1988-5\"]\n")).unwrap();
        assert_eq!(c.get("crp").unwrap().unit, "mg/L");
        for (bad, says) in [
            ("[crp]\nloinc = [\"1988-5\"]\n", "[labs.crp]"),
            ("[CRP]\nunit = \"mg/L\"\n", "[labs.CRP]"),
            ("[k]\nunits = { \"mg/dL\" = 0 }\n", "positive"),
            ("[na]\nlocal = [\"k\"]\n", "both"),
        ] {
            let e = catalog(&parse(bad)).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
