//! SIP parser on arbitrary bytes: datagram and stream framing must never panic; whatever
//! parses must validate or fail cleanly, and must serialise to something that parses again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use suifang::sip::parse::{parse_datagram, parse_stream};
use suifang::sip::Message;

fuzz_target!(|data: &[u8]| {
    let _ = parse_stream(data);
    if let Ok(msg) = parse_datagram(data) {
        let _ = match &msg {
            Message::Request(r) => r.validate(),
            Message::Response(r) => r.validate(),
        };
        let again = parse_datagram(&msg.to_bytes());
        assert!(again.is_ok(), "serialised message no longer parses: {again:?}");
    }
});
