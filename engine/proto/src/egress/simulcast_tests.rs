//! A viewer of a three-layer stream: one layer forwarded, switches at keyframes of the
//! target, and NACKs that find the right layer's packet across a switch.

use std::sync::Arc;
use std::time::{Duration, Instant};

use shardcast_control::{Codec, CodecName, MediaKind, MediaSection};

use super::rtx_cache::tests::shared_layer;
use super::{EgressOutcome, RtxCache, ViewerEgress};
use crate::layers::LayerRates;
use crate::media::MediaPacket;
use crate::rtp::RtpPacket;

const VIDEO_SSRC: u32 = 0xb0;
const SOURCE: u64 = 3;
/// Each layer's packets are numbered from its own base.
const SEQ_BASE: [u16; 3] = [100, 5000, 40_000];

fn video_section() -> MediaSection {
    MediaSection {
        mid: "1".into(),
        kind: MediaKind::Video,
        codecs: vec![Codec {
            payload_type: 100,
            name: CodecName::Vp8,
            clock_rate: 90_000,
            channels: None,
            fmtp: String::new(),
            rtx_payload_type: None,
            feedback: vec!["nack".into()],
        }],
        extensions: vec![],
        ssrcs: vec![],
        rtx_pairs: vec![],
        simulcast: Vec::new(),
    }
}

/// Packet `n` of `layer` of a stream whose layers run at 150 kbps, 500 kbps and 2.5 Mbps.
fn packet(layer: u8, n: u16, keyframe: bool, at: Instant) -> Arc<MediaPacket> {
    let seq = SEQ_BASE[usize::from(layer)].wrapping_add(n);
    let mut packet = shared_layer(MediaKind::Video, SOURCE, layer, seq, at);
    let origin = &mut Arc::get_mut(&mut packet).unwrap().origin;
    let mut rates = LayerRates::new(3);
    for (layer, rate) in [150_000, 500_000, 2_500_000].into_iter().enumerate() {
        rates.set(layer, rate);
    }
    origin.layers = rates;
    origin.keyframe = keyframe;
    packet
}

/// Writes `packet` (and keeps it in `cache`); the sequence number it went out with.
fn offer(
    egress: &mut ViewerEgress,
    cache: &mut RtxCache,
    packet: &Arc<MediaPacket>,
    now: Instant,
) -> Result<u16, EgressOutcome> {
    cache.insert(packet);
    let mut out = Vec::new();
    match egress.write(now, packet, &mut out) {
        EgressOutcome::Written(len) => Ok(RtpPacket::parse(&out[..len]).unwrap().sequence_number()),
        other => Err(other),
    }
}

#[test]
fn one_layer_is_forwarded_and_a_switch_waits_for_the_targets_keyframe() {
    let start = Instant::now();
    let mut egress = ViewerEgress::new(&[video_section()], &[VIDEO_SSRC], 1000, 0);
    let mut cache = RtxCache::new();
    // The initial 1 Mbps estimate carries the middle layer.
    assert_eq!(
        offer(&mut egress, &mut cache, &packet(0, 0, true, start), start),
        Err(EgressOutcome::OtherLayer)
    );
    assert_eq!(egress.wanted_layer(), 1);
    assert!(egress.take_keyframe_wanted());
    assert!(!egress.take_keyframe_wanted(), "asked once");
    assert_eq!(
        offer(&mut egress, &mut cache, &packet(1, 0, false, start), start),
        Err(EgressOutcome::AwaitingKeyframe)
    );
    assert_eq!(
        offer(&mut egress, &mut cache, &packet(1, 1, true, start), start),
        Ok(1000)
    );
    assert_eq!(egress.forwarded_layer(), Some(1));
    assert!(egress.skips(start, &packet(2, 1, true, start)));
    assert!(!egress.skips(start, &packet(1, 2, false, start)));

    // The viewer says 200 kbps: a second later the target is the lowest layer; the middle
    // one goes on until the lowest one's keyframe.
    egress.bandwidth_mut().on_remb(200_000);
    let mut now = start;
    for n in 2..50 {
        now += Duration::from_millis(30);
        assert!(offer(&mut egress, &mut cache, &packet(1, n, false, now), now).is_ok());
        let low = offer(&mut egress, &mut cache, &packet(0, n, false, now), now);
        assert!(low.is_err(), "{low:?}");
    }
    assert_eq!(egress.wanted_layer(), 0);
    assert!(egress.needs_keyframe());
    assert!(egress.take_keyframe_wanted());
    let last_middle = 1000 + 48;
    assert_eq!(
        offer(&mut egress, &mut cache, &packet(0, 50, true, now), now),
        Ok(last_middle + 1)
    );
    assert!(!egress.needs_keyframe());
    assert_eq!(
        offer(&mut egress, &mut cache, &packet(1, 50, false, now), now),
        Err(EgressOutcome::OtherLayer),
        "late packets of the old layer stay out"
    );
    assert_eq!(egress.layer_switches().down, 1);

    // NACKs on both sides of the switch find each layer's own packet.
    egress.handle_nack(now, VIDEO_SSRC, [last_middle, last_middle + 1].into_iter());
    assert!(egress.announce_retransmits(now));
    let mut out = [0u8; 1500];
    let mut resent = Vec::new();
    while let Some(len) = egress.write_retransmission(now, Some(&cache), &mut out) {
        let rtp = RtpPacket::parse(&out[..len]).unwrap();
        resent.push((rtp.sequence_number(), rtp.payload().to_vec()));
    }
    let payload = |layer: usize, n: u16| vec![0x10, 0x51, SEQ_BASE[layer].wrapping_add(n) as u8];
    assert_eq!(
        resent,
        [
            (last_middle, payload(1, 49)),
            (last_middle + 1, payload(0, 50))
        ]
    );
}

#[test]
fn a_publisher_back_without_simulcast_is_followed_on_its_only_layer() {
    let start = Instant::now();
    let mut egress = ViewerEgress::new(&[video_section()], &[VIDEO_SSRC], 1000, 0);
    let mut cache = RtxCache::new();
    assert_eq!(
        offer(&mut egress, &mut cache, &packet(1, 0, true, start), start),
        Ok(1000)
    );
    // The same publisher again, as a new source with one layer.
    let later = start + Duration::from_secs(1);
    let mut plain = shared_layer(MediaKind::Video, SOURCE + 1, 0, 7, later);
    let origin = &mut Arc::get_mut(&mut plain).unwrap().origin;
    origin.keyframe = true;
    origin.layers = LayerRates::default();
    assert_eq!(offer(&mut egress, &mut cache, &plain, later), Ok(1001));
    assert_eq!(
        (egress.wanted_layer(), egress.forwarded_layer()),
        (0, Some(0))
    );
}
