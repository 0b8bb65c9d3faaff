//! The registrar under password guessing (issue "Harden the edge", item 2), against the real
//! `suifang demo` with a 3-second failure window and a raw UDP socket doing digest by hand:
//! five wrong passwords lock the address out (even the right password is refused while
//! locked); the lock-out ends by itself when the window passes, with nobody calling
//! housekeeping; a guess made with a forged nonce gets a fresh stale challenge, not a 403.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use serde_json::json;

use crate::common::call_harness::Suifang;
use crate::common::serial;
use crate::common::wait_for;

const EXTENSION: &str = "1001";
const PASSWORD: &str = "desk-phone-pass-1";

fn md5_hex(s: &str) -> String {
    hex::encode(Md5::digest(s.as_bytes()))
}

/// A REGISTER from `sock`, with an Authorization answering `nonce` with `password` if given.
fn register(sock: &UdpSocket, server: SocketAddr, cseq: u32, auth: Option<(&str, &str)>) -> String {
    let me = sock.local_addr().expect("addr");
    let uri = format!("sip:{server}");
    let authorization = match auth {
        None => String::new(),
        Some((nonce, password)) => {
            let ha1 = md5_hex(&format!("{EXTENSION}:suifang:{password}"));
            let ha2 = md5_hex(&format!("REGISTER:{uri}"));
            let nc = "00000001";
            let cnonce = format!("c{cseq}");
            let response = md5_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
            format!(
                "Authorization: Digest username=\"{EXTENSION}\", realm=\"suifang\", \
                 nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", algorithm=MD5, \
                 qop=auth, nc={nc}, cnonce=\"{cnonce}\"\r\n"
            )
        }
    };
    let req = format!(
        "REGISTER {uri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bKreg{cseq}\r\n\
         From: <sip:{EXTENSION}@{server}>;tag=desk\r\n\
         To: <sip:{EXTENSION}@{server}>\r\n\
         Call-ID: lockout@{me}\r\n\
         CSeq: {cseq} REGISTER\r\n\
         Contact: <sip:{EXTENSION}@{me}>\r\n\
         Expires: 600\r\n\
         Max-Forwards: 70\r\n\
         {authorization}Content-Length: 0\r\n\r\n"
    );
    sock.send_to(req.as_bytes(), server).expect("send");
    sock.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = vec![0u8; 65536];
    let n = sock.recv(&mut buf).expect("an answer");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn status(resp: &str) -> u16 {
    resp.get(8..11)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a response: {resp}"))
}

fn nonce(resp: &str) -> String {
    resp.split("nonce=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("no nonce in {resp}"))
        .to_owned()
}

#[test]
fn a_lock_out_ends_when_its_window_passes_and_forged_nonces_learn_nothing() {
    let _machine = serial::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("suifang.toml");
    std::fs::write(
        &config,
        "[sip]\nregistrar_max_failures = 5\nregistrar_failure_window_seconds = 3\n",
    )
    .expect("config");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    let suifang = Suifang::start(&data, &[("SUIFANG_CONFIG", &config.display().to_string())]);
    let admin = suifang.login("admin", "admin-demo-1");
    let nurse = suifang.login("nurse", "nurse-demo-1");
    let nurse_id = nurse.get("/api/v1/me").body["user"]["id"]
        .as_i64()
        .expect("me");
    let set = admin.put(
        &format!("/api/v1/users/{nurse_id}/sip"),
        json!({"extension": EXTENSION, "password": PASSWORD}),
    );
    assert_eq!(set.status, 200, "{}", set.body);
    let server = suifang.sip;
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    // the registrar loads accounts shortly after the change: wait for a challenge that knows
    // the extension (a right password then registers). Each try is a new transaction: CSeq
    // (and with it the branch) rises across the whole test, as the registrar refuses a lower
    // one on the same Call-ID with 500 (RFC 3261 §10.3 step 7) and a repeated branch would be
    // answered from the transaction cache with the refusal from before the account was loaded.
    let mut cseq = 1;
    wait_for("the account loaded", Duration::from_secs(30), || {
        let ch = register(&sock, server, cseq, None);
        let answer = register(&sock, server, cseq + 1, Some((&nonce(&ch), PASSWORD)));
        cseq += 2;
        (status(&answer) == 200).then_some(())
    });

    // a forged nonce with a wrong password: a fresh stale challenge, not a counted 403
    let forged = register(&sock, server, cseq, Some(("00-deadbeef-forged", "guess")));
    assert_eq!(status(&forged), 401, "{forged}");
    assert!(forged.contains("stale=true"), "{forged}");
    cseq += 1;

    // five wrong passwords: locked
    for _ in 0..5 {
        let ch = register(&sock, server, cseq, None);
        let r = register(&sock, server, cseq + 1, Some((&nonce(&ch), "guess")));
        assert_eq!(status(&r), 403, "{r}");
        cseq += 2;
    }
    let locked_at = Instant::now();
    let ch = register(&sock, server, cseq, None);
    let r = register(&sock, server, cseq + 1, Some((&nonce(&ch), PASSWORD)));
    assert_eq!(
        status(&r),
        403,
        "locked out even with the right password: {r}"
    );
    cseq += 2;

    // the window passes on the real clock: the right password registers again
    let deadline = locked_at + Duration::from_secs(10);
    let accepted_after = loop {
        let ch = register(&sock, server, cseq, None);
        let r = register(&sock, server, cseq + 1, Some((&nonce(&ch), PASSWORD)));
        cseq += 2;
        if status(&r) == 200 {
            break locked_at.elapsed();
        }
        assert_eq!(status(&r), 403, "{r}");
        assert!(Instant::now() < deadline, "still locked 10 s later");
        std::thread::sleep(Duration::from_millis(250));
    };
    eprintln!("locked out for {accepted_after:?} (window 3 s)");
    assert!(
        accepted_after >= Duration::from_millis(1500),
        "the lock-out lasted until the window passed: {accepted_after:?}"
    );
}
