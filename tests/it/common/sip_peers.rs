//! Helpers for integration tests against real SIP peers (sipp) on loopback.

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The fixtures directory of the SIP tests.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sip")
}

/// True when `sipp` is on PATH. A test that needs it must not silently pass without it:
/// it fails unless `SUIFANG_SKIP_MISSING_PEERS=1`, in which case it prints SKIPPED.
pub fn require_sipp(test: &str) -> bool {
    let found = Command::new("sipp").arg("-v").output().is_ok();
    if found {
        return true;
    }
    if std::env::var("SUIFANG_SKIP_MISSING_PEERS").as_deref() == Ok("1") {
        eprintln!("SKIPPED {test}: sipp is not installed (apt-get install sip-tester)");
        return false;
    }
    panic!(
        "{test} needs sipp (apt-get install sip-tester); set SUIFANG_SKIP_MISSING_PEERS=1 to skip"
    );
}

/// A UDP port for a test peer (sipp, baresip, a trunk), even so port+1 is free for RTCP too,
/// and held by no TCP socket in any state: baresip listens for SIP on TCP at the same port,
/// and a port in TIME_WAIT after one of the test's own HTTP requests made it exit with
/// "address in use" (98) on every start.
///
/// Taken *below* the kernel's ephemeral range: a peer often binds its port only after the
/// server has started (the trunk's address is fixed at start-up and successive sipps take
/// turns on it), and a port from the ephemeral range could meanwhile be handed to any port-0
/// bind, such as the server's RTP sockets (seen once in CI as "timed out waiting for udp port
/// 59372 to be bound"). Test processes running side by side are kept off each other's ports by
/// an advisory lock file per port, held for this process's life.
pub fn free_udp_port() -> u16 {
    let (ephemeral_low, _) = ephemeral_range();
    let low = 20_000u16.min(ephemeral_low.saturating_sub(4_000));
    let high = ephemeral_low.saturating_sub(4);
    for _ in 0..1_000 {
        let port = rand::Rng::gen_range(&mut rand::thread_rng(), low..high) & !1;
        if !tcp_port_in_use(port)
            && (0..3).all(|i| UdpSocket::bind(("127.0.0.1", port + i)).is_ok())
            && reserve(port)
        {
            return port;
        }
    }
    panic!("no free even UDP port found in {low}..{high}");
}

/// The kernel's ephemeral port range (`net.ipv4.ip_local_port_range`), Linux's default when
/// it cannot be read.
fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| {
            let mut it = text.split_whitespace().map(|n| n.parse::<u16>().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32_768, 60_999))
}

/// Claims `port` for this test process: a file named after it holding our pid, created only
/// if absent. A file left by a process that has exited (a killed run) is taken over; a port
/// this process already handed out is not handed out again.
fn reserve(port: u16) -> bool {
    let dir = std::env::temp_dir().join("suifang-test-ports");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(port.to_string());
    let me = std::process::id();
    for _ in 0..2 {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut file) => {
                use std::io::Write;
                return file.write_all(me.to_string().as_bytes()).is_ok();
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let holder = std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|s| s.trim().parse::<u32>().ok());
                match holder {
                    Some(pid) if pid == me => return false,
                    Some(pid) if Path::new(&format!("/proc/{pid}")).exists() => return false,
                    // being written by a racing process this very moment
                    None if std::fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .is_ok_and(|t| {
                            t.elapsed().unwrap_or_default() < Duration::from_secs(10)
                        }) =>
                    {
                        return false
                    }
                    // the holder has exited (a killed run): take the port over
                    _ => {
                        let _ = std::fs::remove_file(&path);
                    }
                }
            }
            Err(_) => return false,
        }
    }
    false
}

/// Whether a TCP socket (listening, connected or in TIME_WAIT) has `port` as its local port.
fn tcp_port_in_use(port: u16) -> bool {
    socket_table_has(&["/proc/net/tcp", "/proc/net/tcp6"], port, None)
}

/// Whether some socket is bound to UDP `port` (any address). Read from the kernel's socket
/// table rather than by trying to bind the port: a probe that binds would, for that moment,
/// make the peer we are waiting for fail to bind it.
pub fn udp_port_bound(port: u16) -> bool {
    socket_table_has(&["/proc/net/udp", "/proc/net/udp6"], port, None)
}

/// Whether a TCP socket listens on `port` (read from the kernel's table, as above: a probe
/// connection would be the peer's first client).
pub fn tcp_port_listening(port: u16) -> bool {
    const LISTEN: &str = "0A";
    socket_table_has(&["/proc/net/tcp", "/proc/net/tcp6"], port, Some(LISTEN))
}

/// Whether a row of these `/proc/net` socket tables has local port `port` (and, if given,
/// the state, in the kernel's hex: `0A` is LISTEN).
fn socket_table_has(tables: &[&str], port: u16, state: Option<&str>) -> bool {
    let wanted = format!(":{port:04X}");
    tables.iter().any(|table| {
        std::fs::read_to_string(table).is_ok_and(|text| {
            text.lines().skip(1).any(|line| {
                let mut fields = line.split_whitespace();
                let local = fields.nth(1);
                let st = fields.nth(1);
                local.is_some_and(|l| l.ends_with(&wanted))
                    && state.is_none_or(|want| st == Some(want))
            })
        })
    })
}

/// baresip's recording of what it received (`dump-*-dec.wav` in `dumps`), once sndfile has
/// closed it. The file appears when the call's audio starts, but its RIFF header gives the
/// real sizes only when it is closed at the call's end: read before, it holds no samples.
pub fn baresip_dump(dumps: &Path, limit: std::time::Duration) -> PathBuf {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let closed = std::fs::read_dir(dumps)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with("-dec.wav") && wav_closed(p));
        if let Some(path) = closed {
            return path;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "baresip wrote no complete dump-*-dec.wav in {} within {limit:?}",
            dumps.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Whether a WAV file's RIFF size covers the whole file (its writer has closed it) and it
/// holds more than a header.
fn wav_closed(path: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    bytes.len() > 44
        && &bytes[..4] == b"RIFF"
        && u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize == bytes.len() - 8
}

/// Reads a mono 16-bit WAV.
pub fn read_mono(path: &Path) -> (Vec<i16>, u32) {
    let mut r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(r.spec().channels, 1, "{} must be mono", path.display());
    let rate = r.spec().sample_rate;
    (
        r.samples::<i16>().map(|s| s.expect("sample")).collect(),
        rate,
    )
}

/// Reads a stereo 16-bit WAV into (left, right).
pub fn read_stereo(path: &Path) -> (Vec<i16>, Vec<i16>, u32) {
    let mut r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(r.spec().channels, 2, "{} must be stereo", path.display());
    let rate = r.spec().sample_rate;
    let all: Vec<i16> = r.samples::<i16>().map(|s| s.expect("sample")).collect();
    let left = all.iter().step_by(2).copied().collect();
    let right = all.iter().skip(1).step_by(2).copied().collect();
    (left, right, rate)
}

/// A running sipp process playing one scenario as a UAS on loopback.
pub struct Sipp {
    /// The child process.
    pub child: std::process::Child,
    /// Its SIP port.
    pub sip_port: u16,
    _dir: tempfile::TempDir,
}

impl Sipp {
    /// Writes `scenario` to a temp dir and starts `sipp -m 1` on free ports.
    pub fn uas(scenario: &str) -> Self {
        Self::uas_with_args(scenario, &[])
    }

    /// Like [`Sipp::uas`] with extra sipp arguments (e.g. `-rtp_echo`).
    pub fn uas_with_args(scenario: &str, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("scenario.xml");
        std::fs::write(&path, scenario).expect("write scenario");
        let sip_port = free_udp_port();
        let media_port = free_udp_port();
        let child = Command::new("sipp")
            .args([
                "-sf",
                &path.display().to_string(),
                "-i",
                "127.0.0.1",
                "-p",
                &sip_port.to_string(),
            ])
            .args([
                "-mi",
                "127.0.0.1",
                "-mp",
                &media_port.to_string(),
                "-m",
                "1",
                "-nostdin",
                "-trace_err",
            ])
            .args(extra)
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start sipp");
        Self {
            child,
            sip_port,
            _dir: dir,
        }
    }

    /// Starts sipp as a UAC (`-m 1`) calling `remote` with `scenario`.
    pub fn uac(scenario: &str, remote: std::net::SocketAddr) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("scenario.xml");
        std::fs::write(&path, scenario).expect("write scenario");
        let sip_port = free_udp_port();
        let media_port = free_udp_port();
        let child = Command::new("sipp")
            .arg(remote.to_string())
            .args([
                "-sf",
                &path.display().to_string(),
                "-s",
                "hotline",
                "-i",
                "127.0.0.1",
            ])
            .args([
                "-p",
                &sip_port.to_string(),
                "-mi",
                "127.0.0.1",
                "-mp",
                &media_port.to_string(),
            ])
            .args(["-m", "1", "-nostdin", "-trace_err"])
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start sipp");
        Self {
            child,
            sip_port,
            _dir: dir,
        }
    }

    /// Waits up to `limit` for sipp to exit; its exit code (0 = scenario passed), or `None`
    /// after killing it on timeout.
    pub fn wait(&mut self, limit: std::time::Duration) -> Option<i32> {
        let start = std::time::Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// True when `baresip` is on PATH (same skip rule as [`require_sipp`]).
pub fn require_baresip(test: &str) -> bool {
    let found = Command::new("baresip").arg("-h").output().is_ok();
    if found {
        return true;
    }
    if std::env::var("SUIFANG_SKIP_MISSING_PEERS").as_deref() == Ok("1") {
        eprintln!("SKIPPED {test}: baresip is not installed (apt-get install baresip)");
        return false;
    }
    panic!(
        "{test} needs baresip (apt-get install baresip); set SUIFANG_SKIP_MISSING_PEERS=1 to skip"
    );
}

/// A free TCP port for a peer to listen on (baresip's ctrl_tcp, sipp over TCP): one of
/// [`free_udp_port`]'s, which are also free of TCP sockets, for the same reason: the peer
/// binds it later, and a port probed free in the ephemeral range could be taken meanwhile.
pub fn free_tcp_port() -> u16 {
    free_udp_port()
}
