//! The real HL7 sender of the HL7 acceptance tests: python-hl7's `mllp_send` (PyPI `hl7`,
//! installed by scripts/setup.sh in ~/.cache/suifang/venv), and reading what it printed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::call_harness::Suifang;
use crate::common::wait_for;

/// python-hl7's `mllp_send` in the project's venv (`SUIFANG_VENV` to use another).
pub fn mllp_send() -> PathBuf {
    let venv = std::env::var_os("SUIFANG_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/suifang/venv")
        });
    let tool = venv.join("bin/mllp_send");
    assert!(
        tool.is_file(),
        "{} is missing: run scripts/setup.sh (it installs python-hl7)",
        tool.display()
    );
    tool
}

/// Sends each message (already encoded) over one MLLP connection with `mllp_send`; returns
/// whether it succeeded and what it printed (the ACKs, framing bytes included).
pub fn send(port: u16, dir: &Path, messages: &[Vec<u8>]) -> (bool, Vec<u8>) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let file = dir.join(format!("batch-{}.hl7", N.fetch_add(1, Ordering::Relaxed)));
    let mut framed = Vec::new();
    for m in messages {
        framed.push(0x0b);
        framed.extend_from_slice(m);
        framed.extend_from_slice(&[0x1c, 0x0d]);
    }
    std::fs::write(&file, framed).expect("write the batch");
    let out = Command::new(mllp_send())
        .args(["-p", &port.to_string(), "-f"])
        .arg(&file)
        .arg("127.0.0.1")
        .output()
        .expect("run mllp_send");
    if !out.status.success() {
        eprintln!("mllp_send: {}", String::from_utf8_lossy(&out.stderr));
    }
    (out.status.success(), out.stdout)
}

/// The lines of the printed ACKs that start with `prefix` (`MSA`, `ERR`).
pub fn ack_lines(stdout: &[u8], prefix: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(stdout);
    text.split(['\r', '\n'])
        .map(|l| l.trim_matches(['\u{0b}', '\u{1c}']))
        .filter(|l| l.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

/// The MLLP port suifang printed (`SUIFANG_HL7_LISTEN=127.0.0.1:0`).
pub fn hl7_port(suifang: &Suifang) -> u16 {
    let line = wait_for("the HL7 address on stdout", Duration::from_secs(10), || {
        suifang.stdout_line("suifang HL7 (MLLP) listening on")
    });
    line.rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .expect("a port after the last colon")
}
