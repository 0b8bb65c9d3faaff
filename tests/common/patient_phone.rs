//! Peers for call-center tests: a baresip patient phone, and the audio checks used on what
//! it heard and what suifang recorded.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::sip_peers::{fixtures, free_tcp_port, free_udp_port, read_mono};
use suifang::media::envelope::speech_match;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A baresip phone that auto-answers calls to `number` on `sip_port`, sends `wav` (hanging up
/// when it ends) and dumps what it hears into `dumps`.
pub struct BaresipPatient {
    child: Child,
    dumps: PathBuf,
    _dir: tempfile::TempDir,
}

impl BaresipPatient {
    pub fn start(wav: &Path, sip_port: u16, number: &str) -> BaresipPatient {
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = dir.path().join("baresip");
        let dumps = dir.path().join("dumps");
        std::fs::create_dir_all(&conf).expect("mkdir");
        std::fs::create_dir_all(&dumps).expect("mkdir");
        let rtp_base = free_udp_port();
        let config = std::fs::read_to_string(fixtures().join("baresip/config"))
            .expect("config")
            .replace("@AUDIO_8K_WAV@", &wav.display().to_string())
            .replace("@RECORD_DIR@", &dumps.display().to_string())
            .replace("127.0.0.1:5080", &format!("127.0.0.1:{sip_port}"))
            .replace("20000-20099", &format!("{rtp_base}-{}", rtp_base + 9))
            .replace("127.0.0.1:4444", &format!("127.0.0.1:{}", free_tcp_port()));
        std::fs::write(conf.join("config"), config).expect("write config");
        let accounts = std::fs::read_to_string(fixtures().join("baresip/accounts"))
            .expect("accounts")
            .replace("127.0.0.1:5080", &format!("127.0.0.1:{sip_port}"))
            // baresip answers only calls to its own account: be the patient's number
            .replace("sip:patient@", &format!("sip:{number}@"));
        std::fs::write(conf.join("accounts"), accounts).expect("write accounts");
        let child = Command::new("baresip")
            .args(["-f", &conf.display().to_string(), "-t", "90"])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start baresip");
        std::thread::sleep(Duration::from_millis(700)); // let it bind
        BaresipPatient {
            child,
            dumps,
            _dir: dir,
        }
    }

    /// What baresip received (its `dump-*-dec.wav`).
    pub fn heard(&self) -> (Vec<i16>, u32) {
        let dec = std::fs::read_dir(&self.dumps)
            .expect("dumps dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with("-dec.wav"))
            .expect("baresip wrote dump-*-dec.wav");
        read_mono(&dec)
    }
}

impl Drop for BaresipPatient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The nurse's fake microphone at 8 kHz, for comparing with what was sent.
pub fn nurse_8k() -> Vec<i16> {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("nurse-8k.wav");
    let status = Command::new("sox")
        .arg(repo_root().join("tests/fixtures/webrtc/nurse_en_48k.wav"))
        .args(["-r", "8000", "-c", "1", "-b", "16"])
        .arg(&out)
        .status()
        .expect("sox");
    assert!(status.success());
    read_mono(&out).0
}

/// Best envelope match of a looping microphone clip anywhere in `rec` (the fake microphone
/// loops, so its phase in the call is arbitrary): the clip, repeated, against windows of `rec`.
pub fn looped_match(clip: &[i16], rec: &[i16]) -> f64 {
    let looped: Vec<i16> = clip.iter().chain(clip).chain(clip).copied().collect();
    (0..4)
        .filter_map(|k| rec.get(k * 12_000..))
        .filter(|r| r.len() > 16_000)
        .map(|r| speech_match(&looped, 8000, r, 8000).corr)
        .fold(f64::MIN, f64::max)
}
