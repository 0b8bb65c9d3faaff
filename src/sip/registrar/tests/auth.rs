//! Digest authentication of REGISTER and INVITE.

use super::*;

#[test]
fn challenge_offers_sha256_then_md5_with_qop_auth() {
    let mut rig = Rig::new();
    let req = rig.register("1001", &[("Contact", "<sip:1001@127.0.0.1:5099>")]);
    let r = rig.send(&req);
    assert_eq!(r.status, 401);
    assert!(
        r.to_addr().expect("to").tag().is_some(),
        "To tag on the 401"
    );
    let offers = r.headers.values("WWW-Authenticate");
    assert_eq!(offers.len(), 2, "{offers:?}");
    assert!(offers[0].contains("algorithm=SHA-256") && offers[1].contains("algorithm=MD5"));
    for o in &offers {
        let c = Challenge::parse(o).expect("parses");
        assert!(c.qop_auth && !c.stale && c.realm == "suifang", "{o}");
    }
    assert!(
        rig.events().is_empty(),
        "a first challenge is not a failure"
    );
    assert_eq!(rig.reg.bindings().count(), 0);
}

#[test]
fn md5_and_sha256_answers_register_and_echo_the_contact() {
    for alg in ["MD5", "SHA-256"] {
        let mut rig = Rig::new();
        let r = rig.register_with(
            "1001",
            PASSWORD,
            alg,
            &[("Contact", "<sip:1001@127.0.0.1:5099>"), ("Expires", "600")],
        );
        assert_eq!(r.status, 200, "{alg}: {r:?}");
        assert_eq!(
            contact_expires(&r),
            vec![("sip:1001@127.0.0.1:5099".to_owned(), 600)],
            "{alg}"
        );
        let events = rig.events();
        let [RegistrarEvent::Bound {
            binding,
            refreshed: false,
        }] = events.as_slice()
        else {
            panic!("{alg}: {events:?}");
        };
        assert_eq!(binding.user_id, 7);
        assert_eq!(binding.source, rig.phone);
        assert_eq!(binding.transport, Transport::Udp);
        assert_eq!(binding.user_agent.as_deref(), Some("baresip v1.0.0"));
        assert_eq!(binding.expires_at, rig.now + Duration::from_secs(600));
        let found = rig.reg.binding("1001", rig.now).expect("routable");
        assert_eq!(found.contact.to_string(), "sip:1001@127.0.0.1:5099");
        assert!(rig.reg.binding("1002", rig.now).is_none());
    }
}

/// The server's expected response computed by hand (RFC 7616 §3.4.1), not by our client.
#[test]
fn a_hand_computed_md5_answer_is_accepted() {
    let mut rig = Rig::new();
    let first = rig.register("1001", &[]);
    let challenge = rig.send(&first);
    let offer = Challenge::parse(challenge.headers.values("WWW-Authenticate")[1]).expect("md5");
    let h = |s: String| Algorithm::Md5.hash(&s);
    let ha1 = h(format!("1001:suifang:{PASSWORD}"));
    let ha2 = h("REGISTER:sip:127.0.0.1".into());
    let response = h(format!("{ha1}:{}:00000001:abc:auth:{ha2}", offer.nonce));
    let mut req = rig.register("1001", &[("Contact", "<sip:1001@127.0.0.1:5099>")]);
    req.headers.push(
        "Authorization",
        format!(
            "Digest username=\"1001\", realm=\"suifang\", nonce=\"{}\", uri=\"sip:127.0.0.1\", \
             response=\"{}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"abc\"",
            offer.nonce,
            response.to_uppercase()
        ),
    );
    assert_eq!(rig.send(&req).status, 200);
}

#[test]
fn failures_table() {
    struct Case {
        name: &'static str,
        /// Changes the answer header before it is sent.
        edit: fn(String) -> String,
        status: u16,
        stale: bool,
        failure: Option<DigestFailure>,
    }
    let cases = [
        Case {
            name: "wrong password",
            edit: |a| a,
            status: 403,
            stale: false,
            failure: Some(DigestFailure::WrongPassword),
        },
        Case {
            name: "digest uri is another URI",
            edit: |a| a.replace("uri=\"sip:127.0.0.1\"", "uri=\"sip:10.0.0.1\""),
            status: 400,
            stale: false,
            failure: Some(DigestFailure::UriMismatch),
        },
        Case {
            name: "no qop",
            edit: |a| a.replace("qop=auth, ", ""),
            status: 401,
            stale: false,
            failure: None,
        },
        Case {
            name: "other realm",
            edit: |a| a.replace("realm=\"suifang\"", "realm=\"elsewhere\""),
            status: 401,
            stale: false,
            failure: None,
        },
        Case {
            name: "garbage",
            edit: |_| "Digest ,,,==\"".into(),
            status: 401,
            stale: false,
            failure: Some(DigestFailure::Malformed),
        },
    ];
    for case in cases {
        let mut rig = Rig::new();
        let first = rig.register("1001", &[("Contact", "<sip:1001@h:1>")]);
        let challenge = rig.send(&first);
        // the wrong-password case uses another password; the others the right one
        let password = if case.name == "wrong password" {
            "guess"
        } else {
            PASSWORD
        };
        let mut req = rig.answer(
            &challenge,
            "1001",
            password,
            "MD5",
            1,
            &[("Contact", "<sip:1001@h:1>")],
        );
        let auth = (case.edit)(req.headers.get("Authorization").expect("auth").to_owned());
        req.headers.set("Authorization", auth);
        let r = rig.send(&req);
        assert_eq!(r.status, case.status, "{}: {r:?}", case.name);
        if r.status == 401 {
            let c = Challenge::parse(r.headers.values("WWW-Authenticate")[0]).expect("challenge");
            assert_eq!(c.stale, case.stale, "{}", case.name);
        }
        let failures: Vec<DigestFailure> = rig
            .events()
            .into_iter()
            .filter_map(|e| match e {
                RegistrarEvent::AuthFailed {
                    failure, source, ..
                } => {
                    assert_eq!(source, rig.phone);
                    Some(failure)
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            failures,
            case.failure.into_iter().collect::<Vec<_>>(),
            "{}",
            case.name
        );
        assert_eq!(rig.reg.bindings().count(), 0, "{}", case.name);
    }
}

#[test]
fn unknown_user_and_someone_elses_extension_are_forbidden() {
    let mut rig = Rig::new();
    let r = rig.register_with("1003", "whatever-pw", "MD5", &[("Contact", "<sip:x@h>")]);
    assert_eq!(r.status, 403);
    // 1002's credentials, 1001's address of record
    let first = rig.register("1001", &[]);
    let ch = rig.send(&first);
    let offer = Challenge::parse(ch.headers.values("WWW-Authenticate")[1]).expect("md5");
    let mut req = rig.register("1001", &[("Contact", "<sip:x@h>")]);
    let auth = offer.authorization(
        "1002",
        "other-secret-2",
        "REGISTER",
        "sip:127.0.0.1",
        "c",
        1,
    );
    req.headers.push("Authorization", auth);
    assert_eq!(rig.send(&req).status, 403);
    let unknown = rig
        .events()
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                RegistrarEvent::AuthFailed {
                    failure: DigestFailure::UnknownUser,
                    ..
                }
            )
        })
        .count();
    assert_eq!(unknown, 2);
    assert_eq!(rig.reg.bindings().count(), 0);
}

#[test]
fn repeated_wrong_passwords_lock_that_source_out_for_the_window() {
    let mut rig = Rig::with(RegistrarConfig {
        max_failures: 3,
        failure_window: Duration::from_secs(60),
        ..RegistrarConfig::default()
    });
    for _ in 0..3 {
        assert_eq!(rig.register_with("1001", "guess", "MD5", &[]).status, 403);
    }
    let r = rig.register_with("1001", PASSWORD, "MD5", &[]);
    assert_eq!(r.status, 403, "locked out even with the right password");
    assert!(r.reason.contains("too many"), "{}", r.reason);
    // another address is not locked out
    rig.phone = "127.0.0.2:5099".parse().expect("addr");
    assert_eq!(rig.register_with("1001", PASSWORD, "MD5", &[]).status, 200);
    rig.phone = "127.0.0.1:5099".parse().expect("addr");
    rig.now += Duration::from_secs(61);
    rig.reg.handle_timeout(rig.now);
    assert_eq!(rig.register_with("1001", PASSWORD, "MD5", &[]).status, 200);
}

#[test]
fn stale_nonce_with_the_right_password_is_retried_without_asking() {
    let mut rig = Rig::new();
    let contact = [("Contact", "<sip:1001@127.0.0.1:5099>")];
    let first = rig.register("1001", &contact);
    let ch = rig.send(&first);
    let ok = rig.answer(&ch, "1001", PASSWORD, "SHA-256", 1, &contact);
    assert_eq!(rig.send(&ok).status, 200);
    // nonce-count 1 again with the same nonce: a replay
    let replay = rig.answer(&ch, "1001", PASSWORD, "SHA-256", 1, &contact);
    let r = rig.send(&replay);
    assert_eq!(r.status, 401);
    assert!(
        !Challenge::parse(r.headers.values("WWW-Authenticate")[0])
            .expect("c")
            .stale
    );
    assert!(rig.events().iter().any(|e| matches!(
        e,
        RegistrarEvent::AuthFailed {
            failure: DigestFailure::Replay,
            ..
        }
    )));
    // the next count works
    let next = rig.answer(&ch, "1001", PASSWORD, "SHA-256", 2, &contact);
    assert_eq!(rig.send(&next).status, 200);
    // after the lifetime: stale=true whatever the password (the nonce is checked first, so a
    // guess made with an old nonce learns nothing and is not counted)
    rig.now += Duration::from_secs(301);
    let late = rig.answer(&ch, "1001", PASSWORD, "SHA-256", 3, &contact);
    let r = rig.send(&late);
    assert_eq!(r.status, 401);
    assert!(
        Challenge::parse(r.headers.values("WWW-Authenticate")[0])
            .expect("c")
            .stale
    );
    let late_wrong = rig.answer(&ch, "1001", "guess", "SHA-256", 4, &contact);
    let r = rig.send(&late_wrong);
    assert_eq!(r.status, 401);
    assert!(
        Challenge::parse(r.headers.values("WWW-Authenticate")[0])
            .expect("c")
            .stale
    );
    assert!(
        !rig.events().iter().any(|e| matches!(
            e,
            RegistrarEvent::AuthFailed {
                failure: DigestFailure::WrongPassword,
                ..
            }
        )),
        "not a counted failure"
    );
    // a nonce of an earlier process (another key) is stale too
    let mut other = Registrar::with_seed(RegistrarConfig::default(), 99, rig.now);
    other.set_accounts(vec![account(7, "1001", PASSWORD)]);
    let foreign = other.handle_register(&rig.register("1001", &[]), rig.phone, rig.now);
    let req = rig.answer(&foreign, "1001", PASSWORD, "MD5", 1, &contact);
    let r = rig.send(&req);
    assert_eq!(r.status, 401);
    assert!(
        Challenge::parse(r.headers.values("WWW-Authenticate")[0])
            .expect("c")
            .stale
    );
    // a made-up nonce (here: another key's) with a wrong password learns nothing either
    let guess = rig.answer(&foreign, "1001", "guess", "MD5", 2, &contact);
    let r = rig.send(&guess);
    assert_eq!(r.status, 401, "a fresh challenge, not 403");
    assert!(
        Challenge::parse(r.headers.values("WWW-Authenticate")[0])
            .expect("c")
            .stale
    );
    // expired nonces are forgotten
    rig.reg.handle_timeout(rig.now);
    assert_eq!(rig.reg.digest.remembered(), 0);
}

fn invite(from_user: &str, auth: Option<String>) -> Request {
    let mut r = Request::new(
        Method::Invite,
        SipUri::parse("sip:+8613800000001@127.0.0.1").expect("uri"),
    );
    r.headers
        .push("Via", "SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-inv");
    r.headers
        .push("From", format!("<sip:{from_user}@127.0.0.1>;tag=a"));
    r.headers.push("To", "<sip:+8613800000001@127.0.0.1>");
    r.headers.push("Call-ID", "inv@phone");
    r.headers.push("CSeq", "1 INVITE");
    r.headers.push("Contact", "<sip:1001@127.0.0.1:5099>");
    if let Some(a) = auth {
        r.headers.push("Proxy-Authorization", a);
    }
    r
}

#[test]
fn invites_from_agent_extensions_are_challenged_with_407() {
    let mut rig = Rig::new();
    let (phone, now) = (rig.phone, rig.now);
    assert_eq!(
        rig.reg
            .authenticate_invite(&invite("+8613900000002", None), phone, now),
        InviteAuth::NotAgent
    );
    let InviteAuth::Refused(ch) = rig
        .reg
        .authenticate_invite(&invite("1001", None), phone, now)
    else {
        panic!("challenged");
    };
    assert_eq!(ch.status, 407);
    let offer = Challenge::parse(ch.headers.values("Proxy-Authenticate")[0]).expect("offer");
    let uri = "sip:+8613800000001@127.0.0.1";
    let good = offer.authorization("1001", PASSWORD, "INVITE", uri, "c", 1);
    assert_eq!(
        rig.reg
            .authenticate_invite(&invite("1001", Some(good)), phone, now),
        InviteAuth::Agent(AgentIdentity {
            user_id: 7,
            extension: "1001".into()
        })
    );
    let bad = offer.authorization("1001", "guess", "INVITE", uri, "c", 2);
    let InviteAuth::Refused(r) =
        rig.reg
            .authenticate_invite(&invite("1001", Some(bad)), phone, now)
    else {
        panic!("refused");
    };
    assert_eq!(r.status, 403);
    // 1002's credentials do not place calls as 1001
    let other = offer.authorization("1002", "other-secret-2", "INVITE", uri, "c", 3);
    let InviteAuth::Refused(r) =
        rig.reg
            .authenticate_invite(&invite("1001", Some(other)), phone, now)
    else {
        panic!("refused");
    };
    assert_eq!(r.status, 403);
    let failed = rig
        .events()
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                RegistrarEvent::AuthFailed {
                    method: Method::Invite,
                    ..
                }
            )
        })
        .count();
    assert_eq!(failed, 2);
}
