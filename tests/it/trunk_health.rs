//! Acceptance: OPTIONS pings to the trunk. A real softphone (baresip) stands in for the PBX:
//! while it runs, `GET /api/v1/telephony` says the trunk is reachable with the status and round
//! trip of its answer; once it is gone the trunk turns unreachable, and when it is back so is
//! the trunk, without a restart and without a call having to fail first.

use std::time::Duration;

use serde_json::Value;

use crate::common;
use crate::common::call_harness::{padded, Baresip, Suifang};
use crate::common::serial;
use crate::common::sip_peers::{fixtures, free_udp_port, require_baresip};
use crate::common::wait_for;

fn status(client: &common::Client) -> Value {
    let r = client.get("/api/v1/telephony");
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

#[test]
fn the_trunk_is_pinged_and_its_health_follows_the_peer() {
    let _machine = serial::shared();
    if !require_baresip("the_trunk_is_pinged_and_its_health_follows_the_peer") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    let wav = padded(
        &fixtures().join("patient-en-8k.wav"),
        60,
        dir.path(),
        "pbx.wav",
    );
    let trunk_port = free_udp_port();
    let pbx = Baresip::start(&wav, "pbx", trunk_port, None);

    let config = dir.path().join("suifang.toml");
    std::fs::write(&config, "[sip]\noptions_interval_seconds = 2\n").expect("config");
    let trunk = format!("127.0.0.1:{trunk_port}");
    let suifang = Suifang::start(
        &data,
        &[
            ("SUIFANG_SIP_TRUNK", trunk.as_str()),
            ("SUIFANG_DEMO_SIM_PATIENT", "off"),
            ("SUIFANG_CONFIG", &config.display().to_string()),
        ],
    );
    let admin = suifang.login("admin", "admin-demo-1");
    let up = wait_for(
        "the trunk to answer a ping",
        Duration::from_secs(15),
        || {
            let s = status(&admin);
            (s["trunk_reachable"] == true).then_some(s)
        },
    );
    assert!(
        up["trunk_ping_status"].as_u64().is_some_and(|s| s >= 200),
        "a final status: {up}"
    );
    assert!(up["trunk_rtt_ms"].as_u64().is_some(), "{up}");

    pbx.stop();
    wait_for(
        "the silent trunk to be reported",
        Duration::from_secs(20),
        || (status(&admin)["trunk_reachable"] == false).then_some(()),
    );
    assert!(
        status(&admin)["trunk_ping_status"].as_u64().is_some(),
        "the last answer is kept for the admin page"
    );

    let _back = Baresip::start(&wav, "pbx", trunk_port, None);
    wait_for("the trunk to be back", Duration::from_secs(20), || {
        (status(&admin)["trunk_reachable"] == true).then_some(())
    });
}
