//! Every script a pathway step names exists among the shipped scripts.

use std::path::Path;

use suifang::followup::pathway::PathwayCatalog;
use suifang::followup::script::load_dir;

#[test]
fn pathway_steps_reference_shipped_scripts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts");
    let scripts = match load_dir(&root.join("scripts")) {
        Ok(c) => c,
        Err(e) => panic!("{e:#?}"),
    };
    let pathways = match PathwayCatalog::load_dir(&root.join("pathways")) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    };
    let mut missing = Vec::new();
    for p in pathways.pathways.values() {
        for s in &p.steps {
            if scripts.get(&s.script).is_none() {
                missing.push(format!("{} → {}", p.code, s.script));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "pathway steps without a script: {missing:?}"
    );
}
