//! Embeds `migrations/NNNN_name.sql` into the binary, so a binary always knows the schema it
//! expects and can refuse a database that is newer than itself.
use std::{env, fs, path::Path};

fn main() {
    let dir = Path::new(&env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
        .join("migrations");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut entries: Vec<(u32, String)> = Vec::new();
    for entry in fs::read_dir(&dir).expect("migrations/ must exist") {
        let path = entry.expect("readable migrations/ entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if !name.ends_with(".sql") {
            continue;
        }
        println!("cargo:rerun-if-changed={}", path.display());
        let version: u32 = name
            .split('_')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("migration {name} must be named NNNN_description.sql"));
        entries.push((version, name));
    }
    entries.sort();
    for pair in entries.windows(2) {
        assert!(
            pair[0].0 != pair[1].0,
            "two migrations share version {}",
            pair[0].0
        );
    }
    let mut out = String::from("/// (version, file name, SQL), in order.\npub static MIGRATIONS: &[(u32, &str, &str)] = &[\n");
    for (version, name) in &entries {
        out.push_str(&format!(
            "    ({version}, {name:?}, include_str!({:?})),\n",
            dir.join(name).display().to_string()
        ));
    }
    out.push_str("];\n");
    let dest = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("migrations.rs");
    fs::write(dest, out).expect("write migrations.rs");
}
