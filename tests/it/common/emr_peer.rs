//! The EMR that results go back to: python-hl7's asyncio MLLP server
//! (`tests/fixtures/hl7/emr.py`, in ~/.cache/suifang/venv), with what it received read from
//! its stdout (one JSON line per message).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::common::repo_root;

/// A running EMR; killed when dropped.
pub struct Emr {
    child: Child,
    pub port: u16,
    received: Arc<Mutex<Vec<Value>>>,
}

fn python() -> PathBuf {
    let venv = std::env::var_os("SUIFANG_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/suifang/venv")
        });
    let py = venv.join("bin/python3");
    assert!(
        py.is_file(),
        "{} is missing: run scripts/setup.sh (it installs python-hl7)",
        py.display()
    );
    py
}

impl Emr {
    /// Starts the EMR on `port` (0: any free port) with `flags` (`--stale-first`, `--ae ID`);
    /// returns once it listens.
    pub fn start(port: u16, flags: &[&str]) -> Emr {
        let mut child = Command::new(python())
            .arg(repo_root().join("tests/fixtures/hl7/emr.py"))
            .arg(port.to_string())
            .args(flags)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the python-hl7 EMR");
        let out = child.stdout.take().expect("stdout");
        let received = Arc::new(Mutex::new(Vec::new()));
        let (sink, (bound_tx, bound_rx)) = (received.clone(), mpsc::channel());
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                eprintln!("emr: {line}");
                if let Some(p) = line.strip_prefix("listening ") {
                    let _ = bound_tx.send(p.trim().parse::<u16>().unwrap_or(0));
                } else if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    sink.lock().unwrap_or_else(|e| e.into_inner()).push(v);
                }
            }
        });
        let port = bound_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the EMR printed its port");
        assert_ne!(port, 0, "the EMR could not bind");
        Emr {
            child,
            port,
            received,
        }
    }

    /// Every message received so far, in order.
    pub fn received(&self) -> Vec<Value> {
        self.received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The messages received with this MSH-10.
    pub fn with_control_id(&self, control_id: &str) -> Vec<Value> {
        self.received()
            .into_iter()
            .filter(|m| m["control_id"] == control_id)
            .collect()
    }

    /// Stops it (as an EMR that goes down does: its port refuses connections).
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Emr {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
