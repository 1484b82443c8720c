use std::sync::Arc;
use std::time::{Duration, Instant};

use shardcast_control::{Codec, CodecName, MediaKind, MediaSection};

use crate::egress::retransmit_limit::MAX_RETRANSMISSIONS;
use crate::egress::retransmit_queue::{PACE_BURST, PACE_INTERVAL, QUEUE_LIMIT};
use crate::egress::rtx_cache::tests::shared;
use crate::egress::{EgressOutcome, RtxCache, ViewerEgress};
use crate::media::MediaPacket;
use crate::rtp::RtpPacket;

const VIDEO_SSRC: u32 = 0xa0;
const RTX_SSRC: u32 = 0xa1;
const SOURCE: u64 = 7;

fn video_section(rtx_payload_type: Option<u8>) -> MediaSection {
    MediaSection {
        mid: "1".into(),
        kind: MediaKind::Video,
        codecs: vec![Codec {
            payload_type: 100,
            name: CodecName::Vp8,
            clock_rate: 90_000,
            channels: None,
            fmtp: String::new(),
            rtx_payload_type,
            feedback: vec!["nack".into()],
        }],
        extensions: vec![],
        ssrcs: vec![],
        rtx_pairs: vec![],
        simulcast: Vec::new(),
    }
}

/// A viewer of one video track (with RTX when `rtx`) that was sent source packets
/// `first..first + count` (the first a keyframe), numbered from 1000; and the cache holding
/// them.
fn viewer_after(rtx: bool, first: u16, count: u16, now: Instant) -> (ViewerEgress, RtxCache) {
    let section = video_section(rtx.then_some(101));
    let mut egress = ViewerEgress::new(&[section], &[VIDEO_SSRC], 1000, 0)
        .with_rtx(&[rtx.then_some(RTX_SSRC)], 5000);
    let mut cache = RtxCache::new();
    let mut out = Vec::new();
    for i in 0..count {
        let mut packet = shared(MediaKind::Video, SOURCE, first.wrapping_add(i), now);
        if i == 0 {
            keyframe(&mut packet);
        }
        cache.insert(&packet);
        out.clear();
        assert!(matches!(
            egress.write(now, &packet, &mut out),
            EgressOutcome::Written(_)
        ));
    }
    (egress, cache)
}

fn keyframe(packet: &mut Arc<MediaPacket>) {
    Arc::get_mut(packet).unwrap().origin.keyframe = true;
}

/// Every retransmission written at `now`, parsed: (ssrc, pt, seq, payload).
fn drain(
    egress: &mut ViewerEgress,
    cache: &RtxCache,
    now: Instant,
) -> Vec<(u32, u8, u16, Vec<u8>)> {
    let mut out = [0u8; 1500];
    let mut written = Vec::new();
    while let Some(len) = egress.write_retransmission(now, Some(cache), &mut out) {
        let rtp = RtpPacket::parse(&out[..len]).unwrap();
        written.push((
            rtp.ssrc(),
            rtp.payload_type(),
            rtp.sequence_number(),
            rtp.payload().to_vec(),
        ));
    }
    written
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

#[test]
fn a_nacked_packet_goes_back_in_the_rtx_stream_with_its_original_number_in_front() {
    let now = Instant::now();
    let (mut egress, cache) = viewer_after(true, 65_534, 5, now);
    // Output 1000..1004 stand for source 65534, 65535, 0, 1, 2.
    egress.handle_nack(now, VIDEO_SSRC, [1001, 1003].into_iter());
    assert!(egress.announce_retransmits(now));
    let resent = drain(&mut egress, &cache, now);
    let expected = |rtx_seq: u16, osn: u16, source_seq: u16| {
        let mut payload = osn.to_be_bytes().to_vec();
        payload.extend_from_slice(&[0x10, 0x51, source_seq as u8]);
        (RTX_SSRC, 101, rtx_seq, payload)
    };
    assert_eq!(
        resent,
        [expected(5000, 1001, 65_535), expected(5001, 1003, 1)]
    );
    assert!(!egress.stay_listed(now), "nothing left");
    let counters = egress.repair_counters();
    assert_eq!(
        (counters.nacks_received, counters.retransmissions_sent),
        (2, 2)
    );
}

#[test]
fn without_rtx_the_packet_goes_again_as_it_went() {
    let now = Instant::now();
    let (mut egress, cache) = viewer_after(false, 10, 3, now);
    egress.handle_nack(now, VIDEO_SSRC, [1002].into_iter());
    let resent = drain(&mut egress, &cache, now);
    assert_eq!(resent, [(VIDEO_SSRC, 100, 1002, vec![0x10, 0x51, 12])]);
}

#[test]
fn each_packet_goes_at_most_the_bound_and_never_twice_within_a_round_trip() {
    let t0 = Instant::now();
    let (mut egress, cache) = viewer_after(true, 0, 10, t0);
    let rtt = egress.rtt();
    let mut now = t0;
    let mut sent_at = Vec::new();
    // Asked every 10 ms for two seconds, twice per NACK.
    for _ in 0..200 {
        egress.handle_nack(now, VIDEO_SSRC, [1005, 1005].into_iter());
        let resent = drain(&mut egress, &cache, now);
        assert!(resent.len() <= 1, "{resent:?}");
        sent_at.extend(resent.iter().map(|_| now));
        now += ms(10);
    }
    assert_eq!(sent_at.len(), usize::from(MAX_RETRANSMISSIONS));
    for pair in sent_at.windows(2) {
        assert!(pair[1] - pair[0] >= rtt, "{:?} apart", pair[1] - pair[0]);
    }
    let counters = egress.repair_counters();
    assert_eq!(counters.nacks_received, 400);
    assert_eq!(counters.retransmissions_sent, 3);
    assert_eq!(counters.retransmissions_suppressed, 397);
}

#[test]
fn nacks_for_packets_never_sent_or_gone_from_the_cache_are_misses() {
    let now = Instant::now();
    let (mut egress, mut cache) = viewer_after(true, 0, 10, now);
    // Ahead of what was sent, before it, and another SSRC.
    egress.handle_nack(now, VIDEO_SSRC, [1010, 999, 40_000].into_iter());
    egress.handle_nack(now, 0xdead, [1001].into_iter());
    // Sent, but the cache lost it since (a new packet took its slot).
    cache.insert(&shared(MediaKind::Video, SOURCE, 2 + 1024, now));
    egress.handle_nack(now, VIDEO_SSRC, [1002].into_iter());
    assert!(drain(&mut egress, &cache, now).is_empty());
    // Too old by the time it is asked for.
    egress.handle_nack(now, VIDEO_SSRC, [1003].into_iter());
    assert!(drain(&mut egress, &cache, now + Duration::from_secs(2)).is_empty());
    let counters = egress.repair_counters();
    assert_eq!(counters.nacks_received, 6);
    assert_eq!(counters.retransmissions_missed, 6);
}

#[test]
fn a_huge_nack_fills_the_bounded_queue_and_drains_at_the_pace() {
    let t0 = Instant::now();
    let (mut egress, cache) = viewer_after(true, 0, 1000, t0);
    // Every sequence number there is, in items of seventeen.
    egress.handle_nack(
        t0,
        VIDEO_SSRC,
        (0..=u16::MAX).cycle().skip(1000).take(65_536),
    );
    let counters = egress.repair_counters();
    assert_eq!(counters.nacks_received, 65_536);
    assert_eq!(counters.retransmissions_missed, 65_536 - 1000);
    assert_eq!(counters.retransmissions_dropped, 1000 - QUEUE_LIMIT as u64);
    assert!(egress.announce_retransmits(t0));

    let mut now = t0;
    let mut sent = drain(&mut egress, &cache, now).len();
    assert_eq!(sent, PACE_BURST as usize);
    while sent < QUEUE_LIMIT {
        assert_eq!(
            egress.retransmit_deadline(),
            None,
            "listed: the shard polls it"
        );
        now += PACE_INTERVAL;
        let burst = drain(&mut egress, &cache, now).len();
        assert_eq!(burst, 1, "after the first burst, one per interval");
        sent += burst;
    }
    assert_eq!(now - t0, PACE_INTERVAL * (QUEUE_LIMIT as u32 - PACE_BURST));
    assert!(drain(&mut egress, &cache, now + ms(100)).is_empty());
    assert_eq!(
        egress.repair_counters().retransmissions_sent,
        QUEUE_LIMIT as u64
    );
}
