use super::*;
use crate::sip::message::Response;
use crate::sip::uri::SipUri;

pub(crate) fn invite() -> Request {
    let mut r = Request::new(
        Method::Invite,
        SipUri::parse("sip:patient@127.0.0.1:5070").expect("uri"),
    );
    r.headers
        .push("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKc1;rport");
    r.headers.push("Max-Forwards", "70");
    r.headers.push("From", "<sip:nurse@127.0.0.1>;tag=ft");
    r.headers.push("To", "<sip:patient@127.0.0.1>");
    r.headers.push("Call-ID", "cid-1");
    r.headers.push("CSeq", "1 INVITE");
    r.headers.push("Route", "<sip:proxy.example;lr>");
    r
}

fn resp(status: u16) -> Response {
    Response::for_request(&invite(), status, Some("tt"))
}

fn drain(tx: &mut ClientInvite) -> Vec<TxOutput> {
    std::iter::from_fn(|| tx.poll_output()).collect()
}

fn sends(out: &[TxOutput]) -> usize {
    out.iter()
        .filter(|o| matches!(o, TxOutput::SendRequest(r) if r.method == Method::Invite))
        .count()
}

/// Timer A retransmits at 0.5, 1.5, 3.5, 7.5 … s (doubling); timer B times out at 32 s.
#[test]
fn retransmits_with_doubling_then_times_out() {
    let t0 = Instant::now();
    let mut tx = ClientInvite::new(invite(), TimerConfig::default(), t0);
    assert_eq!(sends(&drain(&mut tx)), 1);
    let mut fired_at = Vec::new();
    while let Some(at) = tx.poll_timeout() {
        tx.handle_timeout(at);
        let out = drain(&mut tx);
        if sends(&out) == 1 {
            fired_at.push((at - t0).as_millis());
        }
        if out.contains(&TxOutput::Timeout) {
            assert_eq!((at - t0).as_secs(), 32);
            break;
        }
    }
    assert_eq!(fired_at, vec![500, 1500, 3500, 7500, 15500, 31500]);
    assert!(tx.is_terminated());
}

#[test]
fn provisional_stops_retransmits_and_is_passed_once() {
    let t0 = Instant::now();
    let mut tx = ClientInvite::new(invite(), TimerConfig::default(), t0);
    drain(&mut tx);
    tx.handle_response(resp(100), t0);
    tx.handle_response(resp(100), t0);
    assert_eq!(drain(&mut tx).len(), 1, "100 passed up once");
    tx.handle_response(resp(180), t0);
    tx.handle_response(resp(180), t0);
    let mut with_sdp = resp(183);
    with_sdp.body = b"v=0".to_vec();
    tx.handle_response(with_sdp, t0);
    let out = drain(&mut tx);
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(tx.state(), TxState::Proceeding);
    assert_eq!(tx.poll_timeout(), None, "no A, no B once proceeding");
}

#[test]
fn non_2xx_final_is_acked_by_the_transaction() {
    let t0 = Instant::now();
    let mut tx = ClientInvite::new(invite(), TimerConfig::default(), t0);
    drain(&mut tx);
    tx.handle_response(resp(486), t0);
    let out = drain(&mut tx);
    let ack = match &out[0] {
        TxOutput::SendRequest(r) => r.clone(),
        other => panic!("expected ACK first, got {other:?}"),
    };
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(ack.cseq().expect("cseq").to_string(), "1 ACK");
    assert_eq!(
        ack.top_via().expect("via").branch(),
        Some("z9hG4bKc1"),
        "same branch (§17.1.1.3)"
    );
    assert_eq!(ack.to_addr().expect("to").tag(), Some("tt"));
    assert_eq!(ack.headers.get("Route"), Some("<sip:proxy.example;lr>"));
    assert!(matches!(&out[1], TxOutput::Response(r) if r.status == 486));
    // Retransmitted 486: ACK again, not passed up again.
    tx.handle_response(resp(486), t0 + Duration::from_secs(1));
    let out = drain(&mut tx);
    assert!(matches!(out.as_slice(), [TxOutput::SendRequest(r)] if r.method == Method::Ack));
    // Timer D (32 s) ends it.
    tx.handle_timeout(t0 + Duration::from_secs(31));
    assert!(!tx.is_terminated());
    tx.handle_timeout(t0 + Duration::from_secs(32));
    assert!(tx.is_terminated());
}

#[test]
fn two_hundred_goes_to_accepted_and_retransmits_pass_up() {
    let t0 = Instant::now();
    let mut tx = ClientInvite::new(invite(), TimerConfig::default(), t0);
    drain(&mut tx);
    tx.handle_response(resp(200), t0);
    tx.handle_response(resp(200), t0 + Duration::from_millis(500));
    let out = drain(&mut tx);
    assert_eq!(out.len(), 2, "both 2xx to the TU for re-ACK (RFC 6026)");
    assert!(out
        .iter()
        .all(|o| matches!(o, TxOutput::Response(r) if r.status == 200)));
    assert_eq!(tx.state(), TxState::Accepted);
    tx.handle_timeout(t0 + Duration::from_secs(32));
    assert!(tx.is_terminated(), "timer M");
}

#[test]
fn reliable_transport_does_not_retransmit() {
    let t0 = Instant::now();
    let cfg = TimerConfig {
        reliable: true,
        ..TimerConfig::default()
    };
    let mut tx = ClientInvite::new(invite(), cfg, t0);
    drain(&mut tx);
    assert_eq!(
        tx.poll_timeout(),
        Some(t0 + Duration::from_secs(32)),
        "only B"
    );
    tx.handle_response(resp(404), t0);
    drain(&mut tx);
    tx.handle_timeout(t0);
    assert!(tx.is_terminated(), "timer D is zero over TCP");
}
