//! Helpers for integration tests against real SIP peers (sipp) on loopback.

#![allow(dead_code)] // each test binary uses a different subset

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::Command;

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

/// A UDP port that was free a moment ago (even, so port+1 is usually free for RTCP too), and
/// that no TCP socket holds either, in any state: baresip listens for SIP on TCP at the same
/// port, and a port in TIME_WAIT after one of the test's own HTTP requests made it exit with
/// "address in use" (98) on every start.
pub fn free_udp_port() -> u16 {
    for _ in 0..100 {
        let s = UdpSocket::bind("127.0.0.1:0").expect("bind probe socket");
        let port = s.local_addr().expect("local addr").port();
        if port % 2 == 0
            && port < 65000
            && !tcp_port_in_use(port)
            && UdpSocket::bind(("127.0.0.1", port + 1)).is_ok()
            && UdpSocket::bind(("127.0.0.1", port + 2)).is_ok()
        {
            return port;
        }
    }
    panic!("no free even UDP port found");
}

/// Whether a TCP socket (listening, connected or in TIME_WAIT) has `port` as its local port.
fn tcp_port_in_use(port: u16) -> bool {
    let wanted = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|table| {
        std::fs::read_to_string(table).is_ok_and(|text| {
            text.lines().skip(1).any(|line| {
                line.split_whitespace()
                    .nth(1)
                    .is_some_and(|local| local.ends_with(&wanted))
            })
        })
    })
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

/// A free TCP port on loopback (for baresip's ctrl_tcp).
pub fn free_tcp_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind probe listener");
    l.local_addr().expect("local addr").port()
}
