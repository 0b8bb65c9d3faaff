//! Agents' desk phones through the endpoint: REGISTER served by the registrar, INVITEs from an
//! extension challenged (407) and then reported with the agent's identity, and calls to or
//! from a desk phone kept off the trunk.

use super::*;
use crate::sip::auth::Challenge;
use crate::sip::registrar::{AgentAccount, Ha1, Registrar, RegistrarConfig, RegistrarEvent};

const PHONE: &str = "127.0.0.1:5099";

fn with_registrar() -> Harness {
    let mut h = Harness::with_config(|c| {
        c.outbound_proxy = Some("127.0.0.1:5070".parse().expect("trunk"));
    });
    let mut r = Registrar::with_seed(RegistrarConfig::default(), 3, h.now);
    r.set_accounts(vec![AgentAccount {
        user_id: 7,
        extension: "1001".into(),
        ha1: Ha1::compute("1001", "suifang", "desk-secret-1"),
    }]);
    h.ep.set_registrar(Some(r));
    h.peer = PHONE.parse().expect("addr");
    h
}

fn phone_request(method: Method, uri: &str, seq: u32, auth: Option<(&str, String)>) -> Request {
    let mut r = Request::new(method.clone(), SipUri::parse(uri).expect("uri"));
    r.headers.push(
        "Via",
        format!("SIP/2.0/UDP {PHONE};branch=z9hG4bKdesk{seq}"),
    );
    r.headers.push("From", "<sip:1001@127.0.0.1>;tag=desk");
    let to = if method == Method::Register {
        "<sip:1001@127.0.0.1>".to_owned()
    } else {
        format!("<{uri}>")
    };
    r.headers.push("To", to);
    r.headers.push("Call-ID", format!("desk-{method}"));
    r.headers.push("CSeq", format!("{seq} {method}"));
    r.headers.push("Contact", format!("<sip:1001@{PHONE}>"));
    if let Some((name, value)) = auth {
        r.headers.push(name, value);
    }
    if method == Method::Invite {
        r.headers.push("Content-Type", "application/sdp");
        r.body = PEER_SDP.as_bytes().to_vec();
    }
    r
}

fn answer(resp: &Response, header: &str, method: &str, uri: &str) -> String {
    let c = Challenge::parse(resp.headers.values(header)[0]).expect("challenge");
    c.authorization("1001", "desk-secret-1", method, uri, "cn", 1)
}

#[test]
fn without_a_registrar_register_is_not_allowed() {
    let mut h = Harness::new();
    h.deliver(&Message::Request(phone_request(
        Method::Register,
        "sip:127.0.0.1",
        1,
        None,
    )));
    assert_eq!(h.take_responses()[0].status, 405);
}

#[test]
fn a_desk_phone_registers_and_its_calls_are_authenticated() {
    let mut h = with_registrar();
    let uri = "sip:127.0.0.1";
    h.deliver(&Message::Request(phone_request(
        Method::Register,
        uri,
        1,
        None,
    )));
    let ch = h.take_responses().pop().expect("401");
    assert_eq!(ch.status, 401);
    let auth = answer(&ch, "WWW-Authenticate", "REGISTER", uri);
    h.deliver(&Message::Request(phone_request(
        Method::Register,
        uri,
        2,
        Some(("Authorization", auth)),
    )));
    let ok = h.take_responses().pop().expect("200");
    assert_eq!(ok.status, 200, "{ok:?}");
    assert!(ok
        .headers
        .get("Contact")
        .is_some_and(|c| c.contains("expires=")));
    assert!(matches!(
        h.registrar_events.as_slice(),
        [RegistrarEvent::Bound {
            refreshed: false,
            ..
        }]
    ));
    let binding =
        h.ep.registrar()
            .and_then(|r| r.binding("1001", h.now))
            .expect("bound");
    assert_eq!(binding.source, PHONE.parse::<SocketAddr>().expect("addr"));

    // the phone dials a patient: 407 first (sent statelessly, without a 100 or any
    // transaction: an INVITE that merely names an extension keeps no state), no call yet
    let target = "sip:13800000001@127.0.0.1:5060";
    h.deliver(&Message::Request(phone_request(
        Method::Invite,
        target,
        1,
        None,
    )));
    let responses = h.take_responses();
    let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![407]);
    assert!(h.take_events().is_empty());
    assert_eq!(h.ep.active_calls(), 0);
    assert!(
        !h.ep
            .server
            .values()
            .any(|e| matches!(e.tx, super::super::endpoint::ServerTx::Invite(_))),
        "no INVITE transaction kept for the challenge"
    );
    let auth = answer(&responses[0], "Proxy-Authenticate", "INVITE", target);
    h.deliver(&Message::Request(phone_request(
        Method::Invite,
        target,
        2,
        Some(("Proxy-Authorization", auth)),
    )));
    let events = h.take_events();
    let [CallEvent::Incoming {
        agent: Some(agent),
        request_uri,
        ..
    }] = events.as_slice()
    else {
        panic!("{events:?}");
    };
    assert_eq!((agent.user_id, agent.extension.as_str()), (7, "1001"));
    assert_eq!(request_uri.user.as_deref(), Some("13800000001"));
    h.take_responses();
    // a patient's call from the trunk is not challenged and carries no agent
    let mut from_trunk = phone_request(Method::Invite, "sip:hotline@127.0.0.1", 1, None);
    from_trunk
        .headers
        .set("From", "<sip:+8613800000001@127.0.0.1>;tag=p");
    from_trunk.headers.set("Call-ID", "from-trunk");
    from_trunk
        .headers
        .set("Via", "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKtrunk");
    h.deliver(&Message::Request(from_trunk));
    let statuses: Vec<u16> = h.take_responses().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![100]);
    assert!(matches!(
        h.take_events().as_slice(),
        [CallEvent::Incoming { agent: None, .. }]
    ));
}

#[test]
fn calls_to_a_desk_phone_and_from_it_stay_off_the_trunk() {
    let mut h = with_registrar();
    let phone: SocketAddr = PHONE.parse().expect("addr");
    let options = CallOptions {
        dest: Some(phone),
        display_name: Some("Task 12".into()),
        ring_timeout: Some(Duration::from_secs(5)),
    };
    let call =
        h.ep.place_call_with(
            SipUri::parse(&format!("sip:1001@{PHONE}")).expect("uri"),
            Harness::media(),
            options,
            h.now,
        )
        .expect("placed");
    h.pump();
    let (to, invite) = h.sent.pop().expect("INVITE");
    assert_eq!(to, phone, "the INVITE goes to the phone");
    let Message::Request(invite) = invite else {
        panic!("a request");
    };
    assert_eq!(
        invite.from_addr().expect("from").display.as_deref(),
        Some("Task 12")
    );
    // nobody picks up within the call's own ring timeout: CANCEL, to the phone
    h.reply(&invite, 180, false);
    h.advance(Duration::from_secs(6));
    let cancels: Vec<SocketAddr> = h
        .sent
        .iter()
        .filter(|(_, m)| matches!(m, Message::Request(r) if r.method == Method::Cancel))
        .map(|(to, _)| *to)
        .collect();
    assert!(
        !cancels.is_empty() && cancels.iter().all(|to| *to == phone),
        "{cancels:?}"
    );
    h.sent.clear();
    let mut r487 = Response::for_request(&invite, 487, Some("peer"));
    r487.headers.push("Contact", format!("<sip:1001@{PHONE}>"));
    h.deliver(&Message::Response(r487));
    assert!(h.take_events().iter().any(|e| matches!(
        e,
        CallEvent::Ended {
            outcome: CallOutcome::NoAnswer,
            final_status: Some(487),
        }
    )));
    assert_eq!(h.ep.active_calls(), 0, "call {call:?} is over");

    // an authenticated call from the phone, answered: our BYE goes back to the phone
    let target = "sip:+8613800000001@127.0.0.1:5060";
    h.deliver(&Message::Request(phone_request(
        Method::Invite,
        target,
        1,
        None,
    )));
    let ch = h.take_responses().pop().expect("407");
    let auth = answer(&ch, "Proxy-Authenticate", "INVITE", target);
    let inv = phone_request(
        Method::Invite,
        target,
        2,
        Some(("Proxy-Authorization", auth)),
    );
    h.deliver(&Message::Request(inv.clone()));
    let (incoming, _) = h.events.pop().expect("incoming");
    h.ep.answer(incoming, Harness::media(), h.now)
        .expect("answer");
    h.pump();
    let ok = h.take_responses().pop().expect("200");
    assert_eq!(ok.status, 200);
    let mut ack = phone_request(Method::Ack, "sip:suifang@127.0.0.1:5060", 2, None);
    ack.headers.set("To", ok.headers.get("To").expect("to"));
    ack.headers.set("Call-ID", inv.call_id().expect("call-id"));
    ack.headers.set("CSeq", "2 ACK");
    ack.body.clear();
    ack.headers.remove("Content-Type");
    h.deliver(&Message::Request(ack));
    h.sent.clear();
    h.ep.hangup(incoming, h.now);
    h.pump();
    let byes: Vec<SocketAddr> = h
        .sent
        .iter()
        .filter(|(_, m)| matches!(m, Message::Request(r) if r.method == Method::Bye))
        .map(|(to, _)| *to)
        .collect();
    assert!(
        !byes.is_empty() && byes.iter().all(|to| *to == phone),
        "{byes:?}"
    );
}
