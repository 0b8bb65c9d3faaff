//! Phone numbers stay out of the server's log: a patient's call-back is logged with the
//! number masked (STYLE.md §9).

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::common::{command, free_port, Client, Server};

#[test]
fn a_call_back_is_logged_without_the_patients_number() {
    let dir = tempfile::tempdir().unwrap();
    let (http, sip) = (free_port(), free_port());
    let mut child = command(dir.path())
        .arg("demo")
        .env("SUIFANG_HTTP_ADDR", format!("127.0.0.1:{http}"))
        .env("SUIFANG_SIP_BIND", format!("127.0.0.1:{sip}"))
        .env("SUIFANG_TRANSCRIPTION", "off")
        // the phone below calls in through the carrier's network (only the trunk may)
        .env("SUIFANG_SIP_TRUNK_ALLOW", "127.0.0.1/32")
        .env("SUIFANG_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = log.clone();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{http}"),
        data_dir: dir.path().to_path_buf(),
    };
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
        "INVITE sip:hotline@127.0.0.1:{sip} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bK-edge-mask-1;rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{number}@{me}>;tag=edge1\r\n\
         To: <sip:hotline@127.0.0.1:{sip}>\r\n\
         Call-ID: edge-mask-1@127.0.0.1\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:{number}@{me}>\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    phone
        .send_to(invite.as_bytes(), format!("127.0.0.1:{sip}"))
        .unwrap();
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
