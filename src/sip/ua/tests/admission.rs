//! Admission at the endpoint: patients' INVITEs only from the trunk, refused statelessly.

use super::inbound::inbound_invite;
use super::*;
use crate::sip::ua::admission::{InboundPolicy, Refusal, TrunkPolicy};

fn trunk_only(max_inbound_calls: usize) -> Harness {
    Harness::with_config(|cfg| {
        cfg.inbound = InboundPolicy::TrunkOnly(TrunkPolicy {
            trunk: Some("127.0.0.1:5070".parse().expect("addr")),
            tcp: false,
            allow: Vec::new(),
            max_inbound_calls,
            invites_per_second: 20,
        })
    })
}

#[test]
fn an_invite_from_elsewhere_gets_a_stateless_403_and_no_call() {
    let mut h = trunk_only(10);
    h.peer = "127.0.0.1:5999".parse().expect("addr");
    let invite = Message::Request(inbound_invite("z9hG4bKrogue"));
    // the same INVITE again: still no state, another 403 (never a retransmission schedule)
    h.deliver(&invite);
    h.deliver(&invite);
    let to_rogue: Vec<u16> = h
        .sent
        .iter()
        .filter_map(|(to, m)| match m {
            Message::Response(r) if *to == h.peer => Some(r.status),
            _ => None,
        })
        .collect();
    assert_eq!(to_rogue, [403, 403], "{:?}", h.sent);
    assert!(h.events.is_empty(), "no call: {:?}", h.events);
    assert_eq!(
        h.refused,
        [
            (h.peer, Refusal::UntrustedSource),
            (h.peer, Refusal::UntrustedSource)
        ]
    );
    assert_eq!(
        h.ep.poll_timeout(),
        None,
        "nothing to retransmit, no transaction kept"
    );
}

#[test]
fn the_trunk_is_answered_and_capped() {
    let mut h = trunk_only(1);
    h.deliver(&Message::Request(inbound_invite("z9hG4bKfirst")));
    assert!(
        matches!(h.events.as_slice(), [(_, CallEvent::Incoming { .. })]),
        "{:?}",
        h.events
    );
    // a retransmission of the admitted INVITE is absorbed, not refused as a second call
    h.deliver(&Message::Request(inbound_invite("z9hG4bKfirst")));
    assert!(h.refused.is_empty(), "{:?}", h.refused);
    h.sent.clear();
    h.deliver(&Message::Request(inbound_invite("z9hG4bKsecond")));
    let [(_, Message::Response(busy))] = h.sent.as_slice() else {
        panic!("{:?}", h.sent)
    };
    assert_eq!(busy.status, 503);
    assert_eq!(busy.headers.get("Retry-After"), Some("30"));
    assert_eq!(h.refused, [(h.peer, Refusal::TooManyCalls)]);
    assert_eq!(h.events.len(), 1, "still the one call");
}
