//! Real-world offer shapes (Chromium, Firefox, OBS, aiortc): each parses, negotiates as
//! expected, and yields an answer that our own parser reads back.

// Setup helpers outside #[test] functions fail the test by panicking, like the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use shardcast_control::{
    CodecName, DtlsRole, Fingerprint, MediaAnswer, MediaKind, Role, SessionAnswer,
};
use shardcast_signaling::sdp::answer::{AnswerInput, write_answer};
use shardcast_signaling::sdp::negotiate::{
    AnswerLine, Negotiated, PublisherCodecs, Refusal, negotiate,
};
use shardcast_signaling::sdp::offer::Offer;

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

fn negotiated(name: &str, role: Role, publisher: Option<&PublisherCodecs>) -> Negotiated {
    negotiate(&Offer::parse(&fixture(name)).unwrap(), role, publisher).unwrap()
}

fn engine_answer(negotiated: &Negotiated, play: bool) -> SessionAnswer {
    SessionAnswer {
        session: "s".into(),
        ice_ufrag: "engineufrag".into(),
        ice_pwd: "enginepassword0123456789".into(),
        fingerprint: Fingerprint {
            algorithm: "sha-256".into(),
            value: vec![0xab; 32],
        },
        candidates: vec![
            "203.0.113.5:40000".parse().unwrap(),
            "[2001:db8::5]:40000".parse().unwrap(),
        ],
        media: negotiated
            .media_sections()
            .iter()
            .map(|m| MediaAnswer {
                mid: m.mid.clone(),
                ssrc: play.then_some(1111),
                rtx_ssrc: play.then_some(2222),
            })
            .collect(),
        cname: "shardcast".into(),
    }
}

fn answer_text(negotiated: &Negotiated, role: Role) -> String {
    write_answer(&AnswerInput {
        negotiated,
        engine: &engine_answer(negotiated, role == Role::Play),
        role,
        stream: "demo",
        origin_id: 42,
    })
}

#[test]
fn chrome_publisher_gets_its_first_codec_with_rtx() {
    let negotiated = negotiated("chrome_publish.sdp", Role::Publish, None);
    assert_eq!(negotiated.remote_ufrag, "Hk3x");
    assert_eq!(negotiated.dtls_role, DtlsRole::Server);
    assert_eq!(negotiated.remote_fingerprint.value.len(), 32);
    let sections = negotiated.media_sections();
    assert_eq!(sections.len(), 2);
    let audio = &sections[0];
    assert_eq!(audio.kind, MediaKind::Audio);
    assert_eq!(audio.codecs.len(), 1);
    assert_eq!(audio.codecs[0].name, CodecName::Opus);
    assert_eq!(audio.codecs[0].channels, Some(2));
    assert_eq!(audio.codecs[0].feedback, vec!["transport-cc"]);
    let video = &sections[1];
    assert_eq!(video.codecs.len(), 1);
    let vp8 = &video.codecs[0];
    assert_eq!(
        (vp8.name, vp8.payload_type, vp8.rtx_payload_type),
        (CodecName::Vp8, 96, Some(97))
    );
    assert_eq!(
        vp8.feedback,
        vec!["transport-cc", "ccm fir", "nack", "nack pli"]
    );
    let uris: Vec<&str> = video.extensions.iter().map(|e| e.uri.as_str()).collect();
    assert!(uris.contains(&"urn:ietf:params:rtp-hdrext:sdes:mid"));
    assert!(uris.iter().any(|u| u.contains("transport-wide-cc")));
    assert!(!uris.iter().any(|u| u.contains("rtp-stream-id")));
    assert_eq!(video.ssrcs, vec![2001, 2002]);
    assert_eq!(video.rtx_pairs, vec![(2001, 2002)]);
}

#[test]
fn h264_first_prefers_constrained_baseline_mode_1() {
    let negotiated = negotiated("chrome_publish_h264.sdp", Role::Publish, None);
    let video = &negotiated.media_sections()[1];
    let h264 = &video.codecs[0];
    assert_eq!(h264.name, CodecName::H264);
    assert_eq!(h264.payload_type, 106);
    assert_eq!(h264.rtx_payload_type, Some(107));
    assert!(h264.fmtp.contains("profile-level-id=42e01f"));
}

#[test]
fn firefox_datachannel_is_rejected_with_port_zero() {
    let negotiated = negotiated("firefox_publish.sdp", Role::Publish, None);
    assert!(matches!(negotiated.lines[2], AnswerLine::Rejected(_)));
    let sections = negotiated.media_sections();
    assert_eq!(sections.len(), 2);
    assert_eq!(sections[1].codecs[0].name, CodecName::Vp8);
    assert_eq!(sections[1].codecs[0].rtx_payload_type, Some(124));
    let answer = answer_text(&negotiated, Role::Publish);
    assert!(answer.contains("m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n"));
    assert!(answer.contains("a=group:BUNDLE 0 1\r\n"));
    let reparsed = Offer::parse(&answer).unwrap();
    assert_eq!(reparsed.media.len(), 3);
    assert_eq!(reparsed.media[2].port, 0);
}

#[test]
fn obs_session_level_transport_and_lf_endings() {
    let negotiated = negotiated("obs_whip.sdp", Role::Publish, None);
    assert_eq!(negotiated.remote_ufrag, "PZyD");
    assert_eq!(negotiated.remote_pwd, "0pZlHHa8tJFkXSVzQfkSL1");
    let sections = negotiated.media_sections();
    assert_eq!(sections[1].codecs[0].name, CodecName::H264);
    assert_eq!(sections[1].codecs[0].rtx_payload_type, None);
    assert_eq!(sections[0].ssrcs, vec![3962413406]);
}

#[test]
fn viewer_without_publisher_keeps_every_supported_codec() {
    let negotiated = negotiated("chrome_whep.sdp", Role::Play, None);
    let names: Vec<CodecName> = negotiated.media_sections()[1]
        .codecs
        .iter()
        .map(|c| c.name)
        .collect();
    // VP8, H264 42001f, H264 42e01f, H264 4d001f, H264 64001f, AV1, VP9 (mode-0 H264 dropped).
    assert_eq!(names.len(), 7);
    assert_eq!(names.first(), Some(&CodecName::Vp8));
    assert!(names.contains(&CodecName::Av1) && names.contains(&CodecName::Vp9));
    // The engine answers the viewer's NACKs, in RTX where the viewer offered it.
    let vp8 = &negotiated.media_sections()[1].codecs[0];
    assert_eq!(vp8.rtx_payload_type, Some(97));
    assert!(
        vp8.feedback.iter().any(|f| f == "nack"),
        "{:?}",
        vp8.feedback
    );
}

#[test]
fn viewer_gets_transport_wide_congestion_control() {
    const TRANSPORT_WIDE_CC: &str =
        "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
    let viewer = negotiated("chrome_whep.sdp", Role::Play, None);
    for section in viewer.media_sections() {
        assert!(
            section
                .extensions
                .iter()
                .any(|e| e.id == 3 && e.uri == TRANSPORT_WIDE_CC),
            "{:?}",
            section.extensions
        );
        assert!(
            section.codecs[0]
                .feedback
                .iter()
                .any(|f| f == "transport-cc"),
            "{:?}",
            section.codecs[0].feedback
        );
    }
    let answer = answer_text(&viewer, Role::Play);
    for line in [
        format!("a=extmap:3 {TRANSPORT_WIDE_CC}"),
        "a=rtcp-fb:111 transport-cc".to_owned(),
        "a=rtcp-fb:96 transport-cc".to_owned(),
    ] {
        assert!(
            answer.contains(&format!("{line}\r\n")),
            "missing {line:?} in\n{answer}"
        );
    }
}

#[test]
fn publisher_gets_transport_wide_congestion_control() {
    const TRANSPORT_WIDE_CC: &str =
        "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
    let publisher = negotiated("chrome_publish.sdp", Role::Publish, None);
    for section in publisher.media_sections() {
        assert!(
            section
                .extensions
                .iter()
                .any(|e| e.id == 3 && e.uri == TRANSPORT_WIDE_CC),
            "{:?}",
            section.extensions
        );
    }
    let answer = answer_text(&publisher, Role::Publish);
    for line in [
        format!("a=extmap:3 {TRANSPORT_WIDE_CC}"),
        "a=rtcp-fb:111 transport-cc".to_owned(),
        "a=rtcp-fb:96 transport-cc".to_owned(),
    ] {
        assert!(
            answer.contains(&format!("{line}\r\n")),
            "missing {line:?} in\n{answer}"
        );
    }
    // Each m-line answers it once, audio and video alike.
    assert_eq!(answer.matches(TRANSPORT_WIDE_CC).count(), 2, "{answer}");
}

#[test]
fn viewer_keeps_only_codecs_matching_the_publisher() {
    let publisher = negotiated("obs_whip.sdp", Role::Publish, None).chosen_codecs();
    let viewer = negotiated("aiortc_whep.sdp", Role::Play, Some(&publisher));
    let video = &viewer.media_sections()[1];
    // OBS sends Constrained Baseline (42e0): aiortc's 42001f (Baseline) does not match.
    assert_eq!(video.codecs.len(), 1);
    assert_eq!(
        (
            video.codecs[0].payload_type,
            video.codecs[0].rtx_payload_type
        ),
        (101, Some(102))
    );
    assert_eq!(viewer.media_sections()[0].codecs[0].payload_type, 96);
}

#[test]
fn viewer_with_no_matching_codec_is_refused_with_the_reason() {
    let publisher = negotiated("chrome_publish.sdp", Role::Publish, None).chosen_codecs();
    let offer =
        fixture("aiortc_whep.sdp").replace("a=rtpmap:97 VP8/90000", "a=rtpmap:97 VP9/90000");
    let refusal =
        negotiate(&Offer::parse(&offer).unwrap(), Role::Play, Some(&publisher)).unwrap_err();
    match refusal {
        Refusal::NoCommonCodec(reason) => assert_eq!(
            reason,
            "no common codec: stream sends VP8, offer has VP9, H264"
        ),
        other => panic!("expected 406, got {other:?}"),
    }
}

#[test]
fn viewer_answer_carries_sender_ssrcs_and_reparses() {
    let negotiated = negotiated("chrome_whep.sdp", Role::Play, None);
    let answer = answer_text(&negotiated, Role::Play);
    for line in [
        "a=ice-lite",
        "a=msid-semantic: WMS",
        "a=sendonly",
        "a=setup:passive",
        "a=msid:demo video-1",
        "a=ssrc-group:FID 1111 2222",
        "a=ssrc:2222 cname:shardcast",
        "c=IN IP4 203.0.113.5",
        "a=candidate:2 1 udp 2130706175 2001:db8::5 40000 typ host",
        "a=end-of-candidates",
        "a=rtcp-rsize",
    ] {
        assert!(
            answer.contains(&format!("{line}\r\n")),
            "missing {line:?} in\n{answer}"
        );
    }
    let fingerprint = format!("a=fingerprint:sha-256 {}\r\n", vec!["AB"; 32].join(":"));
    assert!(answer.contains(&fingerprint));
    let reparsed = Offer::parse(&answer).unwrap();
    assert_eq!(reparsed.bundle, Some(vec!["0".to_owned(), "1".to_owned()]));
    assert_eq!(reparsed.media[1].port, 40000);
    assert_eq!(reparsed.media[1].ice_ufrag.as_deref(), Some("engineufrag"));
    let codecs = &negotiated.media_sections()[1].codecs;
    let with_rtx = codecs
        .iter()
        .filter(|c| c.rtx_payload_type.is_some())
        .count();
    assert_eq!(reparsed.media[1].payloads.len(), codecs.len() + with_rtx);
}

#[test]
fn publisher_answer_is_recvonly_with_one_codec_and_rtx() {
    let negotiated = negotiated("chrome_publish.sdp", Role::Publish, None);
    let answer = answer_text(&negotiated, Role::Publish);
    assert!(answer.contains("m=video 40000 UDP/TLS/RTP/SAVPF 96 97\r\n"));
    assert!(answer.contains("a=recvonly\r\n"));
    assert!(!answer.contains("a=ssrc"));
    assert!(!answer.contains("simulcast"));
    let reparsed = Offer::parse(&answer).unwrap();
    let video = &reparsed.media[1];
    assert_eq!(video.payloads.len(), 2);
    assert_eq!(video.payloads[1].fmtp, "apt=96");
    assert_eq!(
        video.setup,
        Some(shardcast_signaling::sdp::offer::Setup::Passive)
    );
}

#[test]
fn offer_errors_are_specific() {
    let chrome = fixture("chrome_publish.sdp");
    let refuse =
        |text: &str| negotiate(&Offer::parse(text).unwrap(), Role::Publish, None).unwrap_err();
    let no_bundle = chrome.replace("a=group:BUNDLE 0 1\r\n", "");
    assert!(matches!(refuse(&no_bundle), Refusal::BadOffer(r) if r.contains("BUNDLE")));
    let no_ufrag = chrome.replace("a=ice-ufrag:Hk3x\r\n", "");
    assert!(matches!(refuse(&no_ufrag), Refusal::BadOffer(r) if r.contains("ice-ufrag")));
    let no_pwd = chrome.replace("a=ice-pwd:k2hJd83jdkeLk2mdk38fkeo1\r\n", "");
    assert!(matches!(refuse(&no_pwd), Refusal::BadOffer(r) if r.contains("ice-pwd")));
    let no_setup = chrome.replace("a=setup:actpass\r\n", "");
    assert!(matches!(refuse(&no_setup), Refusal::BadOffer(r) if r.contains("setup")));
    let no_fingerprint: String = chrome
        .lines()
        .filter(|l| !l.starts_with("a=fingerprint"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(matches!(refuse(&no_fingerprint), Refusal::BadOffer(r) if r.contains("fingerprint")));
    let data_only = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:0\r\n";
    assert!(matches!(refuse(data_only), Refusal::BadOffer(r) if r.contains("no audio or video")));
    let pcmu_only = fixture("obs_whip.sdp")
        .replace("a=rtpmap:111 opus/48000/2", "a=rtpmap:111 PCMU/8000")
        .replace("a=rtpmap:96 H264/90000", "a=rtpmap:96 H265/90000");
    assert!(matches!(refuse(&pcmu_only), Refusal::NoCommonCodec(r) if r.contains("PCMU, H265")));
}

#[test]
fn setup_passive_makes_us_the_dtls_client() {
    let offer = fixture("obs_whip.sdp").replace("a=setup:actpass", "a=setup:passive");
    let negotiated = negotiate(&Offer::parse(&offer).unwrap(), Role::Publish, None).unwrap();
    assert_eq!(negotiated.dtls_role, DtlsRole::Client);
    assert!(answer_text(&negotiated, Role::Publish).contains("a=setup:active\r\n"));
}
