#![no_main]
//! A publisher's decrypted RTP, as arbitrary bytes, into an ingress that negotiated NACK and
//! RTX: track and payload type lookup, RTX unwrapping, the NACK register, and the NACKs it
//! writes back.

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use shardcast_control::{Codec, CodecName, MediaKind, MediaSection};
use shardcast_proto::ingress::PublisherIngress;
use shardcast_proto::rtcp::{RtcpPacket, iter_compound};

fn section(mid: &str, kind: MediaKind, name: CodecName, payload_type: u8) -> MediaSection {
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
        extensions: vec![],
        ssrcs: vec![],
        rtx_pairs: vec![(1, 2)],
    }
}

fuzz_target!(|data: &[u8]| {
    let media = [
        section("0", MediaKind::Audio, CodecName::Opus, 111),
        section("1", MediaKind::Video, CodecName::Vp8, 96),
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
        }
        nacks.clear();
        ingress.write_nacks(now, 7, &mut nacks);
        for packet in iter_compound(&nacks) {
            assert!(matches!(packet, Ok(RtcpPacket::Nack { .. })), "{packet:?}");
        }
    }
});
