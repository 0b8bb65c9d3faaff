//! SDP parser and offer/answer on arbitrary bytes: never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use suifang::media::g711::G711;
use suifang::sip::negotiate::{negotiate, LocalMedia};
use suifang::sip::sdp::SessionDescription;

fuzz_target!(|data: &[u8]| {
    if let Ok(sdp) = SessionDescription::parse(data) {
        let _ = sdp.to_string();
        if let Ok(m) = negotiate(&sdp, &[G711::Pcmu, G711::Pcma]) {
            let local = LocalMedia::g711([127, 0, 0, 1].into(), 20000, 1);
            let _ = local.answer(&m).to_string();
        }
    }
});
