//! Unit tests of the SIP configuration: environment overrides, validation, defaults.

use super::*;

#[test]
fn env_overrides_and_validation_name_the_key() {
    let mut c = SipConfig::default();
    c.apply_env(&|k| match k {
        "SUIFANG_SIP_BIND" => Some("127.0.0.1:0".into()),
        "SUIFANG_SIP_TRUNK" => Some("127.0.0.1:5070".into()),
        _ => None,
    })
    .unwrap();
    assert_eq!(c.bind.port(), 0);
    assert_eq!(c.domain().as_deref(), Some("127.0.0.1:5070"));
    assert_eq!(c.timer_t1_ms, 500, "RFC 3261's T1 by default");
    let err = c
        .apply_env(&|k| (k == "SUIFANG_SIP_TRUNK").then(|| "pbx".into()))
        .unwrap_err();
    assert!(err.to_string().contains("SUIFANG_SIP_TRUNK"), "{err}");
    c.username = Some("u".into());
    assert!(c
        .validate()
        .unwrap_err()
        .to_string()
        .contains("sip.username"));
    c.password = Some("p".into());
    c.validate().unwrap();
    c.rtp_port_max = c.rtp_port_min;
    assert!(c.validate().unwrap_err().to_string().contains("rtp_port"));
}

#[test]
fn trunk_pings_can_be_turned_off_from_the_env() {
    let mut c = SipConfig::default();
    let env = |v: &'static str| {
        move |k: &str| (k == "SUIFANG_SIP_OPTIONS_INTERVAL_SECONDS").then(|| v.to_string())
    };
    c.apply_env(&env("0")).unwrap();
    assert_eq!(c.options_interval_seconds, 0);
    let err = c.apply_env(&env("often")).unwrap_err().to_string();
    assert!(
        err.contains("SUIFANG_SIP_OPTIONS_INTERVAL_SECONDS"),
        "{err}"
    );
}

#[test]
fn timer_t1_comes_from_the_env_is_bounded_and_reaches_the_engine() {
    let mut c = SipConfig::default();
    c.apply_env(&|k| (k == "SUIFANG_SIP_TIMER_T1_MS").then(|| "50".into()))
        .unwrap();
    assert_eq!(c.timer_t1_ms, 50);
    c.validate().unwrap();
    let engine = c.engine_config(Path::new("/tmp")).unwrap();
    assert_eq!(engine.sip_t1, Duration::from_millis(50));
    let err = c
        .apply_env(&|k| (k == "SUIFANG_SIP_TIMER_T1_MS").then(|| "fast".into()))
        .unwrap_err();
    assert!(err.to_string().contains("SUIFANG_SIP_TIMER_T1_MS"), "{err}");
    for bad in [0, 9, 4_001] {
        let c = SipConfig {
            timer_t1_ms: bad,
            ..SipConfig::default()
        };
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("sip.timer_t1_ms"), "{bad}: {err}");
    }
}

#[test]
fn tls_and_srtp_keys_are_checked_and_name_the_key() {
    use crate::sip::sdes::SrtpPolicy;
    use crate::sip::ua::Transport;
    let udp = SipConfig::default();
    assert_eq!(udp.srtp_policy().unwrap(), SrtpPolicy::Off);
    let sdes_in_clear = SipConfig {
        srtp: Some(SrtpPolicy::Mandatory),
        ..SipConfig::default()
    };
    let err = sdes_in_clear.validate().unwrap_err().to_string();
    assert!(err.contains("sip.srtp"), "{err}");
    let mut tls = SipConfig {
        transport: Transport::Tls,
        trunk: Some("127.0.0.1:5061".parse().unwrap()),
        ..SipConfig::default()
    };
    assert_eq!(tls.srtp_policy().unwrap(), SrtpPolicy::Mandatory);
    let err = tls.validate().unwrap_err().to_string();
    assert!(err.contains("sip.tls_certificate"), "{err}");
    tls.tls_certificate = Some("/nonexistent/cert.pem".into());
    tls.tls_private_key = Some("/nonexistent/key.pem".into());
    let err = tls.validate().unwrap_err().to_string();
    assert!(err.contains("sip.tls_ca"), "verify needs a CA: {err}");
    tls.tls_ca = Some("/nonexistent/ca.pem".into());
    let err = tls.validate().unwrap_err().to_string();
    assert!(
        err.contains("sip.tls_certificate"),
        "unreadable file: {err}"
    );
    let s = tls.tls_settings().unwrap().expect("tls settings");
    assert_eq!((s.server_name.as_str(), s.verify), ("127.0.0.1", true));
    assert!(SipConfig::default().tls_settings().unwrap().is_none());
    let mut env = SipConfig::default();
    env.apply_env(&|k| (k == "SUIFANG_SIP_TRANSPORT").then(|| "TLS".into()))
        .unwrap();
    assert_eq!(env.transport, Transport::Tls);
}

#[test]
fn registrar_keys_are_checked_and_name_the_key() {
    let ok = SipConfig::default();
    let r = ok.registrar_config().unwrap();
    assert_eq!(r.algorithms, vec![Algorithm::Md5]);
    let both = SipConfig {
        registrar_algorithms: vec!["SHA-256".into(), "md5".into()],
        ..SipConfig::default()
    };
    assert_eq!(
        both.registrar_config().unwrap().algorithms,
        vec![Algorithm::Sha256, Algorithm::Md5]
    );
    assert_eq!((r.min_expires, r.max_expires), (60, 3600));
    type Edit = fn(&mut SipConfig);
    let cases: Vec<(Edit, &str)> = vec![
        (
            |c| c.registrar_algorithms = vec!["MD5-sess".into()],
            "sip.registrar_algorithms",
        ),
        (
            |c| c.registrar_algorithms = vec!["MD5".into(), "md5".into()],
            "sip.registrar_algorithms",
        ),
        (
            |c| c.registrar_algorithms.clear(),
            "sip.registrar_algorithms",
        ),
        (
            |c| c.registrar_min_expires = 7200,
            "sip.registrar_min_expires",
        ),
        (|c| c.registrar_realm = String::new(), "sip.registrar_realm"),
        (
            |c| c.registrar_nonce_seconds = 0,
            "sip.registrar_nonce_seconds",
        ),
        (|c| c.agent_ring_seconds = 0, "sip.agent_ring_seconds"),
        (|c| c.country_code = "+86".into(), "sip.country_code"),
    ];
    for (edit, key) in cases {
        let mut c = SipConfig::default();
        edit(&mut c);
        let err = c.validate().expect_err(key).to_string();
        assert!(err.contains(key), "{key}: {err}");
    }
}
