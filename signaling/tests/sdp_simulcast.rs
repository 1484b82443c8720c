//! Rid-based simulcast (RFC 8851, 8853) from a Chromium publisher: the layers the engine is
//! told about, lowest quality first, and the `a=rid`/`a=simulcast` lines of the answer.
//! Viewers never get simulcast, but do get REMB.

// Setup helpers outside #[test] functions fail the test by panicking, like the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use shardcast_control::{Fingerprint, MediaAnswer, Role, SessionAnswer};
use shardcast_signaling::sdp::answer::{AnswerInput, write_answer};
use shardcast_signaling::sdp::negotiate::{Negotiated, negotiate};
use shardcast_signaling::sdp::offer::Offer;

const RTP_STREAM_ID: &str = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id";
const REPAIRED_RTP_STREAM_ID: &str = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id";
const CHROME_RIDS: &str =
    "a=rid:q send\r\na=rid:h send\r\na=rid:f send\r\na=simulcast:send q;h;f\r\n";

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

fn chrome() -> String {
    fixture("chrome_simulcast_publish.sdp")
}

/// The Chromium offer with its rid and simulcast lines replaced by `lines`.
fn with_rids(lines: &str) -> String {
    let offer = chrome();
    assert!(offer.contains(CHROME_RIDS));
    offer.replace(CHROME_RIDS, lines)
}

fn negotiated(offer: &str, role: Role) -> Negotiated {
    negotiate(&Offer::parse(offer).unwrap(), role, None).unwrap()
}

fn video_layers(offer: &str) -> Vec<String> {
    negotiated(offer, Role::Publish).media_sections()[1]
        .simulcast
        .clone()
}

fn answer(negotiated: &Negotiated, role: Role) -> String {
    let engine = SessionAnswer {
        session: "s".into(),
        ice_ufrag: "engineufrag".into(),
        ice_pwd: "enginepassword0123456789".into(),
        fingerprint: Fingerprint {
            algorithm: "sha-256".into(),
            value: vec![0xab; 32],
        },
        candidates: vec!["203.0.113.5:40000".parse().unwrap()],
        media: negotiated
            .media_sections()
            .iter()
            .map(|m| MediaAnswer {
                mid: m.mid.clone(),
                ssrc: (role == Role::Play).then_some(1111),
                rtx_ssrc: None,
            })
            .collect(),
        cname: "shardcast".into(),
    };
    write_answer(&AnswerInput {
        negotiated,
        engine: &engine,
        role,
        stream: "demo",
        origin_id: 42,
    })
}

/// The answer's video m-section, from its `m=video` line to the end.
fn video_section(answer: &str) -> &str {
    &answer[answer.find("m=video").unwrap()..]
}

#[test]
fn chrome_simulcast_publisher_gets_three_layers_lowest_first() {
    let negotiated = negotiated(&chrome(), Role::Publish);
    let sections = negotiated.media_sections();
    assert!(sections[0].simulcast.is_empty(), "audio is never simulcast");
    let video = &sections[1];
    assert_eq!(video.simulcast, ["q", "h", "f"]);
    assert!(video.ssrcs.is_empty() && video.rtx_pairs.is_empty());
    let ids: Vec<(u8, &str)> = video
        .extensions
        .iter()
        .map(|e| (e.id, e.uri.as_str()))
        .collect();
    assert!(ids.contains(&(10, RTP_STREAM_ID)), "{ids:?}");
    assert!(ids.contains(&(11, REPAIRED_RTP_STREAM_ID)), "{ids:?}");
    assert!(ids.contains(&(4, "urn:ietf:params:rtp-hdrext:sdes:mid")));
}

#[test]
fn chrome_simulcast_answer_receives_every_rid() {
    let answer = answer(&negotiated(&chrome(), Role::Publish), Role::Publish);
    let expected = "m=video 40000 UDP/TLS/RTP/SAVPF 96 97\r\n\
        c=IN IP4 203.0.113.5\r\n\
        a=ice-ufrag:engineufrag\r\n\
        a=ice-pwd:enginepassword0123456789\r\n\
        a=fingerprint:sha-256 AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB\r\n\
        a=setup:passive\r\n\
        a=mid:1\r\n\
        a=extmap:14 urn:ietf:params:rtp-hdrext:toffset\r\n\
        a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n\
        a=extmap:13 urn:3gpp:video-orientation\r\n\
        a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n\
        a=extmap:5 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay\r\n\
        a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n\
        a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n\
        a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id\r\n\
        a=recvonly\r\n\
        a=rtcp-mux\r\n\
        a=rtcp-rsize\r\n\
        a=rtpmap:96 VP8/90000\r\n\
        a=rtcp-fb:96 transport-cc\r\n\
        a=rtcp-fb:96 ccm fir\r\n\
        a=rtcp-fb:96 nack\r\n\
        a=rtcp-fb:96 nack pli\r\n\
        a=rtpmap:97 rtx/90000\r\n\
        a=fmtp:97 apt=96\r\n\
        a=rid:q recv\r\n\
        a=rid:h recv\r\n\
        a=rid:f recv\r\n\
        a=simulcast:recv q;h;f\r\n\
        a=candidate:1 1 udp 2130706431 203.0.113.5 40000 typ host\r\n\
        a=end-of-candidates\r\n";
    assert_eq!(video_section(&answer), expected);
    // Our own parser reads the answer back: every recv rid is declared.
    let reparsed = Offer::parse(&answer).unwrap();
    assert!(
        reparsed.media[1].simulcast.is_empty(),
        "the answer sends nothing"
    );
}

#[test]
fn restrictions_rank_layers_and_the_answer_keeps_the_offer_order() {
    let offer = with_rids(
        "a=rid:a send max-width=1280;max-height=720\r\n\
         a=rid:b send max-width=320;max-height=180\r\n\
         a=rid:c send max-width=640;max-height=360\r\n\
         a=simulcast:send a;b;c\r\n",
    );
    assert_eq!(video_layers(&offer), ["b", "c", "a"]);
    let answer = answer(&negotiated(&offer, Role::Publish), Role::Publish);
    assert!(
        answer
            .contains("a=rid:a recv\r\na=rid:b recv\r\na=rid:c recv\r\na=simulcast:recv a;b;c\r\n")
    );
    let by_bitrate = with_rids(
        "a=rid:0 send max-br=2500000\r\na=rid:1 send max-br=150000\r\na=simulcast:send 0;1\r\n",
    );
    assert_eq!(video_layers(&by_bitrate), ["1", "0"]);
}

#[test]
fn well_known_names_rank_layers_without_restrictions() {
    let offer = with_rids(
        "a=rid:high send\r\na=rid:low send\r\na=rid:mid send\r\na=simulcast:send high;low;mid\r\n",
    );
    assert_eq!(video_layers(&offer), ["low", "mid", "high"]);
    let answer = answer(&negotiated(&offer, Role::Publish), Role::Publish);
    assert!(
        answer.contains("a=simulcast:recv high;low;mid\r\n"),
        "{answer}"
    );
    let unknown = with_rids("a=rid:x send\r\na=rid:a send\r\na=simulcast:send x;a\r\n");
    assert_eq!(video_layers(&unknown), ["x", "a"], "offer order stands");
}

#[test]
fn paused_rids_are_left_out_of_the_layers_and_the_answer() {
    let offer =
        with_rids("a=rid:q send\r\na=rid:h send\r\na=rid:f send\r\na=simulcast:send q;~h;f\r\n");
    assert_eq!(video_layers(&offer), ["q", "f"]);
    let answer = answer(&negotiated(&offer, Role::Publish), Role::Publish);
    assert!(answer.contains("a=rid:q recv\r\na=rid:f recv\r\na=simulcast:recv q;f\r\n"));
    assert!(!answer.contains("a=rid:h"), "{answer}");
}

#[test]
fn more_than_three_layers_keep_the_first_three() {
    let offer = with_rids(
        "a=rid:q send\r\na=rid:h send\r\na=rid:f send\r\na=rid:x send\r\n\
         a=simulcast:send q;h;f;x\r\n",
    );
    assert_eq!(video_layers(&offer), ["q", "h", "f"]);
    let answer = answer(&negotiated(&offer, Role::Publish), Role::Publish);
    assert!(answer.contains("a=simulcast:recv q;h;f\r\n"));
    assert!(!answer.contains("a=rid:x"));
}

#[test]
fn one_remaining_layer_is_no_simulcast() {
    let offer =
        with_rids("a=rid:q send\r\na=rid:h send\r\na=rid:f send\r\na=simulcast:send q;~h;~f\r\n");
    let negotiated = negotiated(&offer, Role::Publish);
    assert!(negotiated.media_sections()[1].simulcast.is_empty());
    let answer = answer(&negotiated, Role::Publish);
    assert!(
        !answer.contains("a=rid") && !answer.contains("simulcast"),
        "{answer}"
    );
    assert!(
        !answer.contains(RTP_STREAM_ID),
        "rids are only echoed with simulcast"
    );
}

#[test]
fn malformed_rid_lines_are_refused_with_the_reason() {
    let refuse = |lines: &str| Offer::parse(&with_rids(lines)).unwrap_err().to_string();
    let line = chrome()
        .split("\r\n")
        .position(|l| l == "a=rid:q send")
        .unwrap()
        + 1;
    assert_eq!(
        refuse("a=rid:q! send\r\n"),
        format!("invalid SDP at line {line}: invalid rid \"q!\": use letters, digits, - and _")
    );
    assert_eq!(
        refuse("a=rid:abcdefghijklmnopq send\r\n"),
        format!(
            "invalid SDP at line {line}: rid \"abcdefghijklmnopq\" is longer than 16 characters"
        )
    );
    assert_eq!(
        refuse("a=rid:q send\r\na=simulcast:send q;h\r\n"),
        format!(
            "invalid SDP at line {}: a=simulcast names rid \"h\", which has no a=rid:h send line",
            line + 1
        )
    );
    assert_eq!(
        refuse("a=rid:q send\r\na=rid:q send\r\n"),
        format!(
            "invalid SDP at line {}: a=rid:q appears twice in this m-line",
            line + 1
        )
    );
    assert_eq!(
        refuse("a=rid:q send\r\na=rid:h send\r\na=simulcast:send q;h;q\r\n"),
        format!(
            "invalid SDP at line {}: a=simulcast names rid \"q\" twice",
            line + 2
        )
    );
}

#[test]
fn viewers_get_no_simulcast_but_do_get_remb() {
    let offer = format!(
        "{}a=rid:lo recv\r\na=rid:hi recv\r\na=simulcast:recv lo;hi\r\n",
        fixture("chrome_whep.sdp")
    );
    let viewer = negotiated(&offer, Role::Play);
    assert!(
        viewer
            .media_sections()
            .iter()
            .all(|s| s.simulcast.is_empty())
    );
    let vp8 = &viewer.media_sections()[1].codecs[0];
    assert!(
        vp8.feedback.iter().any(|f| f == "goog-remb"),
        "{:?}",
        vp8.feedback
    );
    let viewer_answer = answer(&viewer, Role::Play);
    assert!(
        !viewer_answer.contains("a=rid") && !viewer_answer.contains("simulcast"),
        "{viewer_answer}"
    );
    assert!(
        viewer_answer.contains("a=rtcp-fb:96 goog-remb\r\n"),
        "{viewer_answer}"
    );
    assert!(!viewer_answer.contains(RTP_STREAM_ID));
    let publisher = answer(&negotiated(&chrome(), Role::Publish), Role::Publish);
    assert!(!publisher.contains("goog-remb"), "{publisher}");
}
