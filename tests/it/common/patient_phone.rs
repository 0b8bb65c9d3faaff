//! Audio checks of the browser call tests: the nurse's fake microphone at 8 kHz, and matching a
//! looping microphone clip inside what a patient heard or suifang recorded.

use std::process::Command;

use suifang::media::envelope::speech_match;

use super::repo_root;
use super::sip_peers::read_mono;

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
