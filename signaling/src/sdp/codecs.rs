//! What the engine can forward: codecs, RTCP feedback and header extensions.

use shardcast_control::{CodecName, MediaKind, Role};

use super::offer::OfferPayload;

/// Feedback the engine implements both ways: NACK, PLI, FIR, and transport-wide congestion
/// control (it estimates viewers' bandwidth from their feedback and sends publishers theirs).
const FEEDBACK: [&str; 4] = ["nack", "nack pli", "ccm fir", "transport-cc"];

/// Feedback only viewers get: the engine reads REMB from viewers but sends none to
/// publishers (it sends them transport-cc feedback instead).
const VIEWER_FEEDBACK: [&str; 1] = ["goog-remb"];

const EXTENSIONS: [&str; 8] = [
    "urn:ietf:params:rtp-hdrext:sdes:mid",
    "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
    "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
    "urn:3gpp:video-orientation",
    "urn:ietf:params:rtp-hdrext:toffset",
    "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay",
    "http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time",
];

/// RtpStreamId and RepairedRtpStreamId (RFC 8852): a simulcast publisher's packets name their
/// layer with them, and Chromium sends no rids unless the answer echoes them.
const RID_EXTENSIONS: [&str; 2] = [
    "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
    "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
];

pub fn is_rid_extension(uri: &str) -> bool {
    RID_EXTENSIONS.contains(&uri)
}

pub fn is_supported_feedback(value: &str, role: Role) -> bool {
    FEEDBACK.contains(&value) || (role == Role::Play && VIEWER_FEEDBACK.contains(&value))
}

/// Both roles get the same extensions (the rid ones are decided per m-line, see
/// [`is_rid_extension`]).
pub fn is_supported_extension(uri: &str) -> bool {
    EXTENSIONS.contains(&uri)
}

/// The codec this payload carries, if the engine supports it on an m-line of `kind`.
pub fn supported_codec(payload: &OfferPayload, kind: MediaKind) -> Option<CodecName> {
    let name = CodecName::from_sdp(&payload.name)?;
    if name.kind() != kind {
        return None;
    }
    let fits = match name {
        CodecName::Opus => payload.clock_rate == 48000 && payload.channels == Some(2),
        // Only non-interleaved H264 (mode 1): mode 0 cannot carry large frames as FU-A.
        CodecName::H264 => payload.clock_rate == 90000 && is_packetization_mode_1(&payload.fmtp),
        CodecName::Vp8 | CodecName::Vp9 | CodecName::Av1 => payload.clock_rate == 90000,
    };
    fits.then_some(name)
}

/// The RTX payload's `apt=` target, if this payload is RTX.
pub fn rtx_target(payload: &OfferPayload) -> Option<u8> {
    if !payload.name.eq_ignore_ascii_case("rtx") {
        return None;
    }
    fmtp_parameter(&payload.fmtp, "apt")?.parse().ok()
}

/// One `key=value` of an fmtp line (keys compare case-insensitively).
pub fn fmtp_parameter<'a>(fmtp: &'a str, key: &str) -> Option<&'a str> {
    fmtp.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        k.trim().eq_ignore_ascii_case(key).then_some(v.trim())
    })
}

fn is_packetization_mode_1(fmtp: &str) -> bool {
    fmtp_parameter(fmtp, "packetization-mode") == Some("1")
}

/// H264's profile_idc and constraint flags from `profile-level-id` (RFC 6184; absent means
/// 420010, Baseline). The level is left out: it does not decide whether a decoder copes.
pub fn h264_profile(fmtp: &str) -> Option<(u8, u8)> {
    let id = fmtp_parameter(fmtp, "profile-level-id").unwrap_or("420010");
    if id.len() != 6 || !id.is_ascii() {
        return None;
    }
    let profile_idc = u8::from_str_radix(id.get(0..2)?, 16).ok()?;
    let constraints = u8::from_str_radix(id.get(2..4)?, 16).ok()?;
    Some((profile_idc, constraints))
}

/// How much we want this H264 flavour from a publisher, lower is better: Constrained
/// Baseline (42e01f) is what every browser viewer decodes, Baseline (42001f) next.
pub fn h264_rank(fmtp: &str) -> u8 {
    let level_id = fmtp_parameter(fmtp, "profile-level-id").map(str::to_ascii_lowercase);
    match level_id.as_deref() {
        Some("42e01f") => 0,
        Some("42001f") => 1,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(name: &str, clock_rate: u32, channels: Option<u8>, fmtp: &str) -> OfferPayload {
        OfferPayload {
            payload_type: 96,
            name: name.into(),
            clock_rate,
            channels,
            fmtp: fmtp.into(),
            feedback: vec![],
        }
    }

    #[test]
    fn h264_needs_packetization_mode_1() {
        let mode1 = payload(
            "H264",
            90000,
            None,
            "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
        );
        let mode0 = payload("H264", 90000, None, "profile-level-id=42e01f");
        assert_eq!(
            supported_codec(&mode1, MediaKind::Video),
            Some(CodecName::H264)
        );
        assert_eq!(supported_codec(&mode0, MediaKind::Video), None);
    }

    #[test]
    fn opus_needs_stereo_48k_and_kinds_must_match() {
        assert_eq!(
            supported_codec(&payload("opus", 48000, Some(2), ""), MediaKind::Audio),
            Some(CodecName::Opus)
        );
        assert_eq!(
            supported_codec(&payload("opus", 48000, Some(1), ""), MediaKind::Audio),
            None
        );
        assert_eq!(
            supported_codec(&payload("VP8", 90000, None, ""), MediaKind::Audio),
            None
        );
        assert_eq!(
            supported_codec(&payload("PCMU", 8000, None, ""), MediaKind::Audio),
            None
        );
    }

    #[test]
    fn transport_wide_congestion_control_both_ways() {
        const TRANSPORT_WIDE_CC: &str =
            "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
        for role in [Role::Publish, Role::Play] {
            assert!(is_supported_feedback("transport-cc", role));
        }
        assert!(is_supported_extension(TRANSPORT_WIDE_CC));
        assert!(is_supported_feedback("goog-remb", Role::Play));
        assert!(!is_supported_feedback("goog-remb", Role::Publish));
    }

    #[test]
    fn reads_h264_profiles_and_rtx_targets() {
        assert_eq!(h264_profile("profile-level-id=42e01f"), Some((0x42, 0xe0)));
        assert_eq!(h264_profile("packetization-mode=1"), Some((0x42, 0x00)));
        assert_eq!(h264_profile("profile-level-id=zz"), None);
        assert_eq!(
            rtx_target(&payload("rtx", 90000, None, "apt=102")),
            Some(102)
        );
        assert_eq!(rtx_target(&payload("VP8", 90000, None, "apt=102")), None);
        assert!(h264_rank("profile-level-id=42E01F") < h264_rank("profile-level-id=42001f"));
        assert!(h264_rank("profile-level-id=42001f") < h264_rank("profile-level-id=64001f"));
    }
}
