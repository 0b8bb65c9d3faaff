//! Shared pieces of the call-center acceptance tests (`call_outcomes`, `call_inbound`,
//! `call_crash`, `call_malformed`): the real `suifang demo` binary with its stdout captured
//! (the SIP address and the crash-recovery line are printed there), a sipp UAS bound to a
//! *fixed* port (the trunk address is fixed at start-up, so successive one-call sipps must
//! take turns on it), a baresip phone that answers or dials as a demo patient, and polling.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::sip_peers::{
    baresip_dump, fixtures, free_tcp_port, free_udp_port, read_mono, udp_port_bound,
};
use super::{command, wait_for, Client, Server};

/// A running `suifang demo` whose stdout lines are kept for the test to read.
pub struct Suifang {
    /// The process and its HTTP base (killed on drop).
    pub server: Server,
    /// Where its SIP socket listens, as it printed.
    pub sip: SocketAddr,
}

impl Suifang {
    /// Starts `suifang demo` on `data_dir` with transcription off (whisper would compete for
    /// the two cores with the media path under test) and `env` on top; returns once health
    /// answers and the SIP address has been printed.
    pub fn start(data_dir: &Path, env: &[(&str, &str)]) -> Suifang {
        let mut c = command(data_dir);
        c.arg("demo").env("SUIFANG_TRANSCRIPTION", "off");
        // SUIFANG_TEST_LOG=suifang=debug shows the server's log when a test is investigated
        if let Ok(filter) = std::env::var("SUIFANG_TEST_LOG") {
            c.env("SUIFANG_LOG", filter);
        }
        for (k, v) in env {
            c.env(k, v);
        }
        let mut server = Server::spawn(c, data_dir, Duration::from_secs(30));
        let line =
            server.wait_stdout_line("suifang SIP is listening on udp:", Duration::from_secs(10));
        let sip = line
            .rsplit("udp:")
            .next()
            .and_then(|a| a.trim().parse().ok())
            .unwrap_or_else(|| panic!("cannot parse the SIP address in {line:?}"));
        Suifang { server, sip }
    }

    /// The first stdout line containing `needle`.
    pub fn stdout_line(&self, needle: &str) -> Option<String> {
        self.server.stdout_line(needle)
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.server.child.try_wait(), Ok(None))
    }

    /// `kill -9`: no shutdown path runs, nothing is flushed or finalised.
    pub fn kill9(mut self) {
        // std's Child::kill is SIGKILL on Unix
        self.server.child.kill().expect("SIGKILL suifang");
        let status = self.server.child.wait().expect("reap suifang");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9),
            "{status}"
        );
    }

    pub fn login(&self, user: &str, password: &str) -> Client {
        Client::login(&self.server, user, password)
    }
}

/// The server's environment entry that turns its OPTIONS pings to the trunk off. A server
/// whose trunk is a [`FixedSipp::uas`] needs it: sipp takes a ping (or one of its
/// retransmissions, for 64 × T1 after start) for the start of a call and aborts on it, and
/// with `-aa` it answers the ping but spends its one call on it.
pub const NO_TRUNK_PINGS: (&str, &str) = ("SUIFANG_SIP_OPTIONS_INTERVAL_SECONDS", "0");

/// sipp playing `scenario` once as a UAS on the fixed `port` (the server's trunk; start the
/// server with [`NO_TRUNK_PINGS`]).
pub struct FixedSipp {
    child: Child,
    _dir: tempfile::TempDir,
}

impl FixedSipp {
    pub fn uas(scenario: &str, port: u16) -> FixedSipp {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("scenario.xml");
        std::fs::write(&path, scenario).expect("write scenario");
        let child = Command::new("sipp")
            .arg("-sf")
            .arg(&path)
            .args(["-i", "127.0.0.1", "-p", &port.to_string()])
            .args(["-mi", "127.0.0.1", "-mp", &free_udp_port().to_string()])
            .args(["-m", "1", "-nostdin", "-trace_err"])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sipp");
        let mut sipp = FixedSipp { child, _dir: dir };
        wait_for(
            &format!("sipp to bind udp port {port}"),
            Duration::from_secs(5),
            || {
                if let Ok(Some(status)) = sipp.child.try_wait() {
                    panic!(
                        "sipp exited ({status}) before binding udp port {port}: {}",
                        sipp.errors()
                    );
                }
                udp_port_bound(port).then_some(())
            },
        );
        sipp
    }

    /// sipp as a UAC running `scenario` once against `remote` from a free port; `-s` names
    /// the request user.
    pub fn uac(scenario: &str, remote: SocketAddr) -> FixedSipp {
        Self::uac_from(scenario, remote, free_udp_port())
    }

    /// As [`FixedSipp::uac`], from `port` (the trunk's address, for patients' calls).
    pub fn uac_from(scenario: &str, remote: SocketAddr, port: u16) -> FixedSipp {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("scenario.xml");
        std::fs::write(&path, scenario).expect("write scenario");
        let child = Command::new("sipp")
            .arg(remote.to_string())
            .arg("-sf")
            .arg(&path)
            .args(["-s", "hotline", "-i", "127.0.0.1"])
            .args(["-p", &port.to_string()])
            .args(["-mi", "127.0.0.1", "-mp", &free_udp_port().to_string()])
            .args(["-m", "1", "-nostdin", "-trace_err"])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sipp");
        FixedSipp { child, _dir: dir }
    }

    /// sipp's exit code (0 = its scenario passed), or `None` after killing it on timeout.
    pub fn wait(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }

    /// The error log sipp wrote with `-trace_err`, for a failure message.
    pub fn errors(&self) -> String {
        std::fs::read_dir(self._dir.path())
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with("_errors.log"))
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .collect()
    }
}

impl Drop for FixedSipp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A baresip softphone whose account is a patient's number: it auto-answers calls to that
/// number, or dials `dial` at start (its From is then the patient's number); it sends `wav`
/// (hanging up when the file ends) and dumps what it receives.
pub struct Baresip {
    child: Child,
    /// Its ctrl_tcp port (remote commands: dial, keys).
    ctrl_port: u16,
    dumps: PathBuf,
    /// Its stdout (calls, SRTP and errors are reported there).
    output: PathBuf,
    _dir: tempfile::TempDir,
}

impl Baresip {
    pub fn start(wav: &Path, number: &str, sip_port: u16, dial: Option<&str>) -> Baresip {
        let accounts = std::fs::read_to_string(fixtures().join("baresip/accounts"))
            .expect("accounts")
            .replace("127.0.0.1:5080", &format!("127.0.0.1:{sip_port}"))
            .replace("sip:patient@", &format!("sip:{number}@"));
        Self::with_account(wav, &accounts, sip_port, dial)
    }

    /// An agent's desk phone: registers `extension` at suifang's `registrar` with digest
    /// (`password`), answers calls itself when `auto_answer`, sends `wav` and dumps what it
    /// hears. Listens on `sip_port`.
    pub fn desk_phone(
        wav: &Path,
        extension: &str,
        password: &str,
        registrar: SocketAddr,
        sip_port: u16,
        auto_answer: bool,
        dial: Option<&str>,
    ) -> Baresip {
        let mode = if auto_answer { "auto" } else { "manual" };
        let account = format!(
            "<sip:{extension}@{registrar}>;auth_user={extension};auth_pass={password};\
             regint=600;answermode={mode};audio_codecs=PCMU,PCMA\n"
        );
        Self::with_account(wav, &account, sip_port, dial)
    }

    /// baresip with this `accounts` file, listening on `sip_port`.
    pub fn with_account(wav: &Path, accounts: &str, sip_port: u16, dial: Option<&str>) -> Baresip {
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = dir.path().join("baresip");
        let dumps = dir.path().join("dumps");
        std::fs::create_dir_all(&conf).expect("mkdir");
        std::fs::create_dir_all(&dumps).expect("mkdir");
        let template = std::fs::read_to_string(fixtures().join("baresip/config")).expect("config");
        // Fresh RTP and control ports for each start: a start that exited on a port taken
        // meanwhile (exit 98, seen in a parallel desk_phone run) must not retry the same one.
        let write_config = || {
            let (rtp_base, ctrl_port) = (free_udp_port(), free_tcp_port());
            let config = template
                .replace("@AUDIO_8K_WAV@", &wav.display().to_string())
                .replace("@RECORD_DIR@", &dumps.display().to_string())
                .replace("127.0.0.1:5080", &format!("127.0.0.1:{sip_port}"))
                .replace("20000-20099", &format!("{rtp_base}-{}", rtp_base + 9))
                .replace("127.0.0.1:4444", &format!("127.0.0.1:{ctrl_port}"));
            std::fs::write(conf.join("config"), config).expect("write config");
            ctrl_port
        };
        let mut ctrl_port = write_config();
        std::fs::write(conf.join("accounts"), accounts).expect("write accounts");
        let output = dir.path().join("baresip.out");
        let mut cmd = Command::new("baresip");
        cmd.args(["-f", &conf.display().to_string(), "-t", "90"])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&output).expect("baresip output file"))
            .stderr(Stdio::null());
        let mut child = cmd.spawn().expect("start baresip");
        // Seen once in a full run: baresip neither bound its port within 5 s nor said why
        // (the machine was busy starting Chromium). One that exited is started again.
        let mut restarts = 0;
        wait_for(
            &format!("baresip to bind udp port {sip_port}"),
            Duration::from_secs(20),
            || {
                if udp_port_bound(sip_port) {
                    return Some(());
                }
                if let Ok(Some(status)) = child.try_wait() {
                    assert!(
                        restarts < 2,
                        "baresip keeps exiting before binding: {status}"
                    );
                    restarts += 1;
                    ctrl_port = write_config();
                    child = cmd.spawn().expect("restart baresip");
                }
                None
            },
        );
        if let Some(target) = dial {
            // Dialled over ctrl_tcp once baresip is up, not with `-e /dial` at start-up: a
            // start-up command now and then never produced an INVITE (CI, call_inbound).
            baresip_command(ctrl_port, "dial", target);
        }
        Baresip {
            child,
            ctrl_port,
            dumps,
            output,
            _dir: dir,
        }
    }

    /// Presses `key` on the phone: baresip sends it as an RFC 4733 telephone-event
    /// (`/sndcode`), and has sent it when this returns.
    pub fn press(&self, key: char) {
        baresip_command(self.ctrl_port, "sndcode", &key.to_string());
    }

    /// Hangs up the phone's call (ctrl_tcp `hangup`): the patient puts the phone down.
    pub fn hang_up(&self) {
        baresip_command(self.ctrl_port, "hangup", "");
    }

    /// Waits until baresip has printed `needle` `times` times (e.g. "Incoming call from" for
    /// each call that rang it); returns what it printed.
    pub fn wait_for_output(&self, needle: &str, times: usize, limit: Duration) -> String {
        wait_for(
            &format!("baresip to print {needle:?} {times} times"),
            limit,
            || {
                let text = std::fs::read_to_string(&self.output).unwrap_or_default();
                (text.matches(needle).count() >= times).then_some(text)
            },
        )
    }

    /// What baresip received (its `dump-*-dec.wav`), once it is closed at the call's end.
    pub fn heard(&self) -> (Vec<i16>, u32) {
        read_mono(&baresip_dump(&self.dumps, Duration::from_secs(10)))
    }

    /// Stops baresip (its dumps are closed at call end, before this).
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends one ctrl_tcp command (a netstring of JSON) to the baresip whose control port is
/// `port` and waits for its response, so the command has been executed when this returns.
fn baresip_command(port: u16, command: &str, params: &str) {
    use std::io::{Read, Write};
    let mut stream = wait_for(
        &format!("baresip's ctrl_tcp on port {port}"),
        Duration::from_secs(10),
        || std::net::TcpStream::connect(("127.0.0.1", port)).ok(),
    );
    let json =
        serde_json::json!({ "command": command, "params": params, "token": "test" }).to_string();
    stream
        .write_all(format!("{}:{json},", json.len()).as_bytes())
        .expect("write ctrl_tcp");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    // the response, or an event, names the token or says ok; any reply means it ran
    let mut reply = [0u8; 512];
    let n = stream.read(&mut reply).unwrap_or(0);
    let reply = String::from_utf8_lossy(&reply[..n]);
    assert!(
        !reply.contains("\"ok\":false"),
        "baresip refused {command} {params}: {reply}"
    );
}

/// Starts a baresip that dials and waits until `placed` sees its call; one that placed no
/// call in 8 s (seen with start-up `/dial`, before ctrl_tcp dialling) is started again, up to
/// three starts.
pub fn dialling<T>(
    mut start: impl FnMut() -> Baresip,
    mut placed: impl FnMut() -> Option<T>,
) -> (Baresip, T) {
    for _ in 0..3 {
        let phone = start();
        let deadline = Instant::now() + Duration::from_secs(8);
        while Instant::now() < deadline {
            if let Some(v) = placed() {
                return (phone, v);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("baresip placed no call within 8 s; starting it again");
        phone.stop();
    }
    panic!("baresip placed no call in three starts");
}

/// `src` followed by `secs` of silence, at 8 kHz for baresip: the call lasts as long as that.
pub fn padded(src: &Path, secs: u32, dir: &Path, name: &str) -> PathBuf {
    let out = dir.join(name);
    let status = Command::new("sox")
        .arg(src)
        .arg(&out)
        .args(["pad", "0", &secs.to_string()])
        .status()
        .expect("sox");
    assert!(status.success(), "sox pad failed");
    out
}

/// A demo patient (id, full number) as a supervisor sees it, chosen by `pick`.
pub fn demo_patients(supervisor: &Client) -> Vec<serde_json::Value> {
    let r = supervisor.get("/api/v1/patients?limit=200");
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("patients list: {}", r.body))
}

/// A call row with its log, as the API returns it.
pub fn call(client: &Client, id: &str) -> serde_json::Value {
    let r = client.get(&format!("/api/v1/calls/{id}"));
    assert_eq!(r.status, 200, "GET call {id}: {}", r.body);
    r.body
}

/// Whether `rec` holds the speech of `reference` (both 8 kHz), forgiving small shifts: the
/// worst, over the 2 s chunks of `reference` that carry speech, of each chunk's envelope
/// correlation with `rec` at a lag that follows the previous chunk's within ±200 ms (the first
/// chunk within ±500 ms of the whole file's best lag).
///
/// One correlation over the whole file is fragile on a loaded machine: when the sender stalls,
/// the recorder's jitter buffer underruns, writes silence and primes again, shifting the rest
/// of the channel by ~80 ms each time, and the whole-file correlation drops to ~0.65 though
/// every word is there. Following the lag chunk by chunk forgives such shifts, while the
/// narrow windows keep other speech from matching by chance (see the self-test in
/// `call_inbound`).
pub fn chunked_match(reference: &[i16], rec: &[i16]) -> f64 {
    use suifang::media::envelope::{best_lag_correlation, pearson, rms_envelope};
    const CHUNK: usize = 100; // 20 ms frames
    let a = rms_envelope(reference, 8000, 20);
    let b = rms_envelope(rec, 8000, 20);
    let mut lag = best_lag_correlation(&a, &b, 100).lag_frames;
    let mut slack = 25;
    let loud = a.iter().copied().fold(0.0, f64::max);
    let mut worst = f64::INFINITY;
    for start in (0..a.len()).step_by(CHUNK) {
        let part = &a[start..(start + CHUNK).min(a.len())];
        let speech = part.iter().filter(|&&e| e > loud * 0.1).count();
        if part.len() < CHUNK / 2 || speech < part.len() / 4 {
            continue; // a short tail or a pause: nothing to find
        }
        let (best, at_lag) = (lag - slack..=lag + slack)
            .filter_map(|l| {
                let at = usize::try_from(start as i64 + l).ok()?;
                let window = b.get(at..at + part.len())?;
                Some((pearson(part, window), l))
            })
            .fold(
                (f64::NEG_INFINITY, lag),
                |x, y| if y.0 > x.0 { y } else { x },
            );
        worst = worst.min(best.max(-1.0));
        lag = at_lag;
        slack = 10;
    }
    assert!(worst.is_finite(), "the reference holds no speech");
    worst
}
