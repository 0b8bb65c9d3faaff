//! Kannel 1.4.5 as the SMS gateway of the SMS-link tests: bearerbox, smsbox and kannel-extras'
//! fake SMSC (`fakesmsc`) on loopback, on ports picked for this test (TEST-PEERS.md, Kannel;
//! `/work/shared/peers/kannel/` is the recipe). The fake SMSC prints every MT it gets and
//! takes MO lines on a FIFO; its DLRs are always "delivered".

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use super::sip_peers::{free_tcp_port, tcp_port_listening};
use super::wait_for;

pub const FAKESMSC: &str = "/usr/lib/kannel/test/fakesmsc";
pub const USER: &str = "suifang";
pub const PASSWORD: &str = "sms-test-pw";

/// bearerbox + fakesmsc + smsbox, stopped (in that reverse order) on drop.
pub struct Kannel {
    smsbox: Option<Child>,
    fakesmsc: Option<Child>,
    bearerbox: Option<Child>,
    /// fakesmsc's stdin: a FIFO opened read-write here, so it never sees EOF.
    mo: File,
    pub dir: tempfile::TempDir,
}

/// The ports of a Kannel to be, picked before suifang starts (it needs the sendsms URL).
pub struct Ports {
    pub admin: u16,
    pub boxes: u16,
    pub sendsms: u16,
    pub smsc: u16,
}

impl Ports {
    pub fn pick() -> Ports {
        Ports {
            admin: free_tcp_port(),
            boxes: free_tcp_port(),
            sendsms: free_tcp_port(),
            smsc: free_tcp_port(),
        }
    }

    pub fn sendsms_url(&self) -> String {
        format!("http://127.0.0.1:{}/cgi-bin/sendsms", self.sendsms)
    }
}

pub fn require_kannel() {
    assert!(
        Path::new("/usr/sbin/bearerbox").exists() && Path::new(FAKESMSC).exists(),
        "SMS tests need Kannel (bearerbox, smsbox) and kannel-extras' fakesmsc; run scripts/setup.sh"
    );
}

fn conf(p: &Ports, get_url: &str) -> String {
    format!(
        r#"group = core
admin-port = {admin}
admin-interface = 127.0.0.1
admin-password = bar
admin-deny-ip = "*.*.*.*"
admin-allow-ip = "127.0.0.1"
smsbox-port = {boxes}
smsbox-interface = 127.0.0.1
box-deny-ip = "*.*.*.*"
box-allow-ip = "127.0.0.1"
dlr-storage = internal
log-level = 0

group = smsc
smsc = fake
smsc-id = FAKE
port = {smsc}
our-host = 127.0.0.1
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {boxes}
sendsms-port = {sendsms}
sendsms-interface = 127.0.0.1
mo-recode = true
log-level = 0

group = sendsms-user
username = {USER}
password = {PASSWORD}
concatenation = true
max-messages = 5
user-deny-ip = "*.*.*.*"
user-allow-ip = "127.0.0.1"

group = sms-service
keyword = default
catch-all = true
max-messages = 0
accept-x-kannel-headers = true
get-url = "{get_url}"
"#,
        admin = p.admin,
        boxes = p.boxes,
        smsc = p.smsc,
        sendsms = p.sendsms,
    )
}

impl Kannel {
    /// Starts the three on `ports`; MO SMS go to `get_url` (`%p` sender, `%a` text). Returns
    /// once bearerbox reports smsbox connected and the fake SMSC online.
    pub fn start(ports: &Ports, get_url: &str) -> Kannel {
        require_kannel();
        let dir = tempfile::tempdir().expect("tempdir");
        let conf_path = dir.path().join("kannel.conf");
        std::fs::write(&conf_path, conf(ports, get_url)).expect("write kannel.conf");
        let root = dir.path().to_path_buf();
        let log = move |name: &str| File::create(root.join(name)).expect("log file");
        let bearerbox = Command::new("/usr/sbin/bearerbox")
            .args(["-v", "1"])
            .arg(&conf_path)
            .stdout(log("bearerbox.log"))
            .stderr(log("bearerbox.log"))
            .spawn()
            .expect("start bearerbox");
        let mut k = Kannel {
            smsbox: None,
            fakesmsc: None,
            bearerbox: Some(bearerbox),
            mo: File::open("/dev/null").expect("/dev/null"),
            dir,
        };
        let smsc = ports.smsc;
        wait_for(
            "bearerbox's fake SMSC port",
            Duration::from_secs(10),
            || tcp_port_listening(smsc).then_some(()),
        );
        let fifo = k.dir.path().join("fakesmsc.in");
        let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
        assert!(made.success(), "mkfifo {}", fifo.display());
        k.mo = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&fifo)
            .expect("open the fakesmsc FIFO read-write");
        let stdin = k.mo.try_clone().expect("dup FIFO");
        k.fakesmsc = Some(
            Command::new(FAKESMSC)
                .args(["-H", "127.0.0.1", "-r", &smsc.to_string(), "-m", "-1"])
                .stdin(stdin)
                .stdout(log("fakesmsc.log"))
                .stderr(log("fakesmsc.log"))
                .spawn()
                .expect("start fakesmsc"),
        );
        k.smsbox = Some(
            Command::new("/usr/sbin/smsbox")
                .args(["-v", "1"])
                .arg(&conf_path)
                .stdout(log("smsbox.log"))
                .stderr(log("smsbox.log"))
                .spawn()
                .expect("start smsbox"),
        );
        let (admin, sendsms) = (ports.admin, ports.sendsms);
        wait_for(
            "Kannel ready (smsbox connected, fake SMSC online)",
            Duration::from_secs(15),
            || {
                let status =
                    ureq::get(&format!("http://127.0.0.1:{admin}/status.txt?password=bar"))
                        .call()
                        .ok()?
                        .into_string()
                        .ok()?;
                (status.contains("smsbox:(none), IP 127.0.0.1")
                    && status.contains(&format!("FAKE:{smsc} (online"))
                    && tcp_port_listening(sendsms))
                .then_some(())
            },
        );
        k
    }

    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }

    /// The texts the fake SMSC received for `to`, decoded (UCS-2 parts are URL-encoded
    /// UCS-2BE with printable bytes raw; concatenated parts arrive as `udh … data …`).
    pub fn received(&self, to_suffix: &str) -> Vec<String> {
        let log = self.log("fakesmsc.log");
        let mut out = Vec::new();
        let mut parts: Vec<(u8, u8, u8, String)> = Vec::new();
        for line in log.lines() {
            let Some(rest) = line.split_once("Got message ").map(|(_, r)| r) else {
                continue;
            };
            let Some(msg) = rest.split_once(": <").map(|(_, m)| m.trim_end_matches('>')) else {
                continue;
            };
            let mut f = msg.splitn(4, ' ');
            let (_from, dest, kind, body) = (f.next(), f.next(), f.next(), f.next().unwrap_or(""));
            if !dest.is_some_and(|d| d.ends_with(to_suffix)) {
                continue;
            }
            match kind {
                Some("text") => out.push(body.to_string()),
                Some("ucs-2") => out.push(ucs2(body)),
                Some("udh") => {
                    // "<udh> data <data>": UDH 05 00 03 ref total index; a part of a Chinese
                    // text is UCS-2 (it has NUL bytes), of a Latin one the text itself
                    let (udh, data) = body.split_once(" data ").unwrap_or(("", body));
                    let udh = decode(udh);
                    if udh.len() >= 6 {
                        let raw = decode(data);
                        let text = if raw.contains(&0) {
                            ucs2(data)
                        } else {
                            String::from_utf8_lossy(&raw).into_owned()
                        };
                        parts.push((udh[3], udh[4], udh[5], text));
                        let (r, total) = (udh[3], udh[4]);
                        let mut mine: Vec<_> = parts.iter().filter(|p| p.0 == r).collect();
                        if mine.len() == total as usize {
                            mine.sort_by_key(|p| p.2);
                            out.push(mine.iter().map(|p| p.3.as_str()).collect());
                            parts.retain(|p| p.0 != r);
                        }
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// A patient's SMS to the hospital, through the fake SMSC (`ucs2`: Chinese text).
    pub fn send_mo(&mut self, from: &str, to: &str, text: &str) {
        let line = if text.is_ascii() {
            format!("{from} {to} text {text}\n")
        } else {
            let hex: String = text
                .encode_utf16()
                .flat_map(|u| u.to_be_bytes())
                .map(|b| format!("%{b:02X}"))
                .collect();
            format!("{from} {to} ucs2 {hex}\n")
        };
        self.mo
            .write_all(line.as_bytes())
            .expect("write MO to fakesmsc");
    }
}

fn decode(s: &str) -> Vec<u8> {
    let s = s.replace('+', " ");
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn ucs2(s: &str) -> String {
    let bytes = decode(s);
    let units: Vec<u16> = bytes
        .chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}

fn stop(child: &mut Option<Child>) {
    if let Some(mut c) = child.take() {
        // SIGTERM first: bearerbox and smsbox shut down cleanly on it
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        for _ in 0..50 {
            if matches!(c.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = c.kill();
        let _ = c.wait();
    }
}

impl Drop for Kannel {
    fn drop(&mut self) {
        // fakesmsc before bearerbox, or it dies with "free(): double free"
        stop(&mut self.smsbox);
        stop(&mut self.fakesmsc);
        stop(&mut self.bearerbox);
    }
}
