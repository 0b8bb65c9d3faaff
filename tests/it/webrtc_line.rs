//! The agent line end to end with a real browser: Debian's headless Chromium (driven by
//! playwright-core, microphone = a WAV of espeak-ng speech) logs in as the demo nurse, connects
//! the line to the real `suifang` binary, runs a line check, and reloads the page.
//!
//! It asserts that (a) the server's line-check WAV contains the microphone's speech (20 ms RMS
//! envelope correlation), (b) the browser heard the playback (getStats packetsReceived and
//! audioLevel on an unmuted element), (c) a reload reconnects the line.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::console::run_bounded;
use crate::common::serial;
use crate::common::{repo_root, Server};

const SECONDS: u32 = 4;
/// The UDP range the test server's lines must use.
const PORT_MIN: u16 = 42000;
const PORT_MAX: u16 = 42999;

fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures/webrtc").join(name)
}

/// Chromium, node and playwright-core must be installed (`scripts/setup.sh` does it).
fn require_browser_tools() {
    let chromium = Path::new("/usr/bin/chromium").exists();
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let playwright = repo_root().join("node_modules/playwright-core").exists();
    assert!(
        chromium && node && playwright,
        "browser test needs Debian's chromium (/usr/bin/chromium: {chromium}), node ({node}) and \
         playwright-core in node_modules ({playwright}); run scripts/setup.sh, which installs them"
    );
}

/// 20 ms RMS envelope of a mono 16-bit WAV at any sample rate.
fn envelope(path: &Path) -> Vec<f64> {
    let mut reader =
        hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spec = reader.spec();
    assert_eq!(spec.channels, 1, "{}: mono expected", path.display());
    let samples: Vec<f64> = reader
        .samples::<i16>()
        .map(|s| f64::from(s.expect("sample")))
        .collect();
    let step = spec.sample_rate as usize / 50;
    samples
        .chunks_exact(step)
        .map(|c| (c.iter().map(|x| x * x).sum::<f64>() / step as f64).sqrt())
        .collect()
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    if n < 10 {
        return 0.0;
    }
    let (a, b) = (&a[..n], &b[..n]);
    let (ma, mb) = (
        a.iter().sum::<f64>() / n as f64,
        b.iter().sum::<f64>() / n as f64,
    );
    let num: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let da: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let db: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    if da == 0.0 || db == 0.0 {
        0.0
    } else {
        num / (da * db).sqrt()
    }
}

/// Best correlation of `recording` against `reference` played in a loop (Chromium's fake
/// microphone loops its file, so the recording may start anywhere in it).
fn looped_correlation(reference: &[f64], recording: &[f64]) -> f64 {
    let looped: Vec<f64> = reference
        .iter()
        .chain(reference)
        .chain(reference)
        .copied()
        .collect();
    (0..reference.len())
        .map(|lag| pearson(&looped[lag..], recording))
        .fold(f64::MIN, f64::max)
}

#[test]
fn envelope_correlation_tells_same_from_other_speech() {
    let _machine = serial::shared();
    let nurse = envelope(&fixture("nurse_en_48k.wav"));
    let other = envelope(&fixture("other_en_8k.wav"));
    // a 3 s slice of the looped speech, starting mid-file, is found again
    let looped: Vec<f64> = nurse.iter().chain(&nurse).copied().collect();
    let slice = &looped[nurse.len() - 60..nurse.len() + 90];
    assert!(looped_correlation(&nurse, slice) > 0.99);
    assert!(looped_correlation(&nurse, &other[..150]) < 0.5);
}

/// One browser run against a fresh server; returns after all assertions. `query` is added
/// to the softphone's URL, `codec` is the mime type the browser must end up receiving.
fn browser_line_check(query: &str, codec: &str) {
    require_browser_tools();
    let dir = tempfile::tempdir().expect("tempdir");
    // a deployment-style [webrtc] table: media only on the configured UDP range
    let config = dir.path().join("suifang.toml");
    std::fs::write(
        &config,
        format!("[webrtc]\nudp_port_min = {PORT_MIN}\nudp_port_max = {PORT_MAX}\n"),
    )
    .expect("write config");
    let config = config.to_string_lossy().to_string();
    let server = Server::start(dir.path(), "demo", &[("SUIFANG_CONFIG", &config)]);
    let mic = fixture("nurse_en_48k.wav");
    let mut node = Command::new("node");
    node.arg(repo_root().join("tests/browser/line_check.js"))
        .arg(&server.base)
        .arg(&mic)
        .args(["nurse", "nurse-demo-1", &SECONDS.to_string()])
        .env("SOFTPHONE_QUERY", query)
        .current_dir(repo_root());
    let (ok, stdout, stderr) = run_bounded(&mut node, Duration::from_secs(120));
    let report: serde_json::Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| {
            panic!("no JSON from line_check.js\nstdout: {stdout}\nstderr: {stderr}")
        });
    assert!(
        ok && report["ok"] == true,
        "browser run failed: {report}\n{stderr}"
    );

    let first = &report["first"];
    assert_eq!(first["connectionState"], "connected", "{first}");
    assert_eq!(first["errors"], serde_json::json!([]), "{first}");
    assert_eq!(first["codec"], codec, "negotiated codec: {first}");
    let remote = first["remoteCandidate"].as_str().unwrap_or_default();
    let port: u16 = remote
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    assert!(
        (PORT_MIN..=PORT_MAX).contains(&port),
        "media must use webrtc.udp_port_min..max, ICE selected {remote}"
    );
    eprintln!("{codec}: ICE selected the server's {remote}");

    // (a) the recording holds the microphone's speech
    let check = &first["lineChecks"][0];
    let relative = check["path"].as_str().expect("line check path");
    assert!(relative.starts_with("line-checks/nurse-"), "{relative}");
    let wav = dir.path().join("recordings").join(relative);
    let recording = envelope(&wav);
    assert!(
        recording.len() >= (SECONDS as usize * 50) * 9 / 10,
        "{} holds {} frames of 20 ms, wanted about {}",
        wav.display(),
        recording.len(),
        SECONDS * 50
    );
    let same = looped_correlation(&envelope(&mic), &recording);
    let other = looped_correlation(&envelope(&fixture("other_en_8k.wav")), &recording);
    eprintln!(
        "{codec} line check: rms={} corr(same)={same:.3} corr(other)={other:.3}",
        check["rms"]
    );
    assert!(
        same >= 0.6,
        "recording does not contain the microphone's speech: corr {same:.3}"
    );
    assert!(same > other + 0.2, "same {same:.3} vs other {other:.3}");
    assert!(check["rms"].as_f64().unwrap_or(0.0) > 0.01, "{check}");

    // (b) the browser heard the playback on its unmuted element
    let packets = first["packetsReceived"].as_u64().unwrap_or(0);
    let level = first["maxAudioLevel"].as_f64().unwrap_or(0.0);
    eprintln!("{codec} browser: packetsReceived={packets} maxAudioLevel={level:.3}");
    assert!(packets >= u64::from(SECONDS) * 40, "{first}");
    assert!(level > 0.01, "no audible playback: {first}");

    // (c) a reload reconnects the line
    let again = &report["after_reload"];
    assert_eq!(again["connectionState"], "connected", "{again}");
    assert_eq!(again["lineState"], "connected", "{again}");
    eprintln!(
        "{codec}: connect {} ms, reconnect after reload {} ms",
        report["connect_ms"], report["reconnect_ms"]
    );
}

/// Chromium offers Opus first; the line answers G.711 (PCMU), so audio can pass to a SIP
/// trunk untouched.
#[test]
fn browser_line_check_over_pcmu_records_plays_back_and_survives_a_reload() {
    let _machine = serial::shared();
    browser_line_check("", "audio/PCMU");
}

/// A browser that will only send Opus: the line decodes and re-encodes it.
#[test]
fn browser_line_check_over_opus() {
    let _machine = serial::shared();
    browser_line_check("codec=opus", "audio/opus");
}
