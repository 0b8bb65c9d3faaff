//! RTP, RTCP and RFC 4733 parsers on arbitrary bytes: never panic; RTP that parses
//! re-serialises to the same header fields.
#![no_main]

use libfuzzer_sys::fuzz_target;
use suifang::rtp::dtmf::TelephoneEvent;
use suifang::rtp::rtcp::RtcpReport;
use suifang::rtp::RtpPacket;

fuzz_target!(|data: &[u8]| {
    let _ = RtcpReport::parse_compound(data);
    let _ = TelephoneEvent::parse(data);
    if let Ok(p) = RtpPacket::parse(data) {
        if let Ok(bytes) = p.to_bytes() {
            assert_eq!(RtpPacket::parse(&bytes).as_ref(), Ok(&p));
        }
    }
});
