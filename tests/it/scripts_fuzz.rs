//! The condition parser and the loader never panic, whatever a script editor types: random
//! token soup and random byte strings in `when` either load or give a file:line error.

use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use suifang::followup::script::load_str;

const TOKENS: &[&str] = &[
    "a",
    "b",
    "bp",
    ".",
    "systolic",
    "diastolic",
    "and",
    "or",
    "not",
    "(",
    ")",
    "[",
    "]",
    ",",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "=",
    "!",
    "1",
    "-2.5",
    "3d",
    "24h",
    "0d",
    "true",
    "false",
    "'x'",
    "'",
    "\"",
    "sum",
    "rise",
    "fall",
    "weight_kg",
    "answered",
    "in",
    "1.2.3",
    "-",
    "é",
    "中",
];

fn script(when: &str) -> String {
    let when = when.replace('\\', "\\\\").replace('"', "\\\"");
    format!(
        r#"code = "fuzz"
version = 1
title = {{ zh = "z", en = "e" }}

[[questions]]
id = "a"
text = {{ zh = "z", en = "e" }}
type = "yes_no"

[[questions]]
id = "b"
text = {{ zh = "z", en = "e" }}
type = "number"
unit = "kg"
min = 0
max = 10
measurement = "weight_kg"

[[questions]]
id = "bp"
text = {{ zh = "z", en = "e" }}
type = "blood_pressure"

[[rules]]
id = "r"
when = "{when}"
severity = "high"
ack_sla_minutes = 5
"#
    )
}

#[test]
fn random_conditions_load_or_fail_with_a_line() {
    let mut rng = StdRng::seed_from_u64(20261125);
    let mut loaded = 0;
    for _ in 0..5000 {
        let n = rng.gen_range(0..12);
        let when: Vec<&str> = (0..n)
            .map(|_| TOKENS[rng.gen_range(0..TOKENS.len())])
            .collect();
        let when = when.join(" ");
        match load_str(Path::new("fuzz.toml"), &script(&when)) {
            Ok(_) => loaded += 1,
            Err(errors) => {
                assert!(!errors.is_empty());
                assert!(errors.iter().all(|e| e.line > 0), "{when}: {errors:?}");
            }
        }
    }
    assert!(loaded > 0, "some random conditions are valid");
}

#[test]
fn random_characters_never_panic() {
    let mut rng = StdRng::seed_from_u64(7);
    for _ in 0..5000 {
        let n = rng.gen_range(0..20);
        let when: String = (0..n)
            .map(|_| char::from_u32(rng.gen_range(0x20..0x3000)).unwrap_or('?'))
            .collect();
        if let Err(errors) = load_str(Path::new("fuzz.toml"), &script(&when)) {
            assert!(!errors.is_empty());
        }
    }
}
