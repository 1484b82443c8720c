//! What a packet's kind and codec pick: the track of its kind, wherever that track sits among
//! the viewer's media sections (none when the viewer has no such track), and the payload type
//! the viewer gave its codec.

use std::sync::Arc;
use std::time::Instant;

use shardcast_control::{CodecName, MediaKind};

use super::rtx_cache::tests::shared_layer;
use super::{EgressOutcome, ViewerEgress};
use crate::rtp::RtpPacket;
use crate::shard::sim_peer::sections;

const VIDEO_SSRC: u32 = 0xb0;
const AUDIO_SSRC: u32 = 0xa0;

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
    let video_first = sections(&[("0", MediaKind::Video), ("1", MediaKind::Audio)]);
    let mut egress = ViewerEgress::new(&video_first, &[VIDEO_SSRC, AUDIO_SSRC], 1000, 0);
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
    egress.prefetch_heap(MediaKind::Audio);
    egress.prefetch_heap(MediaKind::Video);
}

#[test]
fn a_kind_without_a_track_is_refused() {
    let mut egress = ViewerEgress::new(&sections(&[("0", MediaKind::Audio)]), &[AUDIO_SSRC], 1, 0);
    assert_eq!(
        written_ssrc(&mut egress, MediaKind::Video, 1),
        Err(EgressOutcome::NoTrack)
    );
    egress.prefetch_heap(MediaKind::Video);
    assert_eq!(
        written_ssrc(&mut egress, MediaKind::Audio, 2),
        Ok(AUDIO_SSRC)
    );
}

#[test]
fn each_codec_goes_out_with_its_own_payload_type_as_the_codec_changes() {
    // Artificial but legal for the track: one section with two codecs by name.
    let [mut audio] = sections(&[("0", MediaKind::Audio)]).try_into().unwrap();
    let mut second = audio.codecs[0].clone();
    second.name = CodecName::H264;
    second.payload_type = 102;
    audio.codecs.push(second);
    let mut egress = ViewerEgress::new(&[audio], &[AUDIO_SSRC], 1, 0);
    let now = Instant::now();
    let mut payload_type = |seq: u16, codec: CodecName| {
        let mut packet = shared_layer(MediaKind::Audio, 1, 0, seq, now);
        Arc::get_mut(&mut packet).unwrap().origin.codec = codec;
        let mut out = Vec::new();
        match egress.write(now, &packet, &mut out) {
            EgressOutcome::Written(len) => {
                Ok(RtpPacket::parse(&out[..len]).unwrap().payload_type())
            }
            other => Err(other),
        }
    };
    assert_eq!(payload_type(1, CodecName::Opus), Ok(111));
    assert_eq!(payload_type(2, CodecName::Opus), Ok(111));
    assert_eq!(payload_type(3, CodecName::H264), Ok(102));
    assert_eq!(payload_type(4, CodecName::Opus), Ok(111));
    assert_eq!(
        payload_type(5, CodecName::Vp9),
        Err(EgressOutcome::CodecNotNegotiated)
    );
    assert_eq!(payload_type(6, CodecName::Opus), Ok(111));
}
