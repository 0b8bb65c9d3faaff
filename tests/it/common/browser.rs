//! A nurse's (or supervisor's) agent line held open in headless Chromium by
//! `tests/browser/nurse_line.js`, driven line by line over stdin/stdout.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

/// Panics with a setup hint unless Chromium, node and playwright-core are installed.
pub fn require_browser(root: &Path) {
    let chromium = Path::new("/usr/bin/chromium").exists();
    let node = Command::new("node").arg("--version").output().is_ok();
    let playwright = root.join("node_modules/playwright-core").exists();
    assert!(
        chromium && node && playwright,
        "browser test needs chromium ({chromium}), node ({node}) and playwright-core ({playwright}); \
         run scripts/setup.sh"
    );
}

pub struct BrowserLine {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl BrowserLine {
    /// Logs `user` in on the softphone page and connects the line; returns when connected.
    pub fn connect(root: &Path, base: &str, mic: &Path, user: &str, password: &str) -> BrowserLine {
        require_browser(root);
        let mut child = Command::new("node")
            .arg(root.join("tests/browser/nurse_line.js"))
            .args([base, &mic.display().to_string(), user, password])
            .current_dir(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn node");
        let stdout: ChildStdout = child.stdout.take().expect("stdout");
        let stdin = child.stdin.take();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut line = BrowserLine {
            child,
            stdin,
            lines,
        };
        let ready = line.next(Duration::from_secs(60));
        assert_eq!(ready["ready"], true, "line did not connect: {ready}");
        line
    }

    fn next(&mut self, limit: Duration) -> Value {
        let text = self
            .lines
            .recv_timeout(limit)
            .unwrap_or_else(|e| panic!("no answer from the browser within {limit:?}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad JSON {text}: {e}"))
    }

    fn send(&mut self, cmd: &str, limit: Duration) -> Value {
        if let Err(gone) = self.write(cmd) {
            panic!("{gone}");
        }
        self.next(limit)
    }

    /// Writes one command; if node has exited, says how and what it printed unread.
    fn write(&mut self, cmd: &str) -> Result<(), String> {
        let stdin = self.stdin.as_mut().expect("browser stdin open");
        match writeln!(stdin, "{cmd}").and_then(|()| stdin.flush()) {
            Ok(()) => Ok(()),
            Err(e) => {
                let status = self.child.try_wait();
                let unread: Vec<String> = self.lines.try_iter().collect();
                Err(format!(
                    "node exited before `{cmd}` ({e}; exit status {status:?}); unread output: {unread:?}"
                ))
            }
        }
    }

    /// The softphone's state (packetsReceived, audioLevel, maxAudioLevel…).
    pub fn stats(&mut self) -> Value {
        self.send("stats", Duration::from_secs(20))
    }

    /// Reloads the page and waits for the line to come back.
    pub fn reload(&mut self) -> Value {
        self.send("reload", Duration::from_secs(60))
    }

    /// Dials task `task` from the page (over the socket); returns once answered.
    pub fn dial(&mut self, task: i64) -> Value {
        self.send(&format!("dial {task}"), Duration::from_secs(40))
    }

    /// Hangs up from the page; returns once the call has ended.
    pub fn hangup(&mut self) -> Value {
        self.send("hangup", Duration::from_secs(40))
    }

    /// Closes the browser; returns its final state. A node that already exited (seen once in
    /// CI, after every check of the test had passed, with nothing on stderr) gives a state whose
    /// `errors` say so, so a caller that checks the page's errors fails and says why.
    pub fn quit(mut self) -> Value {
        if let Err(gone) = self.write("quit") {
            eprintln!("{gone}");
            return serde_json::json!({ "final": false, "errors": [gone] });
        }
        let v = self.next(Duration::from_secs(30));
        let _ = self.child.wait();
        v
    }
}

impl Drop for BrowserLine {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
