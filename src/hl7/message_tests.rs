use super::*;

const A03: &str = "MSH|^~\\&|HIS|HOSP|SUIFANG|HOSP|20261206083000||ADT^A03^ADT_A03|MSG0001|P|2.5\r\
EVN|A03|20261206083000\r\
PID|1||MRN001^^^HOSP^MR~ID9^^^GOV||ZHANG^WEI||19500101|M|||||+8613800000001\r\
PV1|1|I|CARD^301^1||||D01^LI^NA\r\
ZXT|whatever|we|ignore\r";

#[test]
fn fields_components_and_repetitions_are_numbered_as_hl7_numbers_them() {
    let m = parse(A03).unwrap();
    let msh = m.segment("MSH", 1).unwrap();
    assert_eq!(msh.raw(1), "|");
    assert_eq!(msh.raw(2), "^~\\&");
    assert_eq!(msh.raw(10), "MSG0001");
    assert_eq!(m.value("MSH", 9, 2), "A03");
    assert_eq!(m.value("PID", 5, 1), "ZHANG");
    assert_eq!(m.value("PID", 5, 2), "WEI");
    assert_eq!(m.value("PV1", 3, 1), "CARD");
    let ids = m.repetitions(m.segment("PID", 1).unwrap().raw(3));
    assert_eq!(ids.len(), 2);
    assert_eq!(m.component(ids[1], 4), "GOV");
    // absent fields and components are empty, not errors
    assert_eq!(m.value("PID", 30, 1), "");
    assert_eq!(m.value("PV1", 7, 9), "");
    assert_eq!(m.value("NK1", 2, 1), "");
    // Z-segments are kept; nothing reads them
    assert_eq!(m.segment("ZXT", 1).unwrap().raw(1), "whatever");
}

#[test]
fn every_segment_terminator_real_feeds_use_is_accepted() {
    for sep in ["\r", "\n", "\r\n", "\r\n\r\n"] {
        let text = A03.replace('\r', sep);
        let m = parse(&text).unwrap();
        assert_eq!(m.segments.len(), 5, "{sep:?}");
        assert_eq!(m.value("PID", 5, 1), "ZHANG", "{sep:?}");
    }
}

#[test]
fn escapes_are_decoded_when_read_and_never_split_a_field() {
    let text = "MSH|^~\\&|A|B|C|D|1||ORU^R01|1|P|2.5\rNTE|1||weight \\T\\ fluid\\F\\diet\\S\\salt\\R\\x\\E\\y\\.br\\next \\X4142\\ \\XE4B8AD\\ \\H\\bold\\N\\ \\Q\\\r";
    let m = parse(text).unwrap();
    assert_eq!(
        m.value("NTE", 3, 1),
        "weight & fluid|diet^salt~x\\y\nnext AB 中 bold \\Q\\"
    );
}

#[test]
fn an_unterminated_escape_is_literal() {
    let d = Delimiters::default();
    assert_eq!(unescape("a\\Fb", &d), "a\\Fb");
    assert_eq!(unescape("\\X4\\", &d), "\\X4\\");
}

#[test]
fn escape_round_trips_through_unescape() {
    let d = Delimiters::default();
    for v in ["plain", "a|b^c&d~e\\f", "两行\r\n文字", "lone\rcr", ""] {
        let back = unescape(&escape(v, &d), &d);
        assert_eq!(back, v.replace("\r\n", "\n"), "{v:?}");
    }
}

#[test]
fn other_delimiters_are_honoured() {
    let text = "MSH#$*@%#A#B#C#D#1##ADT$A08#9#P#2.3\rPID#1##M1##LI$NA\r";
    let m = parse(text).unwrap();
    assert_eq!(m.delimiters.component, '$');
    assert_eq!(m.delimiters.escape, Some('@'));
    assert_eq!(m.value("PID", 5, 2), "NA");
    assert_eq!(m.value("MSH", 9, 2), "A08");
}

#[test]
fn leading_noise_before_msh_is_skipped() {
    let m = parse(&format!("\u{feff}\r\n{A03}")).unwrap();
    assert_eq!(m.segments[0].id, "MSH");
}

#[test]
fn malformed_messages_are_refused_with_a_location() {
    let e = parse("PID|1||M1\r").unwrap_err();
    assert_eq!(e.code, ErrorCode::SegmentSequence);
    let e = parse("MSH|^|A\r").unwrap_err();
    assert_eq!(e.code, ErrorCode::DataType);
    assert_eq!(e.location.as_ref().map(|l| l.field), Some(2));
    let e = parse("MSH|^^\\&|A\r").unwrap_err();
    assert!(e.message.contains("distinct"), "{e}");
    let e = parse("MSH|^~\\&|A\rP|x\r").unwrap_err();
    assert!(e.message.contains("segment 2"), "{e}");
    let e = parse("MSH|^~\\&|A\rPIDX|x\r").unwrap_err();
    assert_eq!(e.code, ErrorCode::SegmentSequence);
}

#[test]
fn garbage_never_panics() {
    for text in [
        "",
        "MSH",
        "MSH|",
        "MSH||",
        "MSH|^~\\&",
        "MSH|^~\\&|\\",
        "MSH|^~\\&|\\X\\",
        "MSH|^~\\&|\\XZZ\\",
        "MSH|^~\\&|\\X\u{e9}\u{e9}\\",
        "MSH\u{e9}^~\\&|a",
        "MSH|^~\\&|a\r中文|x",
    ] {
        let _ = parse(text).map(|m| m.value("MSH", 3, 1));
    }
}
