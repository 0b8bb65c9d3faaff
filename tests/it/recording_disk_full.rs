//! A full disk during a call (issue "Harden the edge", item 10): the real `suifang demo` with
//! its recordings folder on a 96 KiB tmpfs; a patient calls back through the trunk (sipp) and
//! leaves a 9-second voicemail (≈ 290 KiB of stereo WAV). The recording stops when the disk is
//! full, but the call goes on to its normal end (sipp's BYE is answered, the greeting keeps
//! playing: no dead air, no leaked call); the recording row is marked with why, its audio up to
//! the failure is repaired and playable, and supervisors get a live `recording.failed` event.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::common::call_harness::{demo_patients, FixedSipp, Suifang, NO_TRUNK_PINGS};
use crate::common::serial;
use crate::common::sip_peers::{fixtures, free_udp_port, require_sipp};
use crate::common::wait_for;

/// A tmpfs of `size` mounted at `dir` (root only: the test command runs as root), unmounted on
/// drop.
struct Tmpfs<'a>(&'a Path);

impl<'a> Tmpfs<'a> {
    fn mount(dir: &'a Path, size: &str) -> Tmpfs<'a> {
        std::fs::create_dir_all(dir).expect("mkdir");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "cannot mount a tmpfs at {} (this test needs root, as scripts/test.sh runs)",
            dir.display()
        );
        Tmpfs(dir)
    }
}

impl Drop for Tmpfs<'_> {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0).status();
    }
}

#[test]
fn a_full_disk_stops_the_recording_not_the_call() {
    let _machine = serial::shared();
    if !require_sipp("a_full_disk_stops_the_recording_not_the_call") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let small = dir.path().join("small-disk");
    let _tmpfs = Tmpfs::mount(&small, "96k");
    let config = dir.path().join("suifang.toml");
    std::fs::write(
        &config,
        format!("recordings_dir = \"{}\"\n", small.display()),
    )
    .expect("config");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    let trunk_port = free_udp_port();
    let trunk = format!("127.0.0.1:{trunk_port}");
    let suifang = Suifang::start(
        &data,
        &[
            ("SUIFANG_CONFIG", &config.display().to_string()),
            ("SUIFANG_SIP_TRUNK", &trunk),
            NO_TRUNK_PINGS,
        ],
    );
    let supervisor = suifang.login("supervisor", "supervisor-demo-1");
    // the supervisors' live feed, read while the call runs
    let events_url = suifang.server.url("/api/v1/events");
    let cookie = supervisor.cookie.clone().expect("cookie");
    let feed = std::thread::spawn(move || {
        let resp = ureq::get(&events_url)
            .set("Cookie", &cookie)
            .timeout(Duration::from_secs(40))
            .call()
            .expect("event stream");
        let mut lines = BufReader::new(resp.into_reader()).lines();
        let mut got = Vec::new();
        while let Some(Ok(line)) = lines.next() {
            if line.contains("recording.failed") {
                got.push(line);
                // the data line follows the event line
                if let Some(Ok(data)) = lines.next() {
                    got.push(data);
                }
                break;
            }
        }
        got
    });

    let patients = demo_patients(&supervisor);
    let number = patients[0]["phone"].as_str().expect("phone");
    let scenario = std::fs::read_to_string(fixtures().join("uac_call_bye.xml"))
        .expect("xml")
        .replace("CALLER_NUMBER", number)
        .replace(
            "<pause milliseconds=\"2000\"/>",
            "<pause milliseconds=\"9000\"/>",
        );
    let mut caller = FixedSipp::uac_from(&scenario, suifang.sip, trunk_port);
    assert_eq!(
        caller.wait(Duration::from_secs(40)),
        Some(0),
        "the call ran to its normal end (BYE answered): {}",
        caller.errors()
    );

    let call = wait_for(
        "the ended call with its marked recording",
        Duration::from_secs(15),
        || {
            let r = supervisor.get("/api/v1/calls").body;
            let id = r["items"].as_array()?.iter().find_map(|c| {
                (c["direction"] == "inbound")
                    .then(|| c["id"].as_str().map(str::to_owned))
                    .flatten()
            })?;
            let call = supervisor.get(&format!("/api/v1/calls/{id}")).body;
            (call["ended_at"].is_i64() && call["recording"]["failure"].is_string()).then_some(call)
        },
    );
    eprintln!("call after the disk filled: {call:#}");
    assert_eq!(call["end_reason"], "voicemail", "{call:#}");
    let recording = &call["recording"];
    assert_eq!(recording["status"], "repaired", "{call:#}");
    let failure = recording["failure"].as_str().expect("failure");
    assert!(failure.contains("No space left"), "{failure}");
    assert!(
        !failure.contains('/'),
        "no server paths in what the API shows: {failure}"
    );
    let ms = recording["duration_ms"].as_i64().expect("duration");
    assert!(
        (500..6000).contains(&ms),
        "the audio up to the full disk is kept: {ms} ms of a 9 s call"
    );
    // the stored path is relative to the recordings folder (here the small disk)
    let wav = small.join(recording["path"].as_str().expect("path"));
    let reader = hound::WavReader::open(&wav).expect("a valid WAV after the repair");
    assert_eq!(reader.spec().channels, 2);
    let live = supervisor.get("/api/v1/calls?live=true").body;
    assert_eq!(live["items"], serde_json::json!([]), "no leaked call");
    let events = feed.join().expect("feed");
    assert!(
        events
            .iter()
            .any(|l| l.contains(call["id"].as_str().expect("id"))),
        "supervisors were told at once: {events:?}"
    );
}
