//! Helpers for integration tests: run the real `suifang` binary on a free port with its own
//! data directory, and talk to it over HTTP.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub mod browser;
pub mod call_harness;
pub mod console;
pub mod emr_peer;
pub mod hl7_peer;
pub mod kannel;
pub mod patient_phone;
pub mod recordings;
pub mod serial;
pub mod sip_peers;

pub const BIN: &str = env!("CARGO_BIN_EXE_suifang");

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixed-offset zone where it is now around noon, so tests that claim tasks are inside
/// calling hours whenever they run (the default zone would refuse claims at night).
pub fn midday_zone() -> String {
    suifang::bench::harness::midday_zone(chrono::Utc::now())
}

/// Polls `f` every 100 ms until it returns `Some`, or panics naming `what` after `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A `suifang` command with an isolated data dir and the repo's prompts.
pub fn command(data_dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.env("SUIFANG_DATA_DIR", data_dir)
        .env("SUIFANG_PROMPTS_DIR", repo_root().join("prompts"))
        .env("SUIFANG_LOG", "warn")
        .env("SUIFANG_DEMO_SIM_PATIENT", "off")
        .env("SUIFANG_SIP_BIND", "127.0.0.1:0")
        .env("SUIFANG_TIME_ZONE", midday_zone())
        .env_remove("SUIFANG_CONFIG");
    c
}

pub fn run(data_dir: &Path, args: &[&str]) -> Output {
    command(data_dir).args(args).output().expect("run suifang")
}

pub fn run_with_stdin(data_dir: &Path, args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = command(data_dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn suifang");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait suifang")
}

/// The file of a call's recording: `recording.path` as the API lists it is relative to the
/// server's recordings folder (`<data_dir>/recordings`; `store::recording_files`).
pub fn recording_file(server: &Server, call: &serde_json::Value) -> PathBuf {
    let stored = call["recording"]["path"]
        .as_str()
        .unwrap_or_else(|| panic!("no recording path: {call}"));
    assert!(
        !Path::new(stored).is_absolute(),
        "recording paths are stored relative to the recordings folder: {stored}"
    );
    server.data_dir.join("recordings").join(stored)
}

/// A running server, killed on drop.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub data_dir: PathBuf,
    stdout: StdoutLines,
}

impl Server {
    /// Starts `suifang <subcommand>` and waits until /api/v1/health answers.
    pub fn start(data_dir: &Path, subcommand: &str, extra_env: &[(&str, &str)]) -> Server {
        let mut c = command(data_dir);
        c.arg(subcommand);
        for (k, v) in extra_env {
            c.env(k, v);
        }
        Server::spawn(c, data_dir, Duration::from_secs(30))
    }

    /// Spawns `c` with its HTTP server on a port the kernel picks (`SUIFANG_HTTP_ADDR`
    /// `127.0.0.1:0`), reads the address it bound from its stdout and waits until
    /// /api/v1/health answers there. A port probed free by the test could be taken by
    /// another test's socket before the server binds it; a port-0 bind cannot.
    pub fn spawn(mut c: Command, data_dir: &Path, limit: Duration) -> Server {
        let mut child = c
            .env("SUIFANG_HTTP_ADDR", "127.0.0.1:0")
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn suifang");
        let stdout = StdoutLines::follow(child.stdout.take().expect("stdout"));
        let mut server = Server {
            child,
            base: String::new(),
            data_dir: data_dir.to_path_buf(),
            stdout,
        };
        let deadline = Instant::now() + limit;
        let line = server.wait_stdout_line("suifang is listening on http://", limit);
        server.base = line
            .split("listening on ")
            .nth(1)
            .map(|url| url.trim().trim_end_matches('/').to_owned())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        loop {
            if ureq::get(&format!("{}/api/v1/health", server.base))
                .call()
                .is_ok()
            {
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("server exited early: {status}");
            }
            assert!(Instant::now() < deadline, "server did not become healthy");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The first line the server printed on stdout that contains `needle`.
    pub fn stdout_line(&self, needle: &str) -> Option<String> {
        self.stdout.find(needle)
    }

    /// Waits until the server prints a line containing `needle`; panics if it exits first.
    pub fn wait_stdout_line(&mut self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(line) = self.stdout.find(needle) {
                return line;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("suifang exited ({status}) before printing {needle:?}");
            }
            assert!(
                Instant::now() < deadline,
                "suifang did not print {needle:?} within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A child's stdout lines, read by a thread as they come (echoed to stderr for failures).
#[derive(Clone, Default)]
pub struct StdoutLines(Arc<Mutex<Vec<String>>>);

impl StdoutLines {
    pub fn follow(out: ChildStdout) -> StdoutLines {
        let lines = StdoutLines::default();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                eprintln!("suifang stdout: {line}");
                sink.0.lock().unwrap_or_else(|e| e.into_inner()).push(line);
            }
        });
        lines
    }

    pub fn find(&self, needle: &str) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|l| l.contains(needle))
            .cloned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A logged-in HTTP client (cookie kept by hand: ureq 2 has no cookie jar without a feature).
pub struct Client {
    pub base: String,
    pub cookie: Option<String>,
}

pub struct Reply {
    pub status: u16,
    pub body: serde_json::Value,
}

impl Client {
    pub fn anonymous(server: &Server) -> Client {
        Client {
            base: server.base.clone(),
            cookie: None,
        }
    }

    pub fn login(server: &Server, username: &str, password: &str) -> Client {
        let mut c = Client::anonymous(server);
        let resp = ureq::post(&format!("{}/api/v1/session", c.base))
            .send_json(serde_json::json!({"username": username, "password": password}))
            .unwrap_or_else(|e| panic!("login {username}: {e}"));
        let set = resp
            .header("set-cookie")
            .expect("session cookie")
            .to_string();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        c.cookie = Some(set.split(';').next().unwrap_or_default().to_string());
        c
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        content_type: &str,
    ) -> Reply {
        let mut req = ureq::request(method, &format!("{}{}", self.base, path));
        if let Some(c) = &self.cookie {
            req = req.set("Cookie", c);
        }
        let result = match body {
            Some(b) => req.set("Content-Type", content_type).send_string(b),
            None => req.call(),
        };
        let resp = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let status = resp.status();
        if resp.content_type() == "text/event-stream" {
            // a live stream never ends: the status is the answer
            return Reply {
                status,
                body: serde_json::Value::Null,
            };
        }
        let text = resp.into_string().unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        Reply { status, body }
    }

    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, None, "")
    }

    pub fn post(&self, path: &str, body: serde_json::Value) -> Reply {
        self.request("POST", path, Some(&body.to_string()), "application/json")
    }

    pub fn put(&self, path: &str, body: serde_json::Value) -> Reply {
        self.request("PUT", path, Some(&body.to_string()), "application/json")
    }
}
