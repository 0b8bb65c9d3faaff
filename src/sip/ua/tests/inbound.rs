//! Inbound calls: answer/ACK, remote CANCEL, unusable offers.

use super::*;

pub(super) fn inbound_invite(branch: &str) -> Request {
    let mut r = Request::new(
        Method::Invite,
        SipUri::parse("sip:hotline@127.0.0.1:5060").expect("uri"),
    );
    r.headers
        .push("Via", format!("SIP/2.0/UDP 127.0.0.1:5070;branch={branch}"));
    r.headers
        .push("From", "<sip:13800000000@127.0.0.1>;tag=caller");
    r.headers.push("To", "<sip:hotline@127.0.0.1>");
    r.headers.push("Call-ID", format!("in-{branch}"));
    r.headers.push("CSeq", "1 INVITE");
    r.headers
        .push("Contact", "<sip:13800000000@127.0.0.1:5070>");
    r.headers.push("Content-Type", "application/sdp");
    r.body = PEER_SDP.as_bytes().to_vec();
    r
}

#[test]
fn inbound_call_answered_and_confirmed() {
    let mut h = Harness::new();
    let inv = inbound_invite("z9hG4bKin1");
    h.deliver(&Message::Request(inv.clone()));
    assert_eq!(
        h.take_responses()
            .iter()
            .map(|r| r.status)
            .collect::<Vec<_>>(),
        vec![100]
    );
    let events = std::mem::take(&mut h.events);
    let [(
        call,
        CallEvent::Incoming {
            from,
            media: Some(_),
            ..
        },
    )] = events.as_slice()
    else {
        panic!("{events:?}")
    };
    assert_eq!(from.uri.user.as_deref(), Some("13800000000"));
    h.ep.ringing(*call, h.now);
    h.ep.answer(*call, Harness::media(), h.now).expect("answer");
    h.pump();
    let resp = h.take_responses();
    assert_eq!(
        resp.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![180, 200]
    );
    let tag = resp[1].to_addr().expect("to").tag().map(str::to_owned);
    assert_eq!(
        resp[0].to_addr().expect("to").tag().map(str::to_owned),
        tag,
        "same tag on 180 and 200"
    );
    assert!(String::from_utf8_lossy(&resp[1].body).contains("m=audio 20000 RTP/AVP 0 101"));
    assert!(matches!(
        h.take_events().as_slice(),
        [CallEvent::Answered { .. }]
    ));
    let mut ack = Request::new(
        Method::Ack,
        SipUri::parse("sip:suifang@127.0.0.1:5060").expect("uri"),
    );
    ack.headers
        .push("Via", "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKack");
    ack.headers
        .push("From", "<sip:13800000000@127.0.0.1>;tag=caller");
    ack.headers.push(
        "To",
        format!("<sip:hotline@127.0.0.1>;tag={}", tag.unwrap_or_default()),
    );
    ack.headers.push("Call-ID", "in-z9hG4bKin1");
    ack.headers.push("CSeq", "1 ACK");
    h.deliver(&Message::Request(ack));
    h.advance(Duration::from_secs(40));
    assert!(
        h.take_responses().is_empty(),
        "ACKed 2xx is not retransmitted"
    );
    assert!(h.take_events().is_empty(), "no AckTimeout");
    h.ep.hangup(*call, h.now);
    h.pump();
    assert_eq!(h.take_requests(Method::Bye).len(), 1);
}

#[test]
fn inbound_cancel_before_answer() {
    let mut h = Harness::new();
    let inv = inbound_invite("z9hG4bKin2");
    h.deliver(&Message::Request(inv.clone()));
    h.take_responses();
    h.take_events();
    let mut cancel = inv.clone();
    cancel.method = Method::Cancel;
    cancel.body.clear();
    cancel.headers.set("CSeq", "1 CANCEL");
    cancel.headers.remove("Content-Type");
    h.deliver(&Message::Request(cancel));
    let statuses: Vec<u16> = h.take_responses().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![200, 487]);
    assert_eq!(
        h.take_events(),
        vec![CallEvent::Ended {
            outcome: CallOutcome::CancelledByRemote,
            final_status: Some(487),
        }]
    );
}

#[test]
fn inbound_offer_without_common_codec_gets_488() {
    let mut h = Harness::new();
    let mut inv = inbound_invite("z9hG4bKin3");
    inv.body = PEER_SDP.replace("RTP/AVP 0 101", "RTP/AVP 9").into_bytes();
    h.deliver(&Message::Request(inv));
    let statuses: Vec<u16> = h.take_responses().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![100, 488]);
    assert!(h.take_events().is_empty());
}

#[test]
fn unanswered_inbound_call_gets_480_after_ring_timeout() {
    let mut h = Harness::with_config(|c| c.ring_timeout = Duration::from_secs(20));
    h.deliver(&Message::Request(inbound_invite("z9hG4bKin4")));
    h.take_responses();
    h.take_events();
    h.advance(Duration::from_secs(19));
    assert!(h.take_responses().is_empty());
    h.advance(Duration::from_secs(1));
    // 480 at 20 s (timer G would repeat it at 20.5 s until the ACK).
    assert_eq!(
        h.take_responses()
            .iter()
            .map(|r| r.status)
            .collect::<Vec<_>>(),
        vec![480]
    );
    assert_eq!(
        h.take_events(),
        vec![CallEvent::Ended {
            outcome: CallOutcome::NoAnswer,
            final_status: Some(480),
        }]
    );
}

#[test]
fn an_update_refreshes_the_session_and_may_move_the_media() {
    let mut h = Harness::new();
    let mut inv = inbound_invite("z9hG4bKupd");
    inv.headers.push("Session-Expires", "90");
    inv.headers.push("Supported", "timer");
    h.deliver(&Message::Request(inv.clone()));
    let call = match h.events.as_slice() {
        [(call, CallEvent::Incoming { .. })] => *call,
        other => panic!("{other:?}"),
    };
    h.ep.answer(call, Harness::media(), h.now).expect("answer");
    h.pump();
    let ok = h.take_responses().pop().expect("200");
    assert_eq!(ok.status, 200);
    assert_eq!(
        ok.headers.get("Session-Expires"),
        Some("90;refresher=uac"),
        "the carrier refreshes"
    );
    assert_eq!(ok.headers.get("Require"), Some("timer"));
    let to = ok.headers.get("To").expect("to").to_owned();
    let mut ack = Request::new(Method::Ack, inv.uri.clone());
    for name in ["Via", "From", "Call-ID"] {
        ack.headers
            .push(name, inv.headers.get(name).expect("header"));
    }
    ack.headers.push("To", to.clone());
    ack.headers.push("CSeq", "1 ACK");
    h.deliver(&Message::Request(ack));
    h.events.clear();

    // a session refresh without SDP: 200, no media change
    let update = |branch: &str, cseq: u32, sdp: Option<&str>| {
        let mut u = Request::new(
            Method::Update,
            SipUri::parse("sip:hotline@127.0.0.1:5060").expect("uri"),
        );
        u.headers
            .push("Via", format!("SIP/2.0/UDP 127.0.0.1:5070;branch={branch}"));
        u.headers
            .push("From", inv.headers.get("From").expect("from"));
        u.headers.push("To", to.clone());
        u.headers
            .push("Call-ID", inv.headers.get("Call-ID").expect("call-id"));
        u.headers.push("CSeq", format!("{cseq} UPDATE"));
        u.headers.push("Session-Expires", "90;refresher=uac");
        if let Some(sdp) = sdp {
            u.headers.push("Content-Type", "application/sdp");
            u.body = sdp.as_bytes().to_vec();
        }
        Message::Request(u)
    };
    h.deliver(&update("z9hG4bKupd2", 2, None));
    let r = h.take_responses().pop().expect("response");
    assert_eq!(r.status, 200, "UPDATE is not 405 any more");
    assert_eq!(r.headers.get("Session-Expires"), Some("90;refresher=uac"));
    assert!(r.body.is_empty());
    assert!(h.events.is_empty(), "{:?}", h.events);

    // an UPDATE that moves the media: 200 with our answer, and the media follows
    let moved = PEER_SDP.replace("m=audio 16000", "m=audio 17000");
    h.deliver(&update("z9hG4bKupd3", 3, Some(&moved)));
    let r = h.take_responses().pop().expect("response");
    assert_eq!(r.status, 200);
    assert!(String::from_utf8_lossy(&r.body).contains("m=audio 20000"));
    match h.events.as_slice() {
        [(c, CallEvent::MediaChanged { media })] if *c == call => {
            assert_eq!(media.remote.map(|a| a.port()), Some(17000));
        }
        other => panic!("{other:?}"),
    }
}
