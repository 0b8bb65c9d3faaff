//! Bindings: expiry values, refresh, removal, ordering, limits, restart.

use super::*;

#[test]
fn expires_table() {
    // (headers, status, granted seconds of the one contact or None)
    type Headers<'a> = &'a [(&'a str, &'a str)];
    let cases: &[(Headers, u16, Option<u64>)] = &[
        (
            &[("Contact", "<sip:1001@h:1>"), ("Expires", "30")],
            423,
            None,
        ),
        (&[("Contact", "<sip:1001@h:1>;expires=59")], 423, None),
        (
            &[
                ("Contact", "<sip:1001@h:1>;expires=120"),
                ("Expires", "3000"),
            ],
            200,
            Some(120),
        ),
        (
            &[("Contact", "<sip:1001@h:1>"), ("Expires", "99999")],
            200,
            Some(3600),
        ),
        (&[("Contact", "<sip:1001@h:1>")], 200, Some(3600)),
        (
            &[
                ("Contact", "<sip:1001@h:1>;expires=junk"),
                ("Expires", "90"),
            ],
            200,
            Some(90),
        ),
        (&[("Contact", "*"), ("Expires", "60")], 400, None),
        (
            &[("Contact", "*, <sip:1001@h:1>"), ("Expires", "0")],
            400,
            None,
        ),
        (&[("Contact", "<tel:+123>")], 400, None),
    ];
    for (headers, status, granted) in cases {
        let mut rig = Rig::new();
        let r = rig.register_with("1001", PASSWORD, "MD5", headers);
        assert_eq!(r.status, *status, "{headers:?}: {r:?}");
        if r.status == 423 {
            assert_eq!(r.headers.get("Min-Expires"), Some("60"));
            assert_eq!(r.reason, "Interval Too Brief");
        }
        let got = contact_expires(&r).first().map(|c| c.1);
        assert_eq!(got, *granted, "{headers:?}");
        assert_eq!(
            rig.reg.bindings().count(),
            usize::from(granted.is_some()),
            "{headers:?}"
        );
    }
}

#[test]
fn refresh_unregister_and_star() {
    let mut rig = Rig::new();
    let a = [("Contact", "<sip:1001@127.0.0.1:5099>"), ("Expires", "600")];
    assert_eq!(rig.register_with("1001", PASSWORD, "MD5", &a).status, 200);
    rig.events();
    rig.now += Duration::from_secs(100);
    let r = rig.register_with("1001", PASSWORD, "MD5", &a);
    assert_eq!(r.status, 200);
    assert!(matches!(
        rig.events().as_slice(),
        [RegistrarEvent::Bound {
            refreshed: true,
            ..
        }]
    ));
    assert_eq!(
        rig.reg.binding("1001", rig.now).map(|b| b.expires_at),
        Some(rig.now + Duration::from_secs(600))
    );
    // a second phone for the same extension; a query lists both
    let b = [("Contact", "<sip:1001@127.0.0.1:6000>"), ("Expires", "300")];
    assert_eq!(rig.register_with("1001", PASSWORD, "MD5", &b).status, 200);
    let q = rig.register_with("1001", PASSWORD, "MD5", &[]);
    let mut listed = contact_expires(&q);
    listed.sort();
    assert_eq!(
        listed,
        vec![
            ("sip:1001@127.0.0.1:5099".to_owned(), 600),
            ("sip:1001@127.0.0.1:6000".to_owned(), 300)
        ]
    );
    // calls go to the one that lasts longest
    let best = rig.reg.binding("1001", rig.now).expect("bound");
    assert_eq!(best.contact.port, Some(5099));
    // Expires: 0 removes one
    let gone = [("Contact", "<sip:1001@127.0.0.1:6000>"), ("Expires", "0")];
    let r = rig.register_with("1001", PASSWORD, "MD5", &gone);
    assert_eq!(contact_expires(&r).len(), 1);
    rig.events();
    // * removes every binding
    let star = [("Contact", "*"), ("Expires", "0")];
    let r = rig.register_with("1001", PASSWORD, "MD5", &star);
    assert_eq!(r.status, 200);
    assert!(r.headers.values("Contact").is_empty());
    assert!(matches!(
        rig.events().as_slice(),
        [RegistrarEvent::Unbound {
            reason: UnbindReason::Unregistered,
            ..
        }]
    ));
    assert!(rig.reg.binding("1001", rig.now).is_none());
}

#[test]
fn an_old_cseq_on_the_same_call_id_is_out_of_order() {
    let mut rig = Rig::new();
    let a = [("Contact", "<sip:1001@127.0.0.1:5099>")];
    assert_eq!(rig.register_with("1001", PASSWORD, "MD5", &a).status, 200);
    let first = rig.register("1001", &a);
    let ch = rig.send(&first);
    let mut late = rig.answer(&ch, "1001", PASSWORD, "MD5", 1, &a);
    late.headers.set("CSeq", "1 REGISTER");
    assert_eq!(rig.send(&late).status, 500);
}

#[test]
fn bindings_expire_replace_the_oldest_and_follow_the_accounts() {
    let mut rig = Rig::with(RegistrarConfig {
        max_contacts: 2,
        ..RegistrarConfig::default()
    });
    for (port, secs) in [(1, "100"), (2, "200")] {
        let c = format!("<sip:1001@h:{port}>");
        let h = [("Contact", c.as_str()), ("Expires", secs)];
        assert_eq!(rig.register_with("1001", PASSWORD, "MD5", &h).status, 200);
    }
    assert_eq!(
        rig.reg.poll_timeout(),
        Some(rig.now + Duration::from_secs(100))
    );
    rig.events();
    let h = [("Contact", "<sip:1001@h:3>"), ("Expires", "300")];
    assert_eq!(rig.register_with("1001", PASSWORD, "MD5", &h).status, 200);
    let ev = rig.events();
    assert!(
        ev.iter().any(|e| matches!(e, RegistrarEvent::Unbound { binding, reason: UnbindReason::Replaced } if binding.contact.port == Some(1))),
        "{ev:?}"
    );
    rig.now += Duration::from_secs(200);
    rig.reg.handle_timeout(rig.now);
    let ev = rig.events();
    assert!(
        matches!(ev.as_slice(), [RegistrarEvent::Unbound { binding, reason: UnbindReason::Expired }] if binding.contact.port == Some(2)),
        "{ev:?}"
    );
    // a binding survives a restart while it lasts
    let kept = rig.reg.binding("1001", rig.now).expect("bound").clone();
    let mut after = Registrar::with_seed(RegistrarConfig::default(), 5, rig.now);
    after.set_accounts(vec![account(7, "1001", PASSWORD)]);
    after.restore(kept.clone(), rig.now);
    let mut expired = kept.clone();
    expired.contact = SipUri::parse("sip:1001@h:9").expect("uri");
    expired.expires_at = rig.now;
    after.restore(expired, rig.now);
    let mut someone_else = kept.clone();
    someone_else.user_id = 99;
    someone_else.contact = SipUri::parse("sip:1001@h:8").expect("uri");
    after.restore(someone_else, rig.now);
    assert_eq!(after.bindings().count(), 1);
    // a new password drops the bindings made with the old one
    after.set_accounts(vec![account(7, "1001", "a-new-password")]);
    assert!(matches!(
        after.poll_event(),
        Some(RegistrarEvent::Unbound {
            reason: UnbindReason::CredentialsChanged,
            ..
        })
    ));
    assert_eq!(after.bindings().count(), 0);
}
