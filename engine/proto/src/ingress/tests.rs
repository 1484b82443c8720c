use std::time::{Duration, Instant};

use shardcast_control::{Codec, CodecName, MediaKind, MediaSection};

use super::*;
use crate::repair::RepairCounters;
use crate::rtcp::{RtcpPacket, iter_compound};
use crate::rtp::{RtpHeader, write_rtp};

fn video_section(feedback: &[&str], rtx_pairs: Vec<(u32, u32)>) -> MediaSection {
    MediaSection {
        mid: "1".into(),
        kind: MediaKind::Video,
        codecs: vec![Codec {
            payload_type: 96,
            name: CodecName::Vp8,
            clock_rate: 90_000,
            channels: None,
            fmtp: String::new(),
            rtx_payload_type: Some(97),
            feedback: feedback.iter().map(|f| f.to_string()).collect(),
        }],
        extensions: vec![],
        ssrcs: vec![],
        rtx_pairs,
        simulcast: Vec::new(),
    }
}

fn packet(payload_type: u8, ssrc: u32, seq: u16, payload: &[u8]) -> Vec<u8> {
    let header = RtpHeader {
        marker: false,
        payload_type,
        sequence_number: seq,
        timestamp: u32::from(seq) * 3000,
        ssrc,
    };
    let mut buf = [0u8; 64];
    let len = write_rtp(&mut buf, &header, &[], payload).unwrap();
    buf[..len].to_vec()
}

/// A VP8 frame's first bytes (descriptor, frame tag, start code); `key` for a keyframe.
fn vp8(key: bool) -> [u8; 8] {
    let tag = if key { 0x50 } else { 0x51 };
    [0x10, tag, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80]
}

/// An RTX packet repairing `osn`.
fn rtx(ssrc: u32, seq: u16, osn: u16, original: &[u8]) -> Vec<u8> {
    let mut payload = osn.to_be_bytes().to_vec();
    payload.extend_from_slice(original);
    packet(97, ssrc, seq, &payload)
}

/// The NACKs written at `now`: (media SSRC, lost sequence numbers).
fn nacks(ingress: &mut PublisherIngress, now: Instant) -> Vec<(u32, Vec<u16>)> {
    let mut out = Vec::new();
    ingress.write_nacks(now, 0xfeed, &mut out);
    iter_compound(&out)
        .map(|packet| match packet.unwrap() {
            RtcpPacket::Nack {
                sender_ssrc,
                media_ssrc,
                items,
            } => {
                assert_eq!(sender_ssrc, 0xfeed);
                (media_ssrc, items.lost().collect())
            }
            other => panic!("expected a NACK, got {other:?}"),
        })
        .collect()
}

#[test]
fn keyframe_requests_name_the_media_ssrc_even_when_rtx_probing_came_first() {
    let now = Instant::now();
    let mut ingress = PublisherIngress::new(&[video_section(&[], vec![])], 1);
    for seq in 0..20 {
        let probe = ingress.handle_rtp(
            now,
            &mut packet(97, 0xAAAA_0000 + u32::from(seq), seq, &[0x10, 0x01]),
        );
        assert_eq!(probe.err(), Some(IngressDrop::RepairPadding));
    }
    assert_eq!(ingress.video_ssrc(0), None, "no media SSRC known yet");
    ingress
        .handle_rtp(now, &mut packet(96, 0x1234, 1, &vp8(false)))
        .unwrap();
    assert_eq!(ingress.video_ssrc(0), Some(0x1234));
    assert_eq!(
        ingress.report_blocks(now).count(),
        1,
        "RTX is not reported on"
    );
}

#[test]
fn a_gap_is_nacked_and_the_rtx_repair_goes_out_as_the_original() {
    let t0 = Instant::now();
    let section = video_section(&["nack", "nack pli"], vec![(0x1234, 0x5678)]);
    let mut ingress = PublisherIngress::new(&[section], 1);
    for seq in [10, 13] {
        ingress
            .handle_rtp(t0, &mut packet(96, 0x1234, seq, &vp8(false)))
            .unwrap();
    }
    assert_eq!(
        ingress.nack_deadline(),
        Some(t0 + nack_register::REORDER_DELAY)
    );
    assert!(
        nacks(&mut ingress, t0).is_empty(),
        "reordering may still fill it"
    );
    let asked = t0 + nack_register::REORDER_DELAY;
    assert_eq!(nacks(&mut ingress, asked), [(0x1234, vec![11, 12])]);

    let repaired = asked + Duration::from_millis(40);
    let recovered = ingress
        .handle_rtp(repaired, &mut rtx(0x5678, 500, 11, &vp8(true)))
        .unwrap();
    assert_eq!(recovered.layout.sequence_number, 11);
    assert_eq!(
        recovered.layout.timestamp,
        500 * 3000,
        "the RTX packet's own timestamp"
    );
    assert_eq!(recovered.payload(), vp8(true));
    assert!(recovered.origin.keyframe, "judged by the original payload");
    assert_eq!(recovered.origin.codec, CodecName::Vp8);

    // The same repair again, and an original that comes after all.
    let again = ingress.handle_rtp(repaired, &mut rtx(0x5678, 501, 11, &vp8(true)));
    assert_eq!(again.err(), Some(IngressDrop::Duplicate));
    let duplicate = ingress.handle_rtp(repaired, &mut packet(96, 0x1234, 13, &vp8(false)));
    assert_eq!(duplicate.err(), Some(IngressDrop::Duplicate));

    let counters = ingress.repair_counters();
    assert_eq!(
        (counters.publisher_nacks_sent, counters.packets_recovered),
        (2, 1)
    );
    // The RTT measured on the repair spaces the retry of 12.
    let retry = ingress.rtt.retry_interval();
    assert!(retry < Duration::from_millis(200), "{retry:?}");
    assert!(nacks(&mut ingress, asked + retry - Duration::from_millis(1)).is_empty());
    assert_eq!(nacks(&mut ingress, asked + retry), [(0x1234, vec![12])]);
    let block = ingress.report_blocks(repaired).next().unwrap();
    assert_eq!(block.cumulative_lost, 1, "the repair counts as received");
}

#[test]
fn an_undeclared_rtx_ssrc_repairs_the_tracks_only_media_ssrc() {
    let t0 = Instant::now();
    let mut ingress = PublisherIngress::new(&[video_section(&["nack"], vec![])], 1);
    let early = ingress.handle_rtp(t0, &mut rtx(0x9999, 1, 4, &vp8(false)));
    assert_eq!(early.err(), Some(IngressDrop::UnpairedRepair));
    for seq in [3, 5] {
        ingress
            .handle_rtp(t0, &mut packet(96, 0x1234, seq, &vp8(false)))
            .unwrap();
    }
    let repaired = ingress
        .handle_rtp(t0, &mut rtx(0x9999, 2, 4, &vp8(false)))
        .unwrap();
    assert_eq!(repaired.layout.sequence_number, 4);
    assert_eq!(ingress.report_blocks(t0).count(), 1);
}

#[test]
fn without_nack_nothing_is_asked_for_and_rtx_is_not_forwarded() {
    let t0 = Instant::now();
    let mut ingress = PublisherIngress::new(&[video_section(&["nack pli"], vec![(1, 2)])], 1);
    for seq in [1, 5, 3] {
        ingress
            .handle_rtp(t0, &mut packet(96, 1, seq, &vp8(false)))
            .unwrap();
    }
    assert_eq!(ingress.nack_deadline(), None);
    assert!(nacks(&mut ingress, t0 + Duration::from_secs(1)).is_empty());
    let probe = ingress.handle_rtp(t0, &mut rtx(2, 9, 4, &vp8(false)));
    assert_eq!(probe.err(), Some(IngressDrop::Duplicate));
    assert_eq!(ingress.repair_counters(), RepairCounters::default());
}
