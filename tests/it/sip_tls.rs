//! Acceptance (issue 21 item 5): SIP over TLS and SDES-SRTP to the trunk, against a real
//! baresip "patient" with `mediaenc=srtp-mand` and certificates made here (rcgen).
//!
//! - `trunk_media_and_signalling_are_encrypted`: a call over TLS is answered and carries audio
//!   both ways (our recording holds baresip's speech, baresip decrypted ours), while the
//!   packets captured on loopback between the two RTP ports are SRTP — each 10 bytes longer
//!   than the RTP it carries (the HMAC-SHA1-80 tag) and not the PCMU silence we sent.
//! - `untrusted_trunk_certificate_is_refused`: a trunk whose certificate another CA signed
//!   fails the call at once with a certificate error; nothing reaches it in the clear.
//!
//! Today's main has no `Transport::Tls`, no TLS settings and no SRTP: neither test builds
//! there, and a plain-RTP engine would fail the length/payload checks.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use suifang::calls::{Engine, EngineConfig, EngineEvent, TlsSettings};
use suifang::media::envelope::speech_match;
use suifang::sip::sdes::SrtpPolicy;
use suifang::sip::ua::{CallEvent, CallOutcome, Transport};
use suifang::sip::uri::SipUri;

use crate::common::serial;
use crate::common::sip_peers::{
    baresip_dump, fixtures, free_tcp_port, free_udp_port, read_mono, read_stereo, require_baresip,
};

/// A CA and one certificate it signs for 127.0.0.1, written as PEM files under `dir`.
struct Pki {
    ca: PathBuf,
    /// Certificate + key in one file (baresip's `sip_certificate`).
    combined: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn make_pki(dir: &Path, name: &str) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("{name} test CA"));
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca cert");
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().expect("leaf key");
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).expect("leaf params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("{name} sip"));
    let cert = params.signed_by(&key, &issuer).expect("leaf cert");
    let pki = Pki {
        ca: dir.join(format!("{name}-ca.pem")),
        combined: dir.join(format!("{name}-combined.pem")),
        cert: dir.join(format!("{name}-cert.pem")),
        key: dir.join(format!("{name}-key.pem")),
    };
    std::fs::write(&pki.ca, ca_cert.pem()).expect("write ca");
    std::fs::write(&pki.cert, cert.pem()).expect("write cert");
    std::fs::write(&pki.key, key.serialize_pem()).expect("write key");
    std::fs::write(
        &pki.combined,
        format!("{}{}", cert.pem(), key.serialize_pem()),
    )
    .expect("write combined");
    pki
}

/// A running baresip: its process, its ctrl_tcp port and the file its output goes to.
struct Peer {
    child: Child,
    ctrl_port: u16,
    out: PathBuf,
}

impl Peer {
    /// Dials `target` over ctrl_tcp (netstring JSON) once baresip is up.
    fn dial(&self, target: &str) {
        use std::io::Write;
        let mut stream =
            std::net::TcpStream::connect(("127.0.0.1", self.ctrl_port)).expect("baresip ctrl_tcp");
        let json = format!(r#"{{"command":"dial","params":"{target}","token":"t"}}"#);
        stream
            .write_all(format!("{}:{json},", json.len()).as_bytes())
            .expect("write ctrl_tcp");
    }

    /// Waits until baresip's output contains `needle`.
    fn wait_for_output(&self, needle: &str, limit: Duration) -> String {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let text = std::fs::read_to_string(&self.out).unwrap_or_default();
            if text.contains(needle) {
                return text;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "baresip never printed {needle:?}:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// baresip auto-answering over TLS (at `sip_port + 1`), with mandatory SRTP when `srtp`,
/// sending `wav` and dumping what it decrypts into `dumps`.
fn start_baresip(
    dir: &Path,
    trunk: &Pki,
    (sip_port, rtp_base): (u16, u16),
    wav: &Path,
    srtp: bool,
) -> Peer {
    let ctrl_port = free_tcp_port();
    let conf = dir.join("baresip");
    let dumps = dir.join("dumps");
    std::fs::create_dir_all(&conf).expect("mkdir");
    std::fs::create_dir_all(&dumps).expect("mkdir");
    let mut config = std::fs::read_to_string(fixtures().join("baresip/config"))
        .expect("config")
        .replace("@AUDIO_8K_WAV@", &wav.display().to_string())
        .replace("@RECORD_DIR@", &dumps.display().to_string())
        .replace("127.0.0.1:5080", &format!("127.0.0.1:{sip_port}"))
        .replace("20000-20099", &format!("{rtp_base}-{}", rtp_base + 9))
        .replace("127.0.0.1:4444", &format!("127.0.0.1:{ctrl_port}"));
    config.push_str(&format!(
        "module\t\t\tsrtp.so\nsip_certificate\t\t{}\nsip_cafile\t\t{}\n",
        trunk.combined.display(),
        trunk.ca.display()
    ));
    std::fs::write(conf.join("config"), config).expect("write config");
    std::fs::write(
        conf.join("accounts"),
        format!(
            "<sip:patient@127.0.0.1:{sip_port};transport=tls>;regint=0;answermode=auto;\
             audio_codecs=PCMU{}\n",
            if srtp { ";mediaenc=srtp-mand" } else { "" }
        ),
    )
    .expect("write accounts");
    let out = dir.join("baresip.out");
    let child = Command::new("baresip")
        .args(["-f", &conf.display().to_string(), "-t", "40"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).expect("baresip output file"))
        .stderr(Stdio::null())
        .spawn()
        .expect("start baresip");
    // ready when its TLS listener is
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", sip_port + 1)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "baresip did not listen for TLS"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Peer {
        child,
        ctrl_port,
        out,
    }
}

fn tls_engine(recordings: PathBuf, ours: &Pki, trusted_ca: &Path) -> EngineConfig {
    let mut cfg = EngineConfig::loopback(recordings);
    cfg.transport = Transport::Tls;
    cfg.srtp = SrtpPolicy::Mandatory;
    cfg.tls = Some(TlsSettings {
        certificate: ours.cert.clone(),
        private_key: ours.key.clone(),
        ca: Some(trusted_ca.to_path_buf()),
        verify: true,
        server_name: "127.0.0.1".into(),
    });
    cfg
}

/// tshark capturing UDP on loopback into a file (needs CAP_NET_RAW, as root in CI).
struct Capture {
    child: Child,
    file: PathBuf,
}

impl Capture {
    fn start(dir: &Path, filter: &str) -> Capture {
        let file = dir.join("rtp.pcapng");
        let started = dir.join("tshark.err");
        let child = Command::new("tshark")
            .args(["-i", "lo", "-q", "-f", filter, "-w"])
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&started).expect("stderr file"))
            .spawn()
            .expect("tshark (apt-get install tshark) for the wire check");
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let text = std::fs::read_to_string(&started).unwrap_or_default();
            if text.contains("Capturing on") {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "tshark did not start capturing: {text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Capture { child, file }
    }

    /// Stops the capture; each packet as (source port, UDP payload).
    fn packets(mut self) -> Vec<(u16, Vec<u8>)> {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        let out = Command::new("tshark")
            .args(["-r"])
            .arg(&self.file)
            .args(["-T", "fields", "-e", "udp.srcport", "-e", "udp.payload"])
            .output()
            .expect("tshark -r");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let (port, hex) = l.split_once('\t')?;
                Some((port.parse().ok()?, hex::decode(hex.replace(':', "")).ok()?))
            })
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trunk_media_and_signalling_are_encrypted() {
    let _machine = serial::exclusive();
    if !require_baresip("trunk_media_and_signalling_are_encrypted") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = make_pki(dir.path(), "hospital");
    let patient_wav = fixtures().join("patient-en-8k.wav");
    let (patient, _) = read_mono(&patient_wav);
    let (sip_port, rtp_base) = (free_udp_port(), free_udp_port());
    let capture = Capture::start(
        dir.path(),
        &format!("udp and portrange {rtp_base}-{}", rtp_base + 9),
    );
    let baresip = start_baresip(dir.path(), &pki, (sip_port, rtp_base), &patient_wav, true);

    let recordings = dir.path().join("recordings");
    let mut engine = Engine::start(tls_engine(recordings, &pki, &pki.ca))
        .await
        .expect("engine");
    let target = SipUri::parse(&format!(
        "sip:patient@127.0.0.1:{};transport=tls",
        sip_port + 1
    ))
    .expect("uri");
    // we send PCMU silence (0xFF bytes): easy to see on the wire if it were not encrypted
    let call = engine
        .place_call(target, "tls-call-1", Arc::new(vec![0; 8000 * 20]))
        .await
        .expect("place call");
    let (mut answered, mut outcome, mut recording) = (false, None, None);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    while recording.is_none() {
        let ev = tokio::time::timeout_at(deadline, engine.next_event())
            .await
            .expect("call finished within 40 s")
            .expect("engine alive");
        match ev {
            EngineEvent::Call { call: c, event } if c == call => match event {
                CallEvent::Answered { media } => {
                    assert!(media.crypto.is_some(), "baresip's answer carries its key");
                    answered = true;
                }
                CallEvent::Ended { outcome: o, .. } => outcome = Some(o),
                _ => {}
            },
            EngineEvent::Recording { info, .. } => recording = Some(info),
            EngineEvent::TransportFailed { error, .. } => panic!("TLS failed: {error}"),
            EngineEvent::MediaFailed { error, .. } => panic!("media failed: {error}"),
            _ => {}
        }
    }
    engine.shutdown().await;
    baresip.stop();
    let packets = capture.packets();

    assert!(answered, "answered over TLS with SRTP");
    assert!(
        matches!(outcome, Some(CallOutcome::Completed { .. })),
        "{outcome:?}"
    );
    // the recording holds what baresip sent, decrypted
    let (_, right, rate) = read_stereo(&recording.expect("recording").path);
    let m = speech_match(&patient, 8000, &right, rate);
    eprintln!("our right channel ~ baresip's audio: {m:?}");
    assert!(m.corr > 0.6, "patient on the right channel: {m:?}");
    // baresip decrypted ours: its dump of what it received exists and has a call's length
    let dec = baresip_dump(&dir.path().join("dumps"), Duration::from_secs(10));
    let (heard, _) = read_mono(&dec);
    assert!(
        heard.len() > 8000 * 3,
        "baresip heard {} samples",
        heard.len()
    );

    // the wire: 20 ms PCMU is 12 + 160 bytes as RTP, 12 + 160 + 10 as SRTP
    let from_baresip: Vec<_> = packets
        .iter()
        .filter(|(p, _)| (rtp_base..=rtp_base + 9).contains(p))
        .collect();
    let to_baresip: Vec<_> = packets
        .iter()
        .filter(|(p, _)| !(rtp_base..=rtp_base + 9).contains(p))
        .collect();
    eprintln!(
        "captured {} packets from baresip, {} from suifang",
        from_baresip.len(),
        to_baresip.len()
    );
    assert!(
        from_baresip.len() > 100 && to_baresip.len() > 100,
        "media both ways was captured"
    );
    let ours: Vec<_> = to_baresip
        .iter()
        .filter(|(_, d)| d.len() >= 12 && d[1] & 0x7f == 0)
        .collect();
    assert!(ours.len() > 100, "PCMU-typed packets from suifang");
    for (_, d) in &ours {
        assert_eq!(d.len(), 12 + 160 + 10, "SRTP with an 80-bit tag");
        let silence = d[12..172].iter().filter(|&&b| b == 0xFF).count();
        assert!(silence < 20, "the payload is not our PCMU silence in clear");
    }
    let theirs: Vec<_> = from_baresip
        .iter()
        .filter(|(_, d)| d.len() >= 12 && d[1] & 0x7f == 0)
        .collect();
    assert!(
        theirs.iter().all(|(_, d)| d.len() == 12 + 160 + 10),
        "baresip's packets carry the tag too"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_trunk_certificate_is_refused() {
    let _machine = serial::shared();
    if !require_baresip("untrusted_trunk_certificate_is_refused") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let hospital = make_pki(dir.path(), "hospital");
    let rogue = make_pki(dir.path(), "rogue");
    let (sip_port, rtp_base) = (free_udp_port(), free_udp_port());
    let wav = fixtures().join("patient-en-8k.wav");
    // the "trunk" presents a certificate for 127.0.0.1 that the hospital's CA did not sign
    let baresip = start_baresip(dir.path(), &rogue, (sip_port, rtp_base), &wav, true);
    let capture = Capture::start(
        dir.path(),
        &format!("port {sip_port} or portrange {rtp_base}-{}", rtp_base + 9),
    );
    let mut engine = Engine::start(tls_engine(
        dir.path().join("recordings"),
        &hospital,
        &hospital.ca,
    ))
    .await
    .expect("engine");
    let target = SipUri::parse(&format!(
        "sip:patient@127.0.0.1:{};transport=tls",
        sip_port + 1
    ))
    .expect("uri");
    let started = tokio::time::Instant::now();
    let call = engine
        .place_call(target, "tls-rogue-1", Arc::new(vec![0; 8000]))
        .await
        .expect("place call");
    let (mut failure, mut outcome) = (None, None);
    while outcome.is_none() {
        // Timer B would end it after 32 s; a refused handshake must end it at once
        let ev = tokio::time::timeout(Duration::from_secs(10), engine.next_event())
            .await
            .expect("the call ended within 10 s")
            .expect("engine alive");
        match ev {
            EngineEvent::TransportFailed { error, .. } => failure = Some(error),
            EngineEvent::Call { call: c, event } if c == call => match event {
                CallEvent::Answered { .. } => panic!("a call to an untrusted trunk was answered"),
                CallEvent::Ended { outcome: o, .. } => outcome = Some(o),
                _ => {}
            },
            _ => {}
        }
    }
    let took = started.elapsed();
    engine.shutdown().await;
    baresip.stop();
    let plain = capture.packets();
    let error = failure.expect("a transport failure was reported");
    eprintln!("refused in {took:?}: {error}");
    assert!(
        error.contains("certificate") && error.contains("UnknownIssuer"),
        "the error says why: {error}"
    );
    assert_eq!(outcome, Some(CallOutcome::Unreachable));
    assert!(took < Duration::from_secs(5), "failed fast: {took:?}");
    assert!(
        plain.is_empty(),
        "nothing went to the trunk over UDP instead ({} datagrams)",
        plain.len()
    );
}

/// The trunk calling in over TLS with SRTP: our listener takes the connection, our answer
/// echoes its crypto tag with our own key, and audio flows both ways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trunk_calling_in_over_tls_gets_srtp_both_ways() {
    let _machine = serial::shared();
    if !require_baresip("a_trunk_calling_in_over_tls_gets_srtp_both_ways") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = make_pki(dir.path(), "hospital");
    let patient_wav = fixtures().join("patient-en-8k.wav");
    let (patient, _) = read_mono(&patient_wav);
    let (prompt, _) = read_mono(&fixtures().join("agent-zh-8k.wav"));
    let (sip_port, rtp_base) = (free_udp_port(), free_udp_port());
    let baresip = start_baresip(dir.path(), &pki, (sip_port, rtp_base), &patient_wav, true);
    let mut engine = Engine::start(tls_engine(dir.path().join("recordings"), &pki, &pki.ca))
        .await
        .expect("engine");
    baresip.dial(&format!("sip:hotline@{};transport=tls", engine.sip_addr()));
    let (mut offered_key, mut outcome, mut recording) = (false, None, None);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while recording.is_none() {
        let ev = tokio::time::timeout_at(deadline, engine.next_event())
            .await
            .expect("call finished in time")
            .expect("engine alive");
        match ev {
            EngineEvent::Call {
                call,
                event: CallEvent::Incoming { media, .. },
            } => {
                offered_key = media.is_some_and(|m| m.crypto.is_some());
                engine
                    .answer(call, "tls-inbound-1", Arc::new(prompt.clone()))
                    .await
                    .expect("answer");
            }
            EngineEvent::Call {
                event: CallEvent::Ended { outcome: o, .. },
                ..
            } => outcome = Some(o),
            EngineEvent::Recording { info, .. } => recording = Some(info),
            EngineEvent::MediaFailed { error, .. } => panic!("media failed: {error}"),
            _ => {}
        }
    }
    engine.shutdown().await;
    let text = baresip.wait_for_output("SRTP is Enabled", Duration::from_secs(1));
    // its dump is closed at call end: read it once it is
    let dec = baresip_dump(&dir.path().join("dumps"), Duration::from_secs(10));
    baresip.stop();
    assert!(offered_key, "baresip offered an SDES key");
    assert!(
        matches!(outcome, Some(CallOutcome::Completed { .. })),
        "{outcome:?}"
    );
    assert!(text.contains("AES_CM_128_HMAC_SHA1_80"), "{text}");
    let (_, right, rate) = read_stereo(&recording.expect("recording").path);
    let ours = speech_match(&patient, 8000, &right, rate);
    assert!(
        ours.corr > 0.6,
        "baresip's audio, decrypted, in our recording: {ours:?}"
    );
    let (heard, heard_rate) = read_mono(&dec);
    let theirs = speech_match(&prompt, 8000, &heard, heard_rate);
    assert!(theirs.corr > 0.6, "baresip heard our prompt: {theirs:?}");
}

/// `sip.srtp = "mandatory"` on a TLS trunk: an offer of plain RTP gets 488, never a call
/// with media in the clear.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_rtp_offer_on_a_tls_trunk_gets_488() {
    let _machine = serial::shared();
    if !require_baresip("a_plain_rtp_offer_on_a_tls_trunk_gets_488") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = make_pki(dir.path(), "hospital");
    let wav = fixtures().join("patient-en-8k.wav");
    let (sip_port, rtp_base) = (free_udp_port(), free_udp_port());
    let baresip = start_baresip(dir.path(), &pki, (sip_port, rtp_base), &wav, false);
    let mut engine = Engine::start(tls_engine(dir.path().join("recordings"), &pki, &pki.ca))
        .await
        .expect("engine");
    baresip.dial(&format!("sip:hotline@{};transport=tls", engine.sip_addr()));
    // baresip prints the final response to its INVITE
    let text = baresip.wait_for_output("488 Not Acceptable", Duration::from_secs(15));
    // nothing reached the call center: no Incoming call was ever reported
    while let Ok(Some(ev)) =
        tokio::time::timeout(Duration::from_millis(1), engine.next_event()).await
    {
        if let EngineEvent::Call {
            event: CallEvent::Incoming { .. },
            ..
        } = ev
        {
            panic!("a plain-RTP offer became a call");
        }
    }
    engine.shutdown().await;
    baresip.stop();
    let line = text.lines().find(|l| l.contains("488 Not Acceptable"));
    eprintln!("baresip: {line:?}");
    assert!(line.is_some(), "{text}");
}

/// The real binary: `[sip] transport = "tls"` in the config file is checked at start (no CA:
/// it refuses to start and names `sip.tls_ca`), and with the CA the server speaks SIP inside
/// TLS on its SIP port — a client that trusts the hospital CA gets an answer to OPTIONS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_takes_its_tls_settings_from_the_config_file() {
    let _machine = serial::shared();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = make_pki(dir.path(), "hospital");
    let run = |config: &str| {
        let file = dir.path().join("suifang.toml");
        std::fs::write(&file, config).expect("write config");
        Command::new(env!("CARGO_BIN_EXE_suifang"))
            .arg("demo")
            .env("SUIFANG_CONFIG", &file)
            .env("SUIFANG_DATA_DIR", dir.path().join("data"))
            .env(
                "SUIFANG_PROMPTS_DIR",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts"),
            )
            .env("SUIFANG_LOG", "warn")
            .env("SUIFANG_DEMO_SIM_PATIENT", "off")
            .env("SUIFANG_TRANSCRIPTION", "off")
            .env("SUIFANG_SIP_BIND", "127.0.0.1:0")
            .env("SUIFANG_HTTP_ADDR", "127.0.0.1:0")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn suifang")
    };
    let base = format!(
        "[sip]\ntransport = \"tls\"\ntrunk = \"127.0.0.1:5061\"\ntls_certificate = \"{}\"\n\
         tls_private_key = \"{}\"\n",
        pki.cert.display(),
        pki.key.display()
    );
    let refused = run(&base).wait_with_output().expect("suifang ran");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "started without a CA: {stderr}");
    assert!(
        stderr.contains("sip.tls_ca"),
        "the error names the key: {stderr}"
    );

    let mut server = run(&format!("{base}tls_ca = \"{}\"\n", pki.ca.display()));
    let stdout = server.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(addr) = line.strip_prefix("suifang SIP is listening on tls:") {
                let _ = tx.send(addr.trim().to_owned());
            }
        }
    });
    let addr: std::net::SocketAddr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the server printed its TLS address")
        .parse()
        .expect("address");

    let mut roots = rustls::RootCertStore::empty();
    let ca = std::fs::read(&pki.ca).expect("ca");
    use rustls::pki_types::pem::PemObject;
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_slice(&ca).expect("ca pem"))
        .expect("root");
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name");
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(client))
        .connect(name, tcp)
        .await
        .expect("the server's certificate is the hospital's");
    let local = tls.get_ref().0.local_addr().expect("local");
    let options = format!(
        "OPTIONS sip:{addr};transport=tls SIP/2.0\r\nVia: SIP/2.0/TLS {local};branch=z9hG4bKtls1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:{addr}>\r\n\
         Call-ID: tls-probe-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    tls.write_all(options.as_bytes()).await.expect("send");
    let mut reply = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), tls.read(&mut reply))
        .await
        .expect("an answer within 10 s")
        .expect("read");
    let reply = String::from_utf8_lossy(&reply[..n]).to_string();
    let _ = server.kill();
    let _ = server.wait();
    assert!(reply.starts_with("SIP/2.0 200"), "{reply}");
    assert!(reply.contains("tls-probe-1"), "{reply}");
}
