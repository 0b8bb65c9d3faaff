use super::*;
use crate::sip::sdp::SessionDescription;

fn local() -> LocalMedia {
    LocalMedia::g711("127.0.0.1".parse().expect("ip"), 20000, 42)
}

fn sdp(media: &str) -> SessionDescription {
    let text =
        format!("v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n{media}");
    SessionDescription::parse(text.as_bytes()).expect("valid test SDP")
}

#[test]
fn offer_has_pcmu_pcma_and_telephone_event() {
    let offer = local().offer();
    let text = offer.to_string();
    for line in [
        "m=audio 20000 RTP/AVP 0 8 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-15",
        "c=IN IP4 127.0.0.1",
        "a=sendrecv",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    // Our own offer negotiates against itself.
    let n = negotiate(&offer, &[G711::Pcmu, G711::Pcma]).expect("self-compatible");
    assert_eq!((n.codec, n.telephone_event_pt), (G711::Pcmu, Some(101)));
}

/// Table: remote media section -> (codec, pt, dtmf pt, remote holds, remote addr present).
#[test]
fn negotiation_table() {
    type Want = (G711, u8, Option<u8>, bool, bool);
    let cases: &[(&str, Want)] = &[
        (
            "m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n",
            (G711::Pcmu, 0, Some(101), false, true),
        ),
        (
            "m=audio 4000 RTP/AVP 8 0\r\n",
            (G711::Pcma, 8, None, false, true),
        ),
        (
            "m=audio 4000 RTP/AVP 18 8\r\n",
            (G711::Pcma, 8, None, false, true),
        ),
        (
            "m=audio 4000 RTP/AVP 96 0\r\na=rtpmap:96 PCMA/8000\r\n",
            (G711::Pcma, 96, None, false, true),
        ),
        (
            "m=audio 4000 RTP/AVP 0\r\na=sendonly\r\n",
            (G711::Pcmu, 0, None, true, true),
        ),
        (
            "m=audio 4000 RTP/AVP 0\r\na=inactive\r\n",
            (G711::Pcmu, 0, None, true, true),
        ),
        (
            "m=audio 4000 RTP/AVP 0\r\nc=IN IP4 0.0.0.0\r\n",
            (G711::Pcmu, 0, None, true, false),
        ),
        (
            "m=audio 0 RTP/AVP 0\r\n",
            (G711::Pcmu, 0, None, true, false),
        ),
    ];
    for (media, want) in cases {
        let n = negotiate(&sdp(media), &[G711::Pcmu, G711::Pcma])
            .unwrap_or_else(|e| panic!("{media}: {e}"));
        assert_eq!(
            (
                n.codec,
                n.payload_type,
                n.telephone_event_pt,
                n.remote_holds(),
                n.remote.is_some()
            ),
            *want,
            "{media}"
        );
    }
}

#[test]
fn no_common_codec_is_a_clear_error() {
    for media in [
        "m=audio 4000 RTP/AVP 18 9\r\n",
        "m=video 4000 RTP/AVP 0\r\n",
        "m=audio 4000 RTP/SAVP 0\r\n",
        "m=audio 4000 RTP/AVP 96\r\na=rtpmap:96 opus/48000/2\r\n",
    ] {
        assert!(
            matches!(
                negotiate(&sdp(media), &[G711::Pcmu, G711::Pcma]),
                Err(SipError::NoCommonCodec(_))
            ),
            "{media}"
        );
    }
    assert!(negotiate(&sdp("m=audio 4000 RTP/AVP 8\r\n"), &[G711::Pcmu]).is_err());
}

/// RFC 3264 §8.4: a sendonly re-offer (hold) is answered recvonly; inactive with inactive.
#[test]
fn answer_directions_for_hold() {
    for (remote, want) in [
        ("sendonly", "a=recvonly"),
        ("inactive", "a=inactive"),
        ("sendrecv", "a=sendrecv"),
        ("recvonly", "a=sendonly"),
    ] {
        let offer = sdp(&format!(
            "m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na={remote}\r\n"
        ));
        let n = negotiate(&offer, &[G711::Pcmu]).expect("negotiates");
        let answer = local().answer(&n).to_string();
        assert!(answer.contains(want), "{remote}: {answer}");
        assert!(
            answer.contains("m=audio 20000 RTP/AVP 0 101"),
            "only chosen codec: {answer}"
        );
    }
    // We hold (sendonly) and they offer sendrecv: answer sendonly.
    let mut l = local();
    l.direction = Direction::SendOnly;
    let n = negotiate(&sdp("m=audio 4000 RTP/AVP 0\r\n"), &[G711::Pcmu]).expect("negotiates");
    assert!(l.answer(&n).to_string().contains("a=sendonly"));
}

#[test]
fn srtp_offer_and_answer_carry_savp_and_the_offers_crypto_tag() {
    let ours = local().with_srtp(MasterKey::random());
    let offer = ours.offer().to_string();
    assert!(offer.contains("m=audio 20000 RTP/SAVP 0 8 101"), "{offer}");
    assert!(
        offer.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"),
        "{offer}"
    );
    // a trunk's offer with two suites: ours is taken, with its tag
    let theirs = sdp("m=audio 4000 RTP/SAVP 0 101\r\n\
         a=crypto:1 AEAD_AES_128_GCM inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n\
         a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n\
         a=rtpmap:101 telephone-event/8000\r\n");
    let n = negotiate_with(&theirs, &[G711::Pcmu], SrtpPolicy::Mandatory).expect("srtp offer");
    assert_eq!(n.crypto.as_ref().map(|c| c.tag), Some(2));
    let answer = ours.answer(&n).to_string();
    assert!(answer.contains("m=audio 20000 RTP/SAVP 0 101"), "{answer}");
    assert!(
        answer.contains("a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:"),
        "{answer}"
    );
    assert!(
        !answer.contains("PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"),
        "our own key, not theirs"
    );
}

#[test]
fn mandatory_srtp_refuses_plain_or_keyless_offers_and_off_refuses_savp() {
    let plain = sdp("m=audio 4000 RTP/AVP 0\r\n");
    let keyless = sdp("m=audio 4000 RTP/SAVP 0\r\n");
    let other_suite =
        sdp("m=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n");
    for (what, offer) in [
        ("plain", &plain),
        ("keyless", &keyless),
        ("other suite", &other_suite),
    ] {
        let e = negotiate_with(offer, &[G711::Pcmu], SrtpPolicy::Mandatory)
            .expect_err(what)
            .to_string();
        assert!(e.contains("SRTP is mandatory"), "{what}: {e}");
    }
    assert!(negotiate_with(&keyless, &[G711::Pcmu], SrtpPolicy::Off).is_err());
    assert!(negotiate_with(&plain, &[G711::Pcmu], SrtpPolicy::Off)
        .expect("plain RTP without SRTP")
        .crypto
        .is_none());
}
