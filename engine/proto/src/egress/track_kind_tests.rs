//! A packet goes to the track of its kind, wherever that track sits among the viewer's media
//! sections, and to no track when the viewer has none of its kind.

use std::time::Instant;

use shardcast_control::{Codec, CodecName, MediaKind, MediaSection};

use super::rtx_cache::tests::shared_layer;
use super::{EgressOutcome, ViewerEgress};
use crate::rtp::RtpPacket;

const VIDEO_SSRC: u32 = 0xb0;
const AUDIO_SSRC: u32 = 0xa0;

fn section(mid: &str, kind: MediaKind) -> MediaSection {
    let (name, payload_type, clock_rate, channels) = match kind {
        MediaKind::Video => (CodecName::Vp8, 96, 90_000, None),
        MediaKind::Audio => (CodecName::Opus, 111, 48_000, Some(2)),
    };
    MediaSection {
        mid: mid.into(),
        kind,
        codecs: vec![Codec {
            payload_type,
            name,
            clock_rate,
            channels,
            fmtp: String::new(),
            rtx_payload_type: None,
            feedback: vec![],
        }],
        extensions: vec![],
        ssrcs: vec![],
        rtx_pairs: vec![],
        simulcast: Vec::new(),
    }
}

/// The SSRC `kind`'s packet goes out with, or what the egress said instead.
fn written_ssrc(
    egress: &mut ViewerEgress,
    kind: MediaKind,
    seq: u16,
) -> Result<u32, EgressOutcome> {
    let now = Instant::now();
    let packet = shared_layer(kind, 1, 0, seq, now);
    let mut out = Vec::new();
    match egress.write(now, &packet, &mut out) {
        EgressOutcome::Written(len) => Ok(RtpPacket::parse(&out[..len]).unwrap().ssrc()),
        other => Err(other),
    }
}

#[test]
fn each_kind_reaches_its_own_track_with_video_listed_first() {
    let sections = [
        section("0", MediaKind::Video),
        section("1", MediaKind::Audio),
    ];
    let mut egress = ViewerEgress::new(&sections, &[VIDEO_SSRC, AUDIO_SSRC], 1000, 0);
    assert_eq!(
        written_ssrc(&mut egress, MediaKind::Audio, 7),
        Ok(AUDIO_SSRC)
    );
    // The video track takes nothing before a keyframe; a keyframe-less packet says so.
    assert_eq!(
        written_ssrc(&mut egress, MediaKind::Video, 8),
        Err(EgressOutcome::AwaitingKeyframe)
    );
    assert!(egress.forwarded_layer().is_none());
    egress.prefetch_track(MediaKind::Audio);
    egress.prefetch_track(MediaKind::Video);
}

#[test]
fn a_kind_without_a_track_is_refused() {
    let mut egress = ViewerEgress::new(&[section("0", MediaKind::Audio)], &[AUDIO_SSRC], 1, 0);
    assert_eq!(
        written_ssrc(&mut egress, MediaKind::Video, 1),
        Err(EgressOutcome::NoTrack)
    );
    egress.prefetch_track(MediaKind::Video);
    assert_eq!(
        written_ssrc(&mut egress, MediaKind::Audio, 2),
        Ok(AUDIO_SSRC)
    );
}
