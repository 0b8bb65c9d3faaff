//! Charlson comorbidity from ICD-10 codes: the conditions as coded by H. Quan et al., "Coding
//! algorithms for defining comorbidities in ICD-9-CM and ICD-10 administrative data", Med Care
//! 43 (2005) 1130–1139, Table 1 (enhanced ICD-10 column), weighted with M. E. Charlson et al.'s
//! original weights (J Chronic Dis 40 (1987) 373–383), as the LACE index uses them (van
//! Walraven et al., CMAJ 182 (2010) 551–557).
//!
//! Codes are compared without the dot and by prefix: `I50.9` is `I509`, which the category
//! `I50` covers. When a milder and a graver form of one disease are both coded (diabetes with
//! and without complications, mild and moderate/severe liver disease, any malignancy and a
//! metastatic tumour) only the graver counts, as in Quan's own SAS code and the R package
//! `comorbidity`.

use serde::Serialize;

/// A Charlson condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    MyocardialInfarction,
    CongestiveHeartFailure,
    PeripheralVascular,
    Cerebrovascular,
    Dementia,
    ChronicPulmonary,
    Rheumatic,
    PepticUlcer,
    MildLiver,
    DiabetesWithoutComplications,
    DiabetesWithComplications,
    HemiplegiaParaplegia,
    Renal,
    Malignancy,
    ModerateSevereLiver,
    MetastaticSolidTumour,
    Hiv,
}

use Condition::*;

/// (condition, Charlson 1987 weight, Quan 2005 ICD-10 codes; `A-B` is a range of equal length).
const TABLE: &[(Condition, u32, &[&str])] = &[
    (MyocardialInfarction, 1, &["I21", "I22", "I252"]),
    (
        CongestiveHeartFailure,
        1,
        &[
            "I099",
            "I110",
            "I130",
            "I132",
            "I255",
            "I420",
            "I425-I429",
            "I43",
            "I50",
            "P290",
        ],
    ),
    (
        PeripheralVascular,
        1,
        &[
            "I70", "I71", "I731", "I738", "I739", "I771", "I790", "I792", "K551", "K558", "K559",
            "Z958", "Z959",
        ],
    ),
    (Cerebrovascular, 1, &["G45", "G46", "H340", "I60-I69"]),
    (Dementia, 1, &["F00-F03", "F051", "G30", "G311"]),
    (
        ChronicPulmonary,
        1,
        &["I278", "I279", "J40-J47", "J60-J67", "J684", "J701", "J703"],
    ),
    (
        Rheumatic,
        1,
        &["M05", "M06", "M315", "M32-M34", "M351", "M353", "M360"],
    ),
    (PepticUlcer, 1, &["K25-K28"]),
    (
        MildLiver,
        1,
        &[
            "B18",
            "K700-K703",
            "K709",
            "K713-K715",
            "K717",
            "K73",
            "K74",
            "K760",
            "K762-K764",
            "K768",
            "K769",
            "Z944",
        ],
    ),
    (
        DiabetesWithoutComplications,
        1,
        &[
            "E100", "E101", "E106", "E108", "E109", "E110", "E111", "E116", "E118", "E119", "E120",
            "E121", "E126", "E128", "E129", "E130", "E131", "E136", "E138", "E139", "E140", "E141",
            "E146", "E148", "E149",
        ],
    ),
    (
        DiabetesWithComplications,
        2,
        &[
            "E102-E105",
            "E107",
            "E112-E115",
            "E117",
            "E122-E125",
            "E127",
            "E132-E135",
            "E137",
            "E142-E145",
            "E147",
        ],
    ),
    (
        HemiplegiaParaplegia,
        2,
        &[
            "G041",
            "G114",
            "G801",
            "G802",
            "G81",
            "G82",
            "G830-G834",
            "G839",
        ],
    ),
    (
        Renal,
        2,
        &[
            "I120",
            "I131",
            "N032-N037",
            "N052-N057",
            "N18",
            "N19",
            "N250",
            "Z490-Z492",
            "Z940",
            "Z992",
        ],
    ),
    (
        Malignancy,
        2,
        &[
            "C00-C26", "C30-C34", "C37-C41", "C43", "C45-C58", "C60-C76", "C81-C85", "C88",
            "C90-C97",
        ],
    ),
    (
        ModerateSevereLiver,
        3,
        &[
            "I850", "I859", "I864", "I982", "K704", "K711", "K721", "K729", "K765", "K766", "K767",
        ],
    ),
    (MetastaticSolidTumour, 6, &["C77-C80"]),
    (Hiv, 6, &["B20-B22", "B24"]),
];

/// `I50.9 ` → `I509`.
fn normalise(code: &str) -> String {
    code.trim().to_ascii_uppercase().replace('.', "")
}

/// Whether `code` (normalised) falls under `pattern` (`I50`, or a range `I425-I429`).
fn covers(pattern: &str, code: &str) -> bool {
    match pattern.split_once('-') {
        None => code.starts_with(pattern),
        Some((low, high)) => {
            let len = low.len();
            code.len() >= len && {
                let head = &code[..len];
                // same letter, numeric part within the range (equal length, so text order works)
                head[..1] == low[..1] && head >= low && head <= high
            }
        }
    }
}

/// The conditions `codes` show, graver forms replacing milder ones, in a fixed order.
pub fn conditions<S: AsRef<str>>(codes: &[S]) -> Vec<Condition> {
    let codes: Vec<String> = codes.iter().map(|c| normalise(c.as_ref())).collect();
    let mut found: Vec<Condition> = TABLE
        .iter()
        .filter(|(_, _, patterns)| codes.iter().any(|c| patterns.iter().any(|p| covers(p, c))))
        .map(|(c, _, _)| *c)
        .collect();
    let graver = [
        (DiabetesWithoutComplications, DiabetesWithComplications),
        (MildLiver, ModerateSevereLiver),
        (Malignancy, MetastaticSolidTumour),
    ];
    for (mild, grave) in graver {
        if found.contains(&grave) {
            found.retain(|c| *c != mild);
        }
    }
    found
}

/// Charlson weight of a condition (1987).
pub fn weight(condition: Condition) -> u32 {
    TABLE
        .iter()
        .find(|(c, _, _)| *c == condition)
        .map_or(0, |(_, w, _)| *w)
}

/// The Charlson comorbidity index of `codes`.
pub fn index<S: AsRef<str>>(codes: &[S]) -> u32 {
    conditions(codes).into_iter().map(weight).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_quan_2005_conditions() {
        let cases: &[(&str, Option<Condition>)] = &[
            ("I21.4", Some(MyocardialInfarction)),
            ("I25.2", Some(MyocardialInfarction)),
            ("I25.1", None),
            ("I50.9", Some(CongestiveHeartFailure)),
            ("I42.0", Some(CongestiveHeartFailure)),
            ("I42.1", None),
            ("I42.7", Some(CongestiveHeartFailure)),
            ("I63.9", Some(Cerebrovascular)),
            ("I69.3", Some(Cerebrovascular)),
            ("I70.2", Some(PeripheralVascular)),
            ("F01.9", Some(Dementia)),
            ("J44.1", Some(ChronicPulmonary)),
            ("J48", None),
            ("M32.1", Some(Rheumatic)),
            ("K26.0", Some(PepticUlcer)),
            ("K70.3", Some(MildLiver)),
            ("K70.4", Some(ModerateSevereLiver)),
            ("E11.9", Some(DiabetesWithoutComplications)),
            ("E11.2", Some(DiabetesWithComplications)),
            ("G81.9", Some(HemiplegiaParaplegia)),
            ("N18.5", Some(Renal)),
            ("C34.1", Some(Malignancy)),
            ("C44.9", None), // skin other than melanoma is left out
            ("C78.0", Some(MetastaticSolidTumour)),
            ("B20", Some(Hiv)),
            ("K35.8", None),
        ];
        for (code, want) in cases {
            assert_eq!(conditions(&[*code]).first().copied(), *want, "{code}");
        }
    }

    #[test]
    fn graver_forms_replace_milder_ones_and_weights_add_up() {
        // heart failure 1 + diabetes with complications 2 (not also 1) + renal 2
        assert_eq!(index(&["I50.9", "E11.9", "E11.2", "N18.4"]), 5);
        // metastatic 6 replaces any malignancy 2; COPD 1
        assert_eq!(index(&["C34.9", "C78.0", "J44.9"]), 7);
        // moderate/severe liver 3 replaces mild 1
        assert_eq!(index(&["K70.3", "K72.1"]), 3);
        // the same condition twice counts once
        assert_eq!(index(&["I21.0", "I22.1"]), 1);
        assert_eq!(index::<&str>(&[]), 0);
        assert_eq!(index(&["Z00.0"]), 0);
    }
}
