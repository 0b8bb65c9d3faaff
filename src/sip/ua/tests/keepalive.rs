//! OPTIONS pings to the trunk: any final response is "reachable", Timer F is "unreachable",
//! and the pings keep their pace whatever the trunk does.

use super::*;

fn trunk() -> SipUri {
    SipUri::parse("sip:127.0.0.1:5070").expect("uri")
}

#[test]
fn a_ping_answered_with_any_final_status_means_reachable() {
    let mut h = Harness::new();
    h.ep.keep_alive(trunk(), Duration::from_secs(30), h.now);
    h.pump();
    let ping = h
        .take_requests(Method::Options)
        .pop()
        .expect("OPTIONS sent at once");
    assert_eq!(ping.uri.to_string(), "sip:127.0.0.1:5070");
    assert_eq!(ping.cseq().expect("cseq").method, Method::Options);
    assert!(ping.from_addr().expect("from").tag().is_some());
    // a provisional response is not an answer yet
    h.deliver(&Message::Response(Response::for_request(&ping, 100, None)));
    assert!(h.trunk_health.is_empty());
    h.advance(Duration::from_millis(40));
    h.deliver(&Message::Response(Response::for_request(
        &ping,
        200,
        Some("t"),
    )));
    assert_eq!(
        h.trunk_health,
        vec![TrunkHealth::Reachable {
            status: 200,
            round_trip: Duration::from_millis(40)
        }]
    );

    // the next ping comes one interval after the first was sent; a PBX that refuses OPTIONS
    // still answered, so it is there
    h.advance(Duration::from_secs(29));
    assert!(
        h.take_requests(Method::Options).is_empty(),
        "not before the interval"
    );
    h.advance(Duration::from_secs(1));
    let second = h.take_requests(Method::Options).pop().expect("second ping");
    assert_eq!(second.cseq().expect("cseq").seq, 2);
    assert_ne!(second.call_id(), ping.call_id());
    h.deliver(&Message::Response(Response::for_request(
        &second, 405, None,
    )));
    assert!(matches!(
        h.trunk_health.last(),
        Some(TrunkHealth::Reachable { status: 405, .. })
    ));
}

#[test]
fn a_silent_trunk_is_unreachable_after_timer_f_and_is_still_probed() {
    let mut h = Harness::new();
    h.ep.keep_alive(trunk(), Duration::from_secs(60), h.now);
    h.pump();
    assert_eq!(h.take_requests(Method::Options).len(), 1);
    // Timer F = 64·T1 = 32 s; retransmissions go out meanwhile (Timer E)
    h.advance(Duration::from_secs(31));
    assert!(h.trunk_health.is_empty());
    assert!(
        !h.take_requests(Method::Options).is_empty(),
        "retransmitted"
    );
    h.advance(Duration::from_secs(2));
    assert_eq!(h.trunk_health, vec![TrunkHealth::Unreachable]);
    // probed again at the same pace, and back once it answers
    h.advance(Duration::from_secs(27));
    let again = h.take_requests(Method::Options).pop().expect("next ping");
    h.deliver(&Message::Response(Response::for_request(&again, 200, None)));
    assert!(matches!(
        h.trunk_health.last(),
        Some(TrunkHealth::Reachable { status: 200, .. })
    ));
}

#[test]
fn a_late_answer_to_an_old_ping_is_ignored_and_an_interval_shorter_than_timer_f_still_reports() {
    let mut h = Harness::new();
    h.ep.keep_alive(trunk(), Duration::from_secs(10), h.now);
    h.pump();
    let first = h.take_requests(Method::Options).pop().expect("ping");
    h.advance(Duration::from_secs(10));
    // the first was never answered when the second was due: reported, then a new ping
    assert_eq!(h.trunk_health, vec![TrunkHealth::Unreachable]);
    let second = h
        .take_requests(Method::Options)
        .into_iter()
        .find(|r| r.cseq().is_ok_and(|c| c.seq == 2))
        .expect("second ping");
    h.deliver(&Message::Response(Response::for_request(&first, 200, None)));
    assert_eq!(
        h.trunk_health.len(),
        1,
        "an answer to the old ping says nothing now"
    );
    h.deliver(&Message::Response(Response::for_request(
        &second, 200, None,
    )));
    assert_eq!(h.trunk_health.len(), 2);
}
