//! Outbound calls: answer, failures, CANCEL, timers, digest, hold, malformed input.

use super::*;
use crate::sip::SipError;

#[test]
fn outbound_call_answered_acked_and_hung_up() {
    let mut h = Harness::new();
    let call = h.call();
    let inv = h.last_invite();
    assert_eq!(
        h.peer,
        "127.0.0.1:5070"
            .parse::<std::net::SocketAddr>()
            .expect("addr")
    );
    let offer = String::from_utf8(inv.body.clone()).expect("utf8");
    assert!(offer.contains("m=audio 20000 RTP/AVP 0 8 101"), "{offer}");
    assert_eq!(inv.headers.get("Content-Type"), Some("application/sdp"));
    h.reply(&inv, 100, false);
    h.reply(&inv, 180, false);
    h.reply(&inv, 200, true);
    let events = h.take_events();
    assert!(matches!(
        &events[0],
        CallEvent::Progress {
            status: 180,
            early_media: None
        }
    ));
    let CallEvent::Answered { media } = &events[1] else {
        panic!("expected Answered, got {events:?}")
    };
    assert_eq!(media.remote, Some("127.0.0.1:16000".parse().expect("addr")));
    assert_eq!(
        (media.codec, media.telephone_event_pt),
        (G711::Pcmu, Some(101))
    );
    let acks = h.take_requests(Method::Ack);
    assert_eq!(acks.len(), 1);
    let ack = &acks[0];
    assert_eq!(
        ack.uri.to_string(),
        "sip:patient@127.0.0.1:5070",
        "ACK goes to the Contact"
    );
    assert_eq!(ack.cseq().expect("cseq").to_string(), "1 ACK");
    assert_ne!(
        ack.top_via().expect("via").branch(),
        inv.top_via().expect("via").branch(),
        "2xx ACK has its own branch"
    );
    // A retransmitted 200 (our ACK was lost) is ACKed again and not reported twice.
    h.reply(&inv, 200, true);
    assert_eq!(h.take_requests(Method::Ack).len(), 1);
    assert!(h.take_events().is_empty());
    h.ep.hangup(call, h.now);
    h.pump();
    let bye = h.take_requests(Method::Bye).pop().expect("BYE");
    assert_eq!(bye.cseq().expect("cseq").to_string(), "2 BYE");
    assert_eq!(bye.to_addr().expect("to").tag(), Some("peer"));
    h.reply(&bye, 200, false);
    assert_eq!(
        h.take_events(),
        vec![CallEvent::Ended {
            outcome: CallOutcome::Completed { by: Party::Local },
            final_status: Some(200),
        }]
    );
    assert_eq!(h.ep.active_calls(), 0);
}

#[test]
fn failure_codes_map_to_outcomes_and_are_acked() {
    for (status, want) in [
        (486, CallOutcome::Busy),
        (480, CallOutcome::NoAnswer),
        (408, CallOutcome::NoAnswer),
        (603, CallOutcome::Declined),
        (404, CallOutcome::WrongNumber),
        (484, CallOutcome::WrongNumber),
        (503, CallOutcome::Failed { status: 503 }),
    ] {
        let mut h = Harness::new();
        h.call();
        let inv = h.last_invite();
        h.reply(&inv, 180, false);
        h.reply(&inv, status, false);
        assert_eq!(
            h.take_requests(Method::Ack).len(),
            1,
            "{status} must be ACKed"
        );
        let events = h.take_events();
        assert_eq!(
            events.last(),
            Some(&CallEvent::Ended {
                outcome: want,
                final_status: Some(status)
            }),
            "{status}"
        );
    }
}

#[test]
fn early_media_from_183() {
    let mut h = Harness::new();
    h.call();
    let inv = h.last_invite();
    h.reply(&inv, 183, true);
    let events = h.take_events();
    let CallEvent::Progress {
        status: 183,
        early_media: Some(m),
    } = &events[0]
    else {
        panic!("{events:?}")
    };
    assert_eq!(m.remote, Some("127.0.0.1:16000".parse().expect("addr")));
    // 200 without SDP: the early media answer stands (RFC 3261 §13.2.1).
    h.reply(&inv, 200, false);
    assert!(matches!(
        h.take_events().as_slice(),
        [CallEvent::Answered { .. }]
    ));
}

#[test]
fn remote_bye_ends_call_and_unknown_bye_gets_481() {
    let mut h = Harness::new();
    let (_, inv) = h.answered();
    let bye = h.peer_request(&inv, Method::Bye, 1, None);
    h.deliver(&Message::Request(bye.clone()));
    assert_eq!(
        h.take_responses()
            .iter()
            .map(|r| r.status)
            .collect::<Vec<_>>(),
        vec![200]
    );
    assert_eq!(
        h.take_events(),
        vec![CallEvent::Ended {
            outcome: CallOutcome::Completed { by: Party::Remote },
            final_status: Some(200),
        }]
    );
    // Retransmitted BYE: the transaction repeats 200, no second event.
    h.deliver(&Message::Request(bye));
    assert_eq!(
        h.take_responses()
            .iter()
            .map(|r| r.status)
            .collect::<Vec<_>>(),
        vec![200]
    );
    assert!(h.take_events().is_empty());
    let stray = h.peer_request(&inv, Method::Bye, 9, None);
    let mut stray = stray;
    stray.headers.set("Call-ID", "unknown");
    h.deliver(&Message::Request(stray));
    assert_eq!(
        h.take_responses()
            .iter()
            .map(|r| r.status)
            .collect::<Vec<_>>(),
        vec![481]
    );
}

#[test]
fn hangup_while_ringing_sends_cancel() {
    let mut h = Harness::new();
    let call = h.call();
    let inv = h.last_invite();
    h.reply(&inv, 180, false);
    h.take_events();
    h.ep.hangup(call, h.now);
    h.pump();
    let cancel = h.take_requests(Method::Cancel).pop().expect("CANCEL");
    assert_eq!(
        cancel.top_via().expect("via").branch(),
        inv.top_via().expect("via").branch(),
        "§9.1 same branch"
    );
    assert_eq!(cancel.cseq().expect("cseq").to_string(), "1 CANCEL");
    assert_eq!(cancel.uri, inv.uri);
    h.reply(&cancel, 200, false);
    h.reply(&inv, 487, false);
    assert_eq!(h.take_requests(Method::Ack).len(), 1);
    assert_eq!(
        h.take_events(),
        vec![CallEvent::Ended {
            outcome: CallOutcome::Cancelled,
            final_status: Some(487),
        }]
    );
}

#[test]
fn cancel_waits_for_a_provisional() {
    let mut h = Harness::new();
    let call = h.call();
    let inv = h.last_invite();
    h.ep.hangup(call, h.now);
    h.pump();
    assert!(
        h.take_requests(Method::Cancel).is_empty(),
        "§9.1: no CANCEL before a provisional"
    );
    h.reply(&inv, 100, false);
    assert_eq!(h.take_requests(Method::Cancel).len(), 1);
    assert!(
        h.take_events().is_empty(),
        "no Progress for a call being cancelled"
    );
}

#[test]
fn ring_timeout_cancels_as_no_answer() {
    let mut h = Harness::with_config(|c| c.ring_timeout = Duration::from_secs(30));
    h.call();
    let inv = h.last_invite();
    h.reply(&inv, 180, false);
    h.advance(Duration::from_secs(29));
    assert!(h.take_requests(Method::Cancel).is_empty());
    h.advance(Duration::from_secs(2));
    let cancel = h
        .take_requests(Method::Cancel)
        .pop()
        .expect("CANCEL after ring timeout");
    h.reply(&cancel, 200, false);
    h.reply(&inv, 487, false);
    assert_eq!(
        h.take_events().last(),
        Some(&CallEvent::Ended {
            outcome: CallOutcome::NoAnswer,
            final_status: Some(487),
        })
    );
}

#[test]
fn silent_trunk_is_unreachable_after_timer_b() {
    let mut h = Harness::new();
    h.call();
    h.advance(Duration::from_secs(31));
    // Original + timer A at 0.5, 1.5, 3.5, 7.5, 15.5 s.
    assert_eq!(h.take_requests(Method::Invite).len(), 1 + 5);
    assert!(h.take_events().is_empty());
    h.advance(Duration::from_secs(2));
    assert_eq!(
        h.take_events(),
        vec![CallEvent::Ended {
            outcome: CallOutcome::Unreachable,
            final_status: None,
        }]
    );
}

#[test]
fn silent_trunk_is_unreachable_even_when_the_ring_timeout_fires_first() {
    // a ring timeout shorter than Timer B must not turn a dead trunk into "no answer"
    // (which would dispose the task and use up the patient's attempt)
    let mut h = Harness::with_config(|c| c.ring_timeout = Duration::from_secs(4));
    h.call();
    h.advance(Duration::from_secs(10));
    assert!(
        h.take_requests(Method::Cancel).is_empty(),
        "no CANCEL before a provisional response (§9.1)"
    );
    assert!(h.take_events().is_empty());
    h.advance(Duration::from_secs(23));
    assert_eq!(
        h.take_events(),
        vec![CallEvent::Ended {
            outcome: CallOutcome::Unreachable,
            final_status: None,
        }]
    );
}

#[test]
fn digest_challenge_is_answered_once() {
    let mut h = Harness::with_config(|c| {
        c.credentials = Some(Credentials {
            user: "suifang".into(),
            password: "secret".into(),
        });
    });
    h.call();
    let inv = h.last_invite();
    let mut chal = Response::for_request(&inv, 407, Some("proxy"));
    chal.headers.push(
        "Proxy-Authenticate",
        "Digest realm=\"trunk\", nonce=\"abc\", qop=\"auth\"",
    );
    h.deliver(&Message::Response(chal.clone()));
    assert_eq!(h.take_requests(Method::Ack).len(), 1, "407 is ACKed");
    let retry = h.last_invite();
    assert_eq!(retry.cseq().expect("cseq").seq, 2);
    assert_eq!(retry.call_id(), inv.call_id());
    assert_eq!(
        retry.from_addr().expect("from").tag(),
        inv.from_addr().expect("from").tag()
    );
    let auth = retry
        .headers
        .get("Proxy-Authorization")
        .expect("credentials");
    assert!(
        auth.contains("username=\"suifang\"")
            && auth.contains("realm=\"trunk\"")
            && auth.contains("nc=00000001"),
        "{auth}"
    );
    // A second challenge means the credentials are wrong.
    let mut again = Response::for_request(&retry, 407, Some("proxy"));
    again.headers.push(
        "Proxy-Authenticate",
        "Digest realm=\"trunk\", nonce=\"def\"",
    );
    h.deliver(&Message::Response(again));
    assert_eq!(
        h.take_events(),
        vec![CallEvent::Ended {
            outcome: CallOutcome::AuthFailed,
            final_status: Some(407),
        }]
    );
    assert!(h.take_requests(Method::Invite).is_empty());
}

#[test]
fn reinvite_hold_and_resume_are_answered() {
    let mut h = Harness::new();
    let (call, inv) = h.answered();
    let hold_sdp = PEER_SDP.replace("a=sendrecv", "a=sendonly");
    let reinvite = h.peer_request(&inv, Method::Invite, 2, Some(&hold_sdp));
    h.deliver(&Message::Request(reinvite.clone()));
    let resp = h.take_responses();
    let ok = resp
        .iter()
        .find(|r| r.status == 200)
        .expect("200 to re-INVITE");
    let answer = String::from_utf8(ok.body.clone()).expect("utf8");
    assert!(
        answer.contains("a=recvonly"),
        "hold answered recvonly: {answer}"
    );
    assert!(
        answer.contains("o=suifang 1 2 "),
        "version bumped: {answer}"
    );
    let events = h.take_events();
    let [CallEvent::MediaChanged { media }] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert!(media.remote_holds());
    // The 2xx is retransmitted until the ACK arrives.
    h.advance(Duration::from_millis(600));
    assert_eq!(
        h.take_responses()
            .iter()
            .filter(|r| r.status == 200)
            .count(),
        1
    );
    let mut ack = h.peer_request(&inv, Method::Ack, 2, None);
    ack.headers
        .set("Via", "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKack2");
    h.deliver(&Message::Request(ack));
    h.advance(Duration::from_secs(5));
    assert!(h.take_responses().is_empty(), "no more 2xx after ACK");
    // Resume.
    let resume = h.peer_request(&inv, Method::Invite, 3, Some(PEER_SDP));
    h.deliver(&Message::Request(resume));
    let ok = h
        .take_responses()
        .into_iter()
        .find(|r| r.status == 200)
        .expect("200");
    assert!(String::from_utf8_lossy(&ok.body).contains("a=sendrecv"));
    assert!(
        matches!(h.take_events().as_slice(), [CallEvent::MediaChanged { media }] if !media.remote_holds())
    );
    assert!(h.ep.media(call).is_some());
    // An old CSeq is refused (§12.2.2).
    let stale = h.peer_request(&inv, Method::Invite, 1, Some(PEER_SDP));
    h.deliver(&Message::Request(stale));
    assert!(h
        .take_responses()
        .iter()
        .any(|r| r.status == 500 || r.status == 491));
}

#[test]
fn options_is_answered_200() {
    let mut h = Harness::new();
    let mut opt = Request::new(
        Method::Options,
        SipUri::parse("sip:suifang@127.0.0.1").expect("uri"),
    );
    opt.headers
        .push("Via", "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKopt");
    opt.headers.push("From", "<sip:trunk@127.0.0.1>;tag=t");
    opt.headers.push("To", "<sip:suifang@127.0.0.1>");
    opt.headers.push("Call-ID", "ka");
    opt.headers.push("CSeq", "1 OPTIONS");
    h.deliver(&Message::Request(opt));
    let (to, m) = h.sent.pop().expect("response");
    assert_eq!(to, h.peer, "responses go back to the source (RFC 3581)");
    let Message::Response(r) = m else {
        panic!("response expected")
    };
    assert_eq!(r.status, 200);
    assert!(r.headers.get("Allow").is_some_and(|a| a.contains("INVITE")));
}

#[test]
fn malformed_input_is_dropped_or_answered_400() {
    let mut h = Harness::new();
    for junk in [
        &b"\x00\x01\x02garbage"[..],
        b"INVITE sip:x SIP/2.0\r\nContent-Length: 99999999\r\n\r\n",
        b"SIP/2.0 200 OK\r\n\r\n",
        b"\r\n\r\n",
    ] {
        h.ep.handle_datagram(junk, h.peer, h.now);
        h.pump();
    }
    assert!(h.sent.is_empty() && h.events.is_empty());
    assert!(h.ep.malformed_count() >= 2);
    let no_callid = b"OPTIONS sip:s@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:s@h>\r\nCSeq: 1 OPTIONS\r\n\r\n";
    h.ep.handle_datagram(no_callid, h.peer, h.now);
    h.pump();
    assert_eq!(
        h.take_responses()
            .iter()
            .map(|r| r.status)
            .collect::<Vec<_>>(),
        vec![400]
    );
    // §18.3: a request whose datagram ends before its Content-Length still gets its 400, and
    // so does one whose Content-Length or CSeq method is wrong while its head is readable
    for (i, (cl, cseq)) in [
        ("500", "OPTIONS"),
        ("-5", "OPTIONS"),
        ("99999999999999999999", "OPTIONS"),
        ("5", "INVITE"),
    ]
    .into_iter()
    .enumerate()
    {
        let bad = format!(
            "OPTIONS sip:s@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKcl{i}\r\n\
             From: <sip:a@b>;tag=1\r\nTo: <sip:s@h>\r\nCall-ID: cl{i}@x\r\nCSeq: 1 {cseq}\r\n\
             Content-Length: {cl}\r\n\r\nv=0\r\n"
        );
        h.ep.handle_datagram(bad.as_bytes(), h.peer, h.now);
        h.pump();
        let statuses: Vec<u16> = h.take_responses().iter().map(|r| r.status).collect();
        assert_eq!(statuses, vec![400], "Content-Length {cl}, CSeq {cseq}");
    }
}

#[test]
fn incompatible_answer_is_acked_then_hung_up() {
    let mut h = Harness::new();
    h.call();
    let inv = h.last_invite();
    let mut ok = Response::for_request(&inv, 200, Some("peer"));
    ok.headers.push("Contact", "<sip:patient@127.0.0.1:5070>");
    ok.body = PEER_SDP.replace("RTP/AVP 0 101", "RTP/AVP 18").into_bytes();
    h.deliver(&Message::Response(ok));
    assert_eq!(h.take_requests(Method::Ack).len(), 1);
    assert_eq!(h.take_requests(Method::Bye).len(), 1);
    assert_eq!(
        h.take_events(),
        vec![CallEvent::Ended {
            outcome: CallOutcome::MediaFailed,
            final_status: Some(200),
        }]
    );
}

#[test]
fn two_hundred_crossing_cancel_is_acked_and_byed() {
    let mut h = Harness::new();
    let call = h.call();
    let inv = h.last_invite();
    h.reply(&inv, 180, false);
    h.ep.hangup(call, h.now);
    h.pump();
    h.reply(&inv, 200, true);
    assert_eq!(h.take_requests(Method::Ack).len(), 1);
    assert_eq!(h.take_requests(Method::Bye).len(), 1);
    assert_eq!(
        h.take_events().last(),
        Some(&CallEvent::Ended {
            outcome: CallOutcome::Cancelled,
            final_status: Some(200),
        })
    );
}

/// Property-style: random corruptions of real call traffic fed to a live endpoint in every
/// call state never panic, and the endpoint keeps working afterwards.
#[test]
fn corrupted_traffic_never_panics_the_endpoint() {
    let mut h = Harness::new();
    let (_, inv) = h.answered();
    let samples: Vec<Vec<u8>> = vec![
        h.peer_request(&inv, Method::Bye, 7, None).to_bytes(),
        h.peer_request(&inv, Method::Invite, 8, Some(PEER_SDP))
            .to_bytes(),
        Response::for_request(&inv, 200, Some("peer")).to_bytes(),
        Message::Request(inv.clone()).to_bytes(),
    ];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for round in 0..4000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut m = samples[round % samples.len()].clone();
        let n = m.len();
        match x % 4 {
            0 => m.truncate((x >> 8) as usize % n),
            1 => m[(x >> 8) as usize % n] = (x >> 20) as u8,
            2 => {
                let at = (x >> 8) as usize % n;
                m.insert(at, b"\r\n:;<>\",= \xff"[(x >> 30) as usize % 11]);
            }
            _ => {
                let at = (x >> 8) as usize % n;
                m.drain(at..(at + (x >> 40) as usize % 20).min(n));
            }
        }
        h.ep.handle_datagram(&m, h.peer, h.now);
        h.pump();
        if round % 97 == 0 {
            h.advance(Duration::from_millis(700));
        }
    }
    h.sent.clear();
    h.events.clear();
    // Still serves a fresh call.
    h.call();
    let inv = h.last_invite();
    h.reply(&inv, 200, true);
    assert!(h
        .take_events()
        .iter()
        .any(|e| matches!(e, CallEvent::Answered { .. })));
}

#[test]
fn a_503_with_retry_after_holds_new_calls_for_that_long() {
    let mut h = Harness::new();
    h.call();
    let inv = h.last_invite();
    let mut busy = Response::for_request(&inv, 503, Some("peer"));
    busy.headers.push("Retry-After", "120 (overloaded)");
    h.deliver(&Message::Response(busy));
    assert_eq!(
        h.take_events().last(),
        Some(&CallEvent::Ended {
            outcome: CallOutcome::Failed { status: 503 },
            final_status: Some(503),
        })
    );
    let target = SipUri::parse("sip:patient@127.0.0.1:5070").expect("uri");
    let held = h.ep.place_call(target.clone(), Harness::media(), h.now);
    assert_eq!(held, Err(SipError::TrunkHolding { seconds: 120 }));
    assert!(h.take_requests(Method::Invite).is_empty(), "nothing sent");
    h.advance(Duration::from_secs(119));
    assert_eq!(
        h.ep.place_call(target.clone(), Harness::media(), h.now),
        Err(SipError::TrunkHolding { seconds: 1 })
    );
    h.advance(Duration::from_secs(1));
    h.ep.place_call(target, Harness::media(), h.now)
        .expect("the hold is over");
    h.pump();
    assert_eq!(h.take_requests(Method::Invite).len(), 1);
}
