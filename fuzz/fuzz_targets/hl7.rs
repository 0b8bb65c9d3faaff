//! HL7 v2 off the wire: MLLP framing, charset decoding, parsing, header checks and the ACK
//! built for whatever came in never panic, and every ACK parses back with MSA-2 echoing MSH-10.
#![no_main]

use libfuzzer_sys::fuzz_target;
use suifang::hl7::ack::{build, reply_context, Replier};
use suifang::hl7::charset::{decode_message, Charset};
use suifang::hl7::header::Header;
use suifang::hl7::message::parse;
use suifang::hl7::mllp::{Frame, MllpDecoder};

fuzz_target!(|data: &[u8]| {
    let mut decoder = MllpDecoder::new(4096);
    let mut frames = decoder.push(data).unwrap_or_default();
    frames.push(Frame::Message(data.to_vec()));
    let me = Replier {
        application: "SUIFANG".into(),
        facility: "H".into(),
    };
    for Frame::Message(bytes) in frames {
        let Ok((text, _)) = decode_message(&bytes, Charset::Gb18030) else {
            continue;
        };
        let parsed = parse(&text);
        let checked = parsed
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|m| Header::read(m).event().map(|_| ()));
        let (header, delimiters) = reply_context(&text);
        let ack = build(&header, &delimiters, checked.as_ref().map(|_| ()), &me, "1", "1", None);
        let back = parse(&ack).expect("our own ACK parses");
        // CR LF in an escaped value is written back as one line break
        assert_eq!(
            back.value("MSA", 2, 1),
            header.control_id.replace("\r\n", "\n")
        );
        if let Ok(m) = parsed {
            for s in &m.segments {
                let _ = m.value(&s.id, 3, 2);
            }
        }
    }
});
