//! Our side of the session and the SDP offer that describes it, shaped like a browser's
//! (RFC 8829): one BUNDLE group with an audio and a video m-line, rtcp-mux, actpass.

use std::fmt::Write;
use std::net::SocketAddr;

use rand::Rng;
use shardcast_control::{Fingerprint, Role};
use shardcast_proto::ice::IceCredentials;
use shardcast_proto::rtp::extension::{ABS_CAPTURE_TIME_URI, MID_URI};

pub const AUDIO_PAYLOAD_TYPE: u8 = 111;
pub const VP8_PAYLOAD_TYPE: u8 = 96;
pub const VP8_RTX_PAYLOAD_TYPE: u8 = 97;
pub const H264_PAYLOAD_TYPE: u8 = 102;
pub const H264_RTX_PAYLOAD_TYPE: u8 = 103;
/// Constrained baseline 3.1 with packetization mode 1: what every WebRTC stack decodes.
const H264_FMTP: &str = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f";
pub const MID_EXTENSION_ID: u8 = 1;
pub const ABS_CAPTURE_TIME_EXTENSION_ID: u8 = 2;
pub const AUDIO_MID: &str = "0";
pub const VIDEO_MID: &str = "1";
/// Type preference of a host candidate (RFC 8445 section 5.1.2.2).
const HOST_TYPE_PREFERENCE: u32 = 126;

/// Everything we chose for our side before the server answered.
#[derive(Debug, Clone)]
pub struct LocalDescription {
    pub role: Role,
    pub credentials: IceCredentials,
    pub fingerprint: Fingerprint,
    pub cname: String,
    /// The SSRC we send audio with (publisher) or report from (viewer).
    pub audio_ssrc: u32,
    pub video_ssrc: u32,
    pub video_rtx_ssrc: u32,
    /// The `o=` session id.
    pub session_id: u64,
}

impl LocalDescription {
    pub fn generate(role: Role, fingerprint: Fingerprint, rng: &mut impl Rng) -> Self {
        let credentials = IceCredentials::random(rng);
        let cname = IceCredentials::random(rng).pwd;
        Self {
            role,
            credentials,
            fingerprint,
            cname,
            audio_ssrc: rng.random(),
            video_ssrc: rng.random(),
            video_rtx_ssrc: rng.random(),
            // Positive when read as a signed 64-bit number, as RFC 8866 recommends.
            session_id: rng.random::<u64>() >> 1,
        }
    }

    /// The offer, with `candidates` as host candidates (none is valid: the server then
    /// learns our address from our checks).
    pub fn offer_sdp(&self, candidates: &[SocketAddr]) -> String {
        let mut sdp = String::with_capacity(3072);
        line(&mut sdp, "v=0");
        line(
            &mut sdp,
            &format!("o=- {} 2 IN IP4 127.0.0.1", self.session_id),
        );
        line(&mut sdp, "s=-");
        line(&mut sdp, "t=0 0");
        line(&mut sdp, &format!("a=group:BUNDLE {AUDIO_MID} {VIDEO_MID}"));
        line(&mut sdp, "a=extmap-allow-mixed");
        line(&mut sdp, "a=msid-semantic: WMS");
        self.write_media(&mut sdp, candidates, MediaLine::Audio);
        self.write_media(&mut sdp, candidates, MediaLine::Video);
        sdp
    }

    fn write_media(&self, sdp: &mut String, candidates: &[SocketAddr], media: MediaLine) {
        let (kind, mid, formats) = match media {
            MediaLine::Audio => ("audio", AUDIO_MID, "111"),
            MediaLine::Video => ("video", VIDEO_MID, "96 97 102 103"),
        };
        let first = candidates.first();
        let port = first.map_or(9, SocketAddr::port);
        line(sdp, &format!("m={kind} {port} UDP/TLS/RTP/SAVPF {formats}"));
        line(sdp, &connection(first));
        line(sdp, "a=rtcp:9 IN IP4 0.0.0.0");
        for (index, address) in candidates.iter().enumerate() {
            line(sdp, &candidate_line(index, address));
        }
        if !candidates.is_empty() {
            line(sdp, "a=end-of-candidates");
        }
        line(sdp, &format!("a=ice-ufrag:{}", self.credentials.ufrag));
        line(sdp, &format!("a=ice-pwd:{}", self.credentials.pwd));
        line(
            sdp,
            &format!(
                "a=fingerprint:{} {}",
                self.fingerprint.algorithm,
                hex_colons(&self.fingerprint.value)
            ),
        );
        line(sdp, "a=setup:actpass");
        line(sdp, &format!("a=mid:{mid}"));
        line(sdp, &format!("a=extmap:{MID_EXTENSION_ID} {MID_URI}"));
        line(
            sdp,
            &format!("a=extmap:{ABS_CAPTURE_TIME_EXTENSION_ID} {ABS_CAPTURE_TIME_URI}"),
        );
        match self.role {
            Role::Publish => {
                line(sdp, "a=sendonly");
                line(sdp, &format!("a=msid:{} {kind}-{}", self.cname, self.cname));
            }
            Role::Play => line(sdp, "a=recvonly"),
        }
        line(sdp, "a=rtcp-mux");
        line(sdp, "a=rtcp-rsize");
        match media {
            MediaLine::Audio => {
                line(sdp, "a=rtpmap:111 opus/48000/2");
                line(sdp, "a=fmtp:111 minptime=10;useinbandfec=1");
            }
            MediaLine::Video => {
                write_video_codec(sdp, VP8_PAYLOAD_TYPE, "VP8", None, VP8_RTX_PAYLOAD_TYPE);
                write_video_codec(
                    sdp,
                    H264_PAYLOAD_TYPE,
                    "H264",
                    Some(H264_FMTP),
                    H264_RTX_PAYLOAD_TYPE,
                );
            }
        }
        if self.role == Role::Publish {
            self.write_ssrcs(sdp, media);
        }
    }

    fn write_ssrcs(&self, sdp: &mut String, media: MediaLine) {
        let cname = &self.cname;
        match media {
            MediaLine::Audio => line(sdp, &format!("a=ssrc:{} cname:{cname}", self.audio_ssrc)),
            MediaLine::Video => {
                let (video, rtx) = (self.video_ssrc, self.video_rtx_ssrc);
                line(sdp, &format!("a=ssrc-group:FID {video} {rtx}"));
                line(sdp, &format!("a=ssrc:{video} cname:{cname}"));
                line(sdp, &format!("a=ssrc:{rtx} cname:{cname}"));
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum MediaLine {
    Audio,
    Video,
}

fn write_video_codec(sdp: &mut String, pt: u8, name: &str, fmtp: Option<&str>, rtx: u8) {
    line(sdp, &format!("a=rtpmap:{pt} {name}/90000"));
    for feedback in ["nack", "nack pli", "ccm fir"] {
        line(sdp, &format!("a=rtcp-fb:{pt} {feedback}"));
    }
    if let Some(fmtp) = fmtp {
        line(sdp, &format!("a=fmtp:{pt} {fmtp}"));
    }
    line(sdp, &format!("a=rtpmap:{rtx} rtx/90000"));
    line(sdp, &format!("a=fmtp:{rtx} apt={pt}"));
}

fn connection(address: Option<&SocketAddr>) -> String {
    match address {
        Some(SocketAddr::V6(v6)) => format!("c=IN IP6 {}", v6.ip()),
        Some(SocketAddr::V4(v4)) => format!("c=IN IP4 {}", v4.ip()),
        None => "c=IN IP4 0.0.0.0".to_owned(),
    }
}

/// Earlier addresses are preferred (RFC 8445 section 5.1.2.1).
fn candidate_line(index: usize, address: &SocketAddr) -> String {
    let local_preference = 65535u32.saturating_sub(u32::try_from(index).unwrap_or(u32::MAX));
    let priority = (HOST_TYPE_PREFERENCE << 24) | (local_preference << 8) | 255;
    format!(
        "a=candidate:{} 1 udp {priority} {} {} typ host",
        index + 1,
        address.ip(),
        address.port()
    )
}

fn hex_colons(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 3);
    for (index, byte) in bytes.iter().enumerate() {
        if index > 0 {
            text.push(':');
        }
        let _ = write!(text, "{byte:02X}");
    }
    text
}

fn line(sdp: &mut String, text: &str) {
    sdp.push_str(text);
    sdp.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn local(role: Role) -> LocalDescription {
        let fingerprint = Fingerprint {
            algorithm: "sha-256".into(),
            value: vec![0xab, 0x01],
        };
        LocalDescription::generate(role, fingerprint, &mut StdRng::seed_from_u64(3))
    }

    #[test]
    fn publisher_offer_is_sendonly_with_ssrcs_and_both_video_codecs() {
        let local = local(Role::Publish);
        let sdp = local.offer_sdp(&[]);
        assert!(sdp.contains("a=group:BUNDLE 0 1\r\n"));
        assert!(sdp.contains("m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"));
        assert!(sdp.contains("m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103\r\n"));
        assert!(sdp.contains("a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1"));
        assert!(sdp.contains("a=rtcp-fb:96 nack pli\r\n"));
        assert!(sdp.contains("a=rtcp-fb:102 ccm fir\r\n"));
        assert!(sdp.contains("a=fmtp:103 apt=102\r\n"));
        assert!(sdp.contains("a=fingerprint:sha-256 AB:01\r\n"));
        assert_eq!(sdp.matches("a=sendonly").count(), 2);
        assert_eq!(sdp.matches("a=setup:actpass").count(), 2);
        assert!(sdp.contains(&format!(
            "a=ssrc-group:FID {} {}",
            local.video_ssrc, local.video_rtx_ssrc
        )));
        assert!(!sdp.contains("a=candidate"));
    }

    #[test]
    fn viewer_offer_is_recvonly_and_lists_candidates_when_asked() {
        let local = local(Role::Play);
        let v4: SocketAddr = "192.0.2.7:4000".parse().unwrap();
        let v6: SocketAddr = "[2001:db8::7]:4001".parse().unwrap();
        let sdp = local.offer_sdp(&[v4, v6]);
        assert_eq!(sdp.matches("a=recvonly").count(), 2);
        assert!(!sdp.contains("a=ssrc:"));
        assert!(sdp.contains("m=audio 4000 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 192.0.2.7\r\n"));
        assert!(sdp.contains("typ host\r\na=candidate:2 1 udp"));
        assert!(sdp.contains(" 2001:db8::7 4001 typ host\r\n"));
        assert!(sdp.contains(&format!("a=ice-ufrag:{}\r\n", local.credentials.ufrag)));
    }
}
