//! Phone numbers stay out of the server's log: a patient's call-back is logged with the
//! number masked (STYLE.md §9).

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{command, Client, Server};

#[test]
fn a_call_back_is_logged_without_the_patients_number() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = command(dir.path());
    c.arg("demo")
        .env("SUIFANG_TRANSCRIPTION", "off")
        // the phone below calls in through the carrier's network (only the trunk may)
        .env("SUIFANG_SIP_TRUNK_ALLOW", "127.0.0.1/32")
        .env("SUIFANG_LOG", "info")
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped());
    let mut server = Server::spawn(c, dir.path(), Duration::from_secs(30));
    let sip: std::net::SocketAddr = server
        .wait_stdout_line("suifang SIP is listening on udp:", Duration::from_secs(10))
        .rsplit("udp:")
        .next()
        .and_then(|a| a.trim().parse().ok())
        .expect("the SIP address");
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = log.clone();
    let err = server.child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    let logged = |needle: &str| log.lock().unwrap().iter().any(|l| l.contains(needle));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !logged("suifang listening") {
        assert!(
            Instant::now() < deadline,
            "no start-up: {:?}",
            log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let supervisor = Client::login(&server, "supervisor", "supervisor-demo-1");
    let number = supervisor.get("/api/v1/patients").body["items"][0]["phone"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(number.starts_with('+') && !number.contains('*'), "{number}");

    // the patient's phone calls the hospital (RFC 3261 INVITE with a G.711 offer)
    let phone = UdpSocket::bind("127.0.0.1:0").unwrap();
    let me = phone.local_addr().unwrap();
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
               m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n";
    let invite = format!(
        "INVITE sip:hotline@{sip} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bK-edge-mask-1;rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{number}@{me}>;tag=edge1\r\n\
         To: <sip:hotline@{sip}>\r\n\
         Call-ID: edge-mask-1@127.0.0.1\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:{number}@{me}>\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    phone.send_to(invite.as_bytes(), sip).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !logged("call-back") {
        assert!(
            Instant::now() < deadline,
            "the call-back was never logged: {:?}",
            log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let masked = suifang::followup::phone::mask(&number);
    let lines = log.lock().unwrap().clone();
    let callback = lines.iter().find(|l| l.contains("call-back")).unwrap();
    assert!(callback.contains(&masked), "{callback}");
    let digits = number.trim_start_matches('+');
    assert!(
        lines.iter().all(|l| !l.contains(digits)),
        "the whole number is in the log: {:?}",
        lines
            .iter()
            .filter(|l| l.contains(digits))
            .collect::<Vec<_>>()
    );
}
