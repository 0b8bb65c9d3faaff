//! REGISTER: digest retry, refresh before expiry, 423, failure retry, unregister.

use super::*;

fn registrar() -> SipUri {
    SipUri::parse("sip:127.0.0.1:5070").expect("uri")
}

fn with_creds() -> Harness {
    Harness::with_config(|c| {
        c.credentials = Some(Credentials {
            user: "suifang".into(),
            password: "secret".into(),
        });
        c.from_domain = "pbx.example".into();
    })
}

#[test]
fn registers_with_digest_and_refreshes_before_expiry() {
    let mut h = with_creds();
    h.ep.register(registrar(), 3600, h.now).expect("register");
    h.pump();
    let first = h.take_requests(Method::Register).pop().expect("REGISTER");
    assert_eq!(first.uri.to_string(), "sip:127.0.0.1:5070");
    assert_eq!(first.headers.get("Expires"), Some("3600"));
    assert_eq!(
        first.to_addr().expect("to").uri,
        first.from_addr().expect("from").uri,
        "To = From = AOR"
    );
    assert_eq!(first.to_addr().expect("to").tag(), None);
    let mut chal = Response::for_request(&first, 401, Some("reg"));
    chal.headers.push(
        "WWW-Authenticate",
        "Digest realm=\"pbx\", nonce=\"n1\", qop=\"auth\"",
    );
    h.deliver(&Message::Response(chal));
    let second = h
        .take_requests(Method::Register)
        .pop()
        .expect("authenticated REGISTER");
    assert_eq!(second.cseq().expect("cseq").seq, 2);
    assert_eq!(second.call_id(), first.call_id());
    assert!(second
        .headers
        .get("Authorization")
        .is_some_and(|a| a.contains("uri=\"sip:127.0.0.1:5070\"")));
    let mut ok = Response::for_request(&second, 200, Some("reg"));
    ok.headers
        .push("Contact", "<sip:suifang@127.0.0.1:5060>;expires=600");
    h.deliver(&Message::Response(ok));
    assert_eq!(
        h.registrations,
        vec![RegistrationState::Registered {
            expires: Duration::from_secs(600)
        }]
    );
    h.advance(Duration::from_secs(530));
    assert!(
        h.take_requests(Method::Register).is_empty(),
        "not before 90 % of 600 s"
    );
    h.advance(Duration::from_secs(15));
    let refresh = h.take_requests(Method::Register).pop().expect("refresh");
    assert_eq!(refresh.cseq().expect("cseq").seq, 3);
    assert_eq!(
        refresh.call_id(),
        first.call_id(),
        "same Call-ID for refreshes (§10.2)"
    );
}

#[test]
fn interval_too_brief_retries_with_min_expires() {
    let mut h = with_creds();
    h.ep.register(registrar(), 60, h.now).expect("register");
    h.pump();
    let first = h.take_requests(Method::Register).pop().expect("REGISTER");
    let mut r = Response::for_request(&first, 423, Some("reg"));
    r.headers.push("Min-Expires", "1800");
    h.deliver(&Message::Response(r));
    let retry = h.take_requests(Method::Register).pop().expect("retry");
    assert_eq!(retry.headers.get("Expires"), Some("1800"));
}

#[test]
fn failure_and_timeout_retry_after_a_minute() {
    let mut h = Harness::new();
    h.ep.register(registrar(), 3600, h.now).expect("register");
    h.pump();
    let first = h.take_requests(Method::Register).pop().expect("REGISTER");
    h.deliver(&Message::Response(Response::for_request(
        &first,
        403,
        Some("reg"),
    )));
    assert_eq!(
        h.registrations,
        vec![RegistrationState::Failed { status: Some(403) }]
    );
    h.advance(Duration::from_secs(61));
    let retries = h.take_requests(Method::Register);
    assert!(!retries.is_empty(), "retried after 60 s");
    assert!(
        retries
            .iter()
            .all(|r| r.cseq().map(|c| c.seq).ok() == Some(2)),
        "one new transaction (plus timer E copies)"
    );
    // Now nobody answers: timer F, then Failed without status.
    h.advance(Duration::from_secs(33));
    assert_eq!(
        h.registrations.last(),
        Some(&RegistrationState::Failed { status: None })
    );
}

#[test]
fn unregister_sends_expires_zero() {
    let mut h = Harness::new();
    h.ep.register(registrar(), 3600, h.now).expect("register");
    h.pump();
    let first = h.take_requests(Method::Register).pop().expect("REGISTER");
    h.deliver(&Message::Response(Response::for_request(
        &first,
        200,
        Some("reg"),
    )));
    h.ep.unregister(h.now).expect("unregister");
    h.pump();
    let bye = h
        .take_requests(Method::Register)
        .pop()
        .expect("un-REGISTER");
    assert_eq!(bye.headers.get("Expires"), Some("0"));
    h.deliver(&Message::Response(Response::for_request(
        &bye,
        200,
        Some("reg"),
    )));
    assert_eq!(
        h.registrations.last(),
        Some(&RegistrationState::Unregistered)
    );
    h.advance(Duration::from_secs(4000));
    assert!(
        h.take_requests(Method::Register).is_empty(),
        "no refresh after unregister"
    );
}
