#![no_main]
//! A publisher's decrypted RTP, as arbitrary bytes, into an ingress that negotiated NACK and
//! RTX and receives video as three rid simulcast layers: track, layer and payload type lookup
//! (MID, rid and repaired rid extensions), RTX unwrapping, the NACK register, the NACKs it
//! writes back, and keyframe request SSRCs per layer.

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use shardcast_control::{Codec, CodecName, Extension, MediaKind, MediaSection};
use shardcast_proto::ingress::PublisherIngress;
use shardcast_proto::layers::MAX_LAYERS;
use shardcast_proto::rtcp::{RtcpPacket, iter_compound};

/// MID, rid and repaired rid on ids 1, 2 and 3: a fuzzer finds these one-byte ids fast.
fn extensions() -> Vec<Extension> {
    [
        "urn:ietf:params:rtp-hdrext:sdes:mid",
        "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
        "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
    ]
    .into_iter()
    .zip(1..)
    .map(|(uri, id)| Extension {
        id,
        uri: uri.into(),
    })
    .collect()
}

fn section(
    mid: &str,
    kind: MediaKind,
    name: CodecName,
    payload_type: u8,
    rids: &[&str],
) -> MediaSection {
    MediaSection {
        mid: mid.into(),
        kind,
        codecs: vec![Codec {
            payload_type,
            name,
            clock_rate: if kind == MediaKind::Audio { 48_000 } else { 90_000 },
            channels: None,
            fmtp: String::new(),
            rtx_payload_type: Some(payload_type + 1),
            feedback: vec!["nack".into()],
        }],
        extensions: extensions(),
        ssrcs: vec![],
        rtx_pairs: vec![(1, 2)],
        simulcast: rids.iter().map(|rid| rid.to_string()).collect(),
    }
}

fuzz_target!(|data: &[u8]| {
    let media = [
        section("0", MediaKind::Audio, CodecName::Opus, 111, &[]),
        section("1", MediaKind::Video, CodecName::Vp8, 96, &["q", "h", "f"]),
    ];
    let mut ingress = PublisherIngress::new(&media, 1);
    let mut now = Instant::now();
    let mut nacks = Vec::new();
    // Packets as (length: 2 bytes, milliseconds to wait first: 1 byte, bytes).
    let mut rest = data;
    while let Some((&[high, low, wait], tail)) = rest.split_first_chunk::<3>() {
        let len = usize::from(u16::from_be_bytes([high, low])).min(tail.len());
        let (packet, tail) = tail.split_at(len);
        rest = tail;
        now += Duration::from_millis(u64::from(wait));
        let mut buffer = packet.to_vec();
        if let Ok(media) = ingress.handle_rtp(now, &mut buffer) {
            assert!(media.payload().len() <= packet.len());
            assert!(usize::from(media.origin.layer) < media.origin.layers.count());
        }
        assert_eq!(ingress.video_layer_count(), 3);
        for layer in 0..MAX_LAYERS as u8 {
            assert!(layer < 3 || ingress.video_ssrc(layer).is_none());
        }
        nacks.clear();
        ingress.write_nacks(now, 7, &mut nacks);
        for packet in iter_compound(&nacks) {
            assert!(matches!(packet, Ok(RtcpPacket::Nack { .. })), "{packet:?}");
        }
    }
});
