//! Loader errors point at the file and line to edit (`suifang scripts check`).

use std::path::{Path, PathBuf};

use suifang::followup::script::{check_dir, load_dir, ScriptError};

fn fixtures(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/scripts")
        .join(sub)
}

fn errors(sub: &str) -> Vec<ScriptError> {
    match load_dir(&fixtures(sub)) {
        Ok(c) => panic!("{sub}: expected errors, loaded {} scripts", c.len()),
        Err(e) => e,
    }
}

#[test]
fn every_bad_file_reports_its_line() {
    // (file, line, words the message must contain)
    let expected: &[(&str, usize, &str)] = &[
        ("bad_range.toml", 24, "min 30 must be below max 1"),
        (
            "bad_tag.toml",
            15,
            "tag `Fluid Risk`: use 1-40 lowercase letters",
        ),
        ("bad_severity.toml", 21, "critical"),
        (
            "duplicate_question.toml",
            19,
            "duplicate question id `weight` (first defined on line 11)",
        ),
        (
            "duplicate_rule.toml",
            25,
            "duplicate rule id `r1` (first defined on line 19)",
        ),
        ("forward_show_if.toml", 22, "unknown question `later`"),
        ("misplaced_field.toml", 21, "unit not allowed"),
        ("red_flag_short.toml", 20, "each at least 2 characters"),
        ("syntax.toml", 20, ""),
        ("type_mismatch.toml", 20, "`breathless` is yes/no"),
        ("unknown_field.toml", 21, "severty"),
        ("unknown_question.toml", 20, "unknown question `breathles`"),
        (
            "unrecorded_measurement.toml",
            20,
            "no question of this script records `glucose_mmol`",
        ),
    ];
    let errs = errors("bad");
    let shown: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    for (file, line, words) in expected {
        let hit = errs.iter().any(|e| {
            e.file.file_name().is_some_and(|f| f == *file)
                && e.line == *line
                && e.to_string().contains(words)
        });
        assert!(
            hit,
            "{file}:{line} `{words}` not among:\n{}",
            shown.join("\n")
        );
    }
    assert_eq!(
        errs.len(),
        expected.len(),
        "one error per file:\n{}",
        shown.join("\n")
    );
    // The printed form is `path:line: message`.
    assert!(shown
        .iter()
        .any(|s| s.contains("bad_range.toml:24: bad range")));
}

#[test]
fn duplicate_script_codes_are_refused() {
    let errs = errors("dup");
    assert_eq!(errs.len(), 1);
    assert!(errs[0]
        .to_string()
        .contains("script code `same-code` is also used by"));
}

#[test]
fn missing_directory_is_an_error_not_a_panic() {
    let errs = errors("no-such-dir");
    assert_eq!(errs[0].line, 0);
}

#[test]
fn check_report_for_the_cli() {
    let ok = check_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/scripts"));
    assert!(ok.is_ok(), "{ok}");
    let text = ok.to_string();
    assert!(text.contains("ok    heart-failure v4"), "{text}");
    assert!(text.ends_with("13 scripts OK"), "{text}");
    assert!(text.contains("ok    satisfaction v1"), "{text}");
    assert!(
        text.contains("ok    heart-failure-team-review v1"),
        "{text}"
    );
    let bad = check_dir(&fixtures("bad"));
    assert!(!bad.is_ok());
    assert!(bad.to_string().contains("13 error(s)"), "{bad}");
}
