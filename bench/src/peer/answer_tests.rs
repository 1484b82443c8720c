//! Answers as other servers write them, and answers the peer must refuse.

use std::net::SocketAddr;

use shardcast_control::{CodecName, DtlsRole, MediaKind};

use super::{PeerError, RemoteDescription};

/// Shaped like MediaMTX's WHEP answer: ice-lite, transport attributes per m-line, host
/// candidates on IPv4 and IPv6 plus a TCP one, H264 chosen, server SSRCs in the video line.
const MEDIAMTX_STYLE: &str = "v=0\r
o=- 4215775240449105457 1700000000 IN IP4 0.0.0.0\r
s=-\r
t=0 0\r
a=ice-lite\r
a=group:BUNDLE 0 1\r
a=msid-semantic: WMS *\r
m=audio 9 UDP/TLS/RTP/SAVPF 111\r
c=IN IP4 0.0.0.0\r
a=setup:passive\r
a=mid:0\r
a=ice-ufrag:LzkPnvXKDfEmTHJc\r
a=ice-pwd:mXvXiNbQBOwBzhrPCTgnKxBvmosZvcGN\r
a=rtcp-mux\r
a=rtcp-rsize\r
a=rtpmap:111 opus/48000/2\r
a=fmtp:111 minptime=10;useinbandfec=1\r
a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid\r
a=ssrc:3344557788 cname:mediamtx\r
a=fingerprint:sha-256 0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9\r
a=candidate:1390596646 1 udp 2130706431 192.0.2.10 8189 typ host\r
a=candidate:2897234190 1 udp 2130706430 2001:db8::10 8189 typ host\r
a=candidate:3112237840 1 tcp 1671430143 192.0.2.10 8189 typ host tcptype passive\r
a=end-of-candidates\r
a=sendonly\r
m=video 9 UDP/TLS/RTP/SAVPF 102 103\r
c=IN IP4 0.0.0.0\r
a=setup:passive\r
a=mid:1\r
a=ice-ufrag:LzkPnvXKDfEmTHJc\r
a=ice-pwd:mXvXiNbQBOwBzhrPCTgnKxBvmosZvcGN\r
a=rtcp-mux\r
a=rtcp-rsize\r
a=rtpmap:102 H264/90000\r
a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r
a=rtcp-fb:102 nack\r
a=rtcp-fb:102 nack pli\r
a=rtpmap:103 rtx/90000\r
a=fmtp:103 apt=102\r
a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid\r
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time\r
a=ssrc-group:FID 1122334455 1122334456\r
a=ssrc:1122334455 cname:mediamtx\r
a=ssrc:1122334456 cname:mediamtx\r
a=fingerprint:sha-256 0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9\r
a=candidate:1390596646 1 udp 2130706431 192.0.2.10 8189 typ host\r
a=sendonly\r
";

/// Shaped like a Pion-based SFU's answer (LiveKit style): a full ICE agent, credentials and
/// fingerprint at session level, LF line ends, an mDNS candidate, srflx behind host, a
/// data channel m-line, and the server as the DTLS client.
const PION_STYLE: &str = "v=0
o=- 7341046411429281423 1700000001 IN IP4 0.0.0.0
s=-
t=0 0
a=fingerprint:sha-256 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99
a=ice-ufrag:pIoNuFrAg
a=ice-pwd:pionPasswordPionPasswordPion
a=extmap-allow-mixed
a=group:BUNDLE 0 1 2
m=audio 9 UDP/TLS/RTP/SAVPF 111
c=IN IP4 0.0.0.0
a=setup:active
a=mid:0
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid
a=recvonly
a=rtcp-mux
a=rtpmap:111 opus/48000/2
a=fmtp:111 minptime=10;useinbandfec=1
a=candidate:1 1 udp 1694498815 203.0.113.5 7882 typ srflx raddr 0.0.0.0 rport 7882
a=candidate:2 1 udp 2130706431 2d8a6a1c-3c3e-4b4c-9a5f-6f3e1f1f1f1f.local 7882 typ host
a=candidate:3 1 udp 2130706431 10.1.2.3 7882 typ host
a=candidate:4 2 udp 2130706430 10.1.2.3 7883 typ host
a=end-of-candidates
m=video 9 UDP/TLS/RTP/SAVPF 96 97
c=IN IP4 0.0.0.0
a=setup:active
a=mid:1
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid
a=extmap:9/recvonly http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time
a=recvonly
a=rtcp-mux
a=rtpmap:96 VP8/90000
a=rtcp-fb:96 nack
a=rtcp-fb:96 nack pli
a=rtcp-fb:* ccm fir
a=rtpmap:97 rtx/90000
a=fmtp:97 apt=96
m=application 9 UDP/DTLS/SCTP webrtc-datachannel
c=IN IP4 0.0.0.0
a=setup:active
a=mid:2
a=sctp-port:5000
";

#[test]
fn mediamtx_style_answer() {
    let remote = RemoteDescription::parse(MEDIAMTX_STYLE).unwrap();
    assert!(remote.ice_lite);
    assert_eq!(remote.ice_ufrag, "LzkPnvXKDfEmTHJc");
    assert_eq!(remote.ice_pwd, "mXvXiNbQBOwBzhrPCTgnKxBvmosZvcGN");
    assert_eq!(remote.fingerprint.algorithm, "sha-256");
    assert_eq!(remote.fingerprint.value.len(), 32);
    assert_eq!(remote.fingerprint.value[..2], [0x0a, 0x1b]);
    assert_eq!(remote.dtls_role, DtlsRole::Client);
    let expected: Vec<SocketAddr> = vec![
        "192.0.2.10:8189".parse().unwrap(),
        "[2001:db8::10]:8189".parse().unwrap(),
    ];
    assert_eq!(remote.candidates, expected);
    let video = remote.section(MediaKind::Video).unwrap();
    assert_eq!(video.mid, "1");
    assert_eq!(video.codecs.len(), 1);
    assert_eq!(video.codecs[0].name, CodecName::H264);
    assert_eq!(video.codecs[0].payload_type, 102);
    assert_eq!(video.codecs[0].rtx_payload_type, Some(103));
    assert_eq!(video.codecs[0].feedback, ["nack", "nack pli"]);
    assert_eq!(video.ssrcs, [1_122_334_455, 1_122_334_456]);
    assert_eq!(video.rtx_pairs, [(1_122_334_455, 1_122_334_456)]);
    assert_eq!(video.extensions[1].id, 2);
    let audio = remote.section(MediaKind::Audio).unwrap();
    assert_eq!(audio.codecs[0].channels, Some(2));
    assert_eq!(audio.ssrcs, [3_344_557_788]);
}

#[test]
fn pion_style_answer() {
    let remote = RemoteDescription::parse(PION_STYLE).unwrap();
    assert!(!remote.ice_lite);
    assert_eq!(remote.ice_ufrag, "pIoNuFrAg");
    assert_eq!(remote.fingerprint.value[0], 0xaa);
    // The server is active, so we are the DTLS server.
    assert_eq!(remote.dtls_role, DtlsRole::Server);
    // Host before srflx by priority; mDNS and component 2 left out.
    let expected: Vec<SocketAddr> = vec![
        "10.1.2.3:7882".parse().unwrap(),
        "203.0.113.5:7882".parse().unwrap(),
    ];
    assert_eq!(remote.candidates, expected);
    assert_eq!(remote.media.len(), 2);
    let video = remote.section(MediaKind::Video).unwrap();
    assert_eq!(video.codecs[0].name, CodecName::Vp8);
    assert_eq!(video.codecs[0].feedback, ["nack", "nack pli", "ccm fir"]);
    assert_eq!(video.extensions[1].id, 9);
    assert!(video.ssrcs.is_empty());
}

fn without(sdp: &str, prefix: &str) -> String {
    sdp.lines()
        .filter(|line| !line.starts_with(prefix))
        .map(|line| format!("{line}\n"))
        .collect()
}

#[test]
fn answers_missing_essentials_are_refused_with_the_reason() {
    let cases = [
        (without(PION_STYLE, "a=fingerprint"), "a=fingerprint"),
        (without(PION_STYLE, "a=ice-ufrag"), "a=ice-ufrag"),
        (without(PION_STYLE, "a=ice-pwd"), "a=ice-pwd"),
    ];
    for (sdp, missing) in cases {
        match RemoteDescription::parse(&sdp) {
            Err(PeerError::Missing(what)) => assert_eq!(what, missing),
            other => panic!("{missing}: {other:?}"),
        }
    }
    let only_unusable = PION_STYLE.replace("10.1.2.3 7882", "host.local 7882");
    let only_unusable =
        only_unusable.replace("203.0.113.5 7882 typ srflx", "x.local 7882 typ srflx");
    assert!(matches!(
        RemoteDescription::parse(&only_unusable),
        Err(PeerError::NoCandidate)
    ));
    let no_codec = MEDIAMTX_STYLE
        .replace("H264/90000", "AV1/90000")
        .replace("opus/48000/2", "PCMU/8000");
    assert!(matches!(
        RemoteDescription::parse(&no_codec),
        Err(PeerError::NoCommonCodec)
    ));
    let bad_fingerprint = PION_STYLE.replace("AA:BB:CC", "AA:BBB:CC");
    assert!(matches!(
        RemoteDescription::parse(&bad_fingerprint),
        Err(PeerError::Invalid {
            what: "a=fingerprint",
            ..
        })
    ));
    let bad_setup = PION_STYLE.replace("a=setup:active", "a=setup:holdconn");
    assert!(matches!(
        RemoteDescription::parse(&bad_setup),
        Err(PeerError::BadSetup(value)) if value == "holdconn"
    ));
    assert!(matches!(
        RemoteDescription::parse("<html>502 Bad Gateway</html>"),
        Err(PeerError::NotSdp(_))
    ));
}

#[test]
fn rejected_media_lines_are_skipped() {
    let audio_rejected = MEDIAMTX_STYLE.replacen("m=audio 9 ", "m=audio 0 ", 1);
    let remote = RemoteDescription::parse(&audio_rejected).unwrap();
    assert_eq!(remote.media.len(), 1);
    assert_eq!(remote.media[0].kind, MediaKind::Video);
}

#[test]
fn every_truncation_of_an_answer_parses_or_fails_without_panicking() {
    for end in (0..MEDIAMTX_STYLE.len()).filter(|&i| MEDIAMTX_STYLE.is_char_boundary(i)) {
        let _ = RemoteDescription::parse(&MEDIAMTX_STYLE[..end]);
    }
}

#[test]
fn rtx_is_used_only_for_the_codec_the_answer_paired_it_with() {
    let mediamtx = RemoteDescription::parse(MEDIAMTX_STYLE).unwrap();
    assert_eq!(mediamtx.rtx_payload_type(MediaKind::Video, 102), Some(103));
    // VP8 was not accepted, and audio has no RTX.
    assert_eq!(mediamtx.rtx_payload_type(MediaKind::Video, 96), None);
    assert_eq!(mediamtx.rtx_payload_type(MediaKind::Audio, 111), None);
    let pion = RemoteDescription::parse(PION_STYLE).unwrap();
    assert_eq!(pion.rtx_payload_type(MediaKind::Video, 96), Some(97));
}

#[test]
fn without_an_accepted_rtx_format_retransmissions_are_plain() {
    let no_rtx = without(&without(MEDIAMTX_STYLE, "a=rtpmap:103"), "a=fmtp:103");
    let remote = RemoteDescription::parse(&no_rtx).unwrap();
    assert_eq!(remote.rtx_payload_type(MediaKind::Video, 102), None);
    // An `apt=` whose payload type is not mapped to rtx names no RTX format.
    let apt_only = without(MEDIAMTX_STYLE, "a=rtpmap:103");
    let remote = RemoteDescription::parse(&apt_only).unwrap();
    assert_eq!(remote.rtx_payload_type(MediaKind::Video, 102), None);
    let other_format = MEDIAMTX_STYLE.replace("a=rtpmap:103 rtx/90000", "a=rtpmap:103 red/90000");
    let remote = RemoteDescription::parse(&other_format).unwrap();
    assert_eq!(remote.rtx_payload_type(MediaKind::Video, 102), None);
    let upper_case = MEDIAMTX_STYLE.replace("103 rtx/90000", "103 RTX/90000");
    let remote = RemoteDescription::parse(&upper_case).unwrap();
    assert_eq!(remote.rtx_payload_type(MediaKind::Video, 102), Some(103));
}
