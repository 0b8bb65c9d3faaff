//! The SIP endpoint (transactions + dialogs + the desk-phone registrar) on arbitrary traffic:
//! input is split on 0xFF into datagrams delivered with advancing time, after placing one
//! outbound call so that responses and in-dialog requests have state to hit, with one agent
//! account so REGISTER and INVITE credentials are checked. Must never panic.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use suifang::sip::negotiate::LocalMedia;
use suifang::sip::registrar::{AgentAccount, Ha1, Registrar, RegistrarConfig};
use suifang::sip::ua::{Endpoint, EndpointConfig};
use suifang::sip::uri::SipUri;

fuzz_target!(|data: &[u8]| {
    let cfg = EndpointConfig::new("127.0.0.1:5060".parse().expect("addr"));
    let mut ep = Endpoint::with_seed(cfg, 1);
    let mut now = Instant::now();
    let mut registrar = Registrar::with_seed(RegistrarConfig::default(), 1, now);
    registrar.set_accounts(vec![AgentAccount {
        user_id: 1,
        extension: "1001".into(),
        ha1: Ha1::compute("1001", "suifang", "desk-phone-1001"),
    }]);
    ep.set_registrar(Some(registrar));
    let target = SipUri::parse("sip:patient@127.0.0.1:5070").expect("uri");
    let media = LocalMedia::g711([127, 0, 0, 1].into(), 20000, 1);
    let _ = ep.place_call(target, media, now);
    let peer = "127.0.0.1:5070".parse().expect("addr");
    for chunk in data.split(|&b| b == 0xFF).filter(|c| !c.is_empty()) {
        ep.handle_datagram(chunk, peer, now);
        while ep.poll_output().is_some() {}
        now += Duration::from_millis(u64::from(chunk[0]) * 20);
        ep.handle_timeout(now);
        while ep.poll_output().is_some() {}
    }
});
