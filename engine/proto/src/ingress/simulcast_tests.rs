//! Rid-based simulcast on the publisher's side: layers by rid, SSRC bindings that outlive
//! the rid extension, RTX by repaired rid, layer rates, and keyframe starts per layer.

use std::time::{Duration, Instant};

use shardcast_control::{Codec, CodecName, Extension, MediaKind, MediaSection};

use super::*;
use crate::rtp::extension::{MID_URI, REPAIRED_RTP_STREAM_ID_URI, RTP_STREAM_ID_URI};
use crate::rtp::{RtpHeader, write_rtp};

const MID: u8 = 1;
const RID: u8 = 10;
const RRID: u8 = 11;
/// Media SSRCs of layers q, h, f; their RTX SSRCs are these + 1.
const SSRCS: [u32; 3] = [0x100, 0x200, 0x300];
const RIDS: [&str; 3] = ["q", "h", "f"];

fn sections(codec: CodecName) -> Vec<MediaSection> {
    let extensions = vec![
        Extension {
            id: MID,
            uri: MID_URI.into(),
        },
        Extension {
            id: RID,
            uri: RTP_STREAM_ID_URI.into(),
        },
        Extension {
            id: RRID,
            uri: REPAIRED_RTP_STREAM_ID_URI.into(),
        },
    ];
    let section = |mid: &str, kind, name, payload_type, clock_rate, rids: &[&str]| MediaSection {
        mid: mid.into(),
        kind,
        codecs: vec![Codec {
            payload_type,
            name,
            clock_rate,
            channels: None,
            fmtp: String::new(),
            rtx_payload_type: (kind == MediaKind::Video).then_some(97),
            feedback: vec!["nack".into(), "nack pli".into()],
        }],
        extensions: extensions.clone(),
        ssrcs: vec![],
        rtx_pairs: vec![],
        simulcast: rids.iter().map(|r| r.to_string()).collect(),
    };
    vec![
        section("0", MediaKind::Audio, CodecName::Opus, 111, 48_000, &[]),
        section("1", MediaKind::Video, codec, 96, 90_000, &RIDS),
    ]
}

/// A video packet (RTX when `payload_type` is 97) with these header extensions.
fn packet(
    payload_type: u8,
    ssrc: u32,
    seq: u16,
    extensions: &[(u8, &[u8])],
    payload: &[u8],
) -> Vec<u8> {
    let header = RtpHeader {
        marker: false,
        payload_type,
        sequence_number: seq,
        timestamp: u32::from(seq / 4) * 3000,
        ssrc,
    };
    let mut buf = vec![0u8; 1500];
    let len = write_rtp(&mut buf, &header, extensions, payload).unwrap();
    buf.truncate(len);
    buf
}

/// A VP8 payload: the first packet of a key or delta frame.
fn vp8(key: bool) -> [u8; 8] {
    let tag = if key { 0x50 } else { 0x51 };
    [0x10, tag, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80]
}

/// The first packet of layer `layer`, naming its MID and rid as Chromium does.
fn first_packet(layer: usize, seq: u16) -> Vec<u8> {
    let extensions: [(u8, &[u8]); 2] = [(MID, b"1"), (RID, RIDS[layer].as_bytes())];
    packet(96, SSRCS[layer], seq, &extensions, &vp8(false))
}

#[test]
fn three_layers_by_rid_and_the_binding_outlives_the_rid_extension() {
    let now = Instant::now();
    let mut ingress = PublisherIngress::new(&sections(CodecName::Vp8), 1);
    assert_eq!(ingress.video_layer_count(), 3);
    for (layer, ssrc) in SSRCS.into_iter().enumerate() {
        assert_eq!(ingress.video_ssrc(layer as u8), None);
        let media = ingress
            .handle_rtp(now, &mut first_packet(layer, 1))
            .unwrap();
        assert_eq!(media.origin.layer, layer as u8);
        assert_eq!(media.origin.layers.count(), 3);
        assert_eq!(ingress.video_ssrc(layer as u8), Some(ssrc));
    }
    // Our receiver reports reached the publisher: no more MID and rid.
    for layer in [2, 0, 1] {
        let mut bare = packet(96, SSRCS[layer], 2, &[], &vp8(false));
        let media = ingress.handle_rtp(now, &mut bare).unwrap();
        assert_eq!(media.origin.layer, layer as u8);
    }
    let mut reported: Vec<_> = ingress.report_blocks(now).map(|b| b.ssrc).collect();
    reported.sort_unstable();
    assert_eq!(reported, SSRCS);
}

#[test]
fn packets_without_a_known_rid_are_dropped_until_their_ssrc_is_bound() {
    let now = Instant::now();
    let mut ingress = PublisherIngress::new(&sections(CodecName::Vp8), 1);
    let unknown = packet(96, 0x999, 1, &[(MID, b"1"), (RID, b"x")], &vp8(false));
    let no_rid = packet(96, 0x999, 2, &[(MID, b"1")], &vp8(false));
    for mut dropped in [unknown, no_rid.clone()] {
        let result = ingress.handle_rtp(now, &mut dropped);
        assert_eq!(result.err(), Some(IngressDrop::UnknownLayer));
    }
    assert_eq!(ingress.report_blocks(now).count(), 0);
    let named = packet(96, 0x999, 3, &[(RID, b"h")], &vp8(false));
    for (seq, mut data) in [(3, named), (4, no_rid)] {
        data[2..4].copy_from_slice(&u16::to_be_bytes(seq));
        let media = ingress.handle_rtp(now, &mut data).unwrap();
        assert_eq!(media.origin.layer, 1);
    }
    // Audio has no layers to name.
    let mut audio = packet(111, 0x777, 1, &[(MID, b"0")], &[0xfc]);
    let media = ingress.handle_rtp(now, &mut audio).unwrap();
    assert_eq!(
        (media.origin.kind, media.origin.layer),
        (MediaKind::Audio, 0)
    );
    assert_eq!(media.origin.layers.count(), 3, "audio carries the video's");
}

#[test]
fn an_rtx_packet_repairs_the_layer_its_repaired_rid_names() {
    let t0 = Instant::now();
    let mut ingress = PublisherIngress::new(&sections(CodecName::Vp8), 1);
    for (layer, ssrc) in SSRCS.into_iter().enumerate() {
        ingress
            .handle_rtp(t0, &mut first_packet(layer, 10))
            .unwrap();
        let mut after_gap = packet(96, ssrc, 13, &[], &vp8(false));
        ingress.handle_rtp(t0, &mut after_gap).unwrap();
    }
    let asked = t0 + nack_register::REORDER_DELAY;
    let mut out = Vec::new();
    ingress.write_nacks(asked, 0xfeed, &mut out);
    assert_eq!(
        crate::rtcp::iter_compound(&out).count(),
        3,
        "one NACK per layer"
    );

    // Each layer's RTX SSRC (media SSRC + 1), seen first with its repaired rid: 11 comes
    // back on every layer, 12 on layer 2 only, without the rid by then.
    let repair = |layer: usize, seq: u16, osn: u16, extensions: &[(u8, &[u8])]| {
        let mut payload = osn.to_be_bytes().to_vec();
        payload.extend_from_slice(&vp8(false));
        packet(97, SSRCS[layer] + 1, seq, extensions, &payload)
    };
    for layer in [2, 0, 1] {
        let rid: [(u8, &[u8]); 2] = [(MID, b"1"), (RRID, RIDS[layer].as_bytes())];
        let repaired = ingress
            .handle_rtp(asked, &mut repair(layer, 1, 11, &rid))
            .unwrap();
        assert_eq!(repaired.origin.layer, layer as u8);
        assert_eq!(repaired.layout.sequence_number, 11);
    }
    let repaired = ingress
        .handle_rtp(asked, &mut repair(2, 2, 12, &[]))
        .unwrap();
    assert_eq!(repaired.origin.layer, 2);
    for (layer, ssrc) in SSRCS.into_iter().enumerate() {
        assert_eq!(ingress.video_ssrc(layer as u8), Some(ssrc), "never RTX");
    }

    let later = asked + ingress.rtt.retry_interval();
    out.clear();
    ingress.write_nacks(later, 0xfeed, &mut out);
    let mut nacked: Vec<(u32, Vec<u16>)> = crate::rtcp::iter_compound(&out)
        .map(|p| match p.unwrap() {
            crate::rtcp::RtcpPacket::Nack {
                media_ssrc, items, ..
            } => (media_ssrc, items.lost().collect()),
            other => panic!("{other:?}"),
        })
        .collect();
    nacked.sort_unstable();
    let still_missing = [(SSRCS[0], vec![12]), (SSRCS[1], vec![12])];
    assert_eq!(nacked, still_missing, "layer 2 is whole again");
    let blocks: Vec<_> = ingress.report_blocks(later).collect();
    assert_eq!(blocks.len(), 3, "RTX SSRCs are not reported on");
    let layer2 = blocks.iter().find(|b| b.ssrc == SSRCS[2]).unwrap();
    assert_eq!(layer2.cumulative_lost, 0);
}

#[test]
fn layer_rates_follow_each_layers_stream_and_a_stopped_layer_reads_zero() {
    let t0 = Instant::now();
    let mut ingress = PublisherIngress::new(&sections(CodecName::Vp8), 1);
    // 1000-byte packets: 100, 300 and 1200 kbit/s are 12.5, 37.5 and 150 packets a second.
    let rates = [100_000u64, 300_000, 1_200_000];
    let mut next: [Duration; 3] = [Duration::ZERO; 3];
    let mut seqs = [0u16; 3];
    let mut feed = |ingress: &mut PublisherIngress, until: Duration, layers: &[usize]| {
        let mut last = None;
        loop {
            let (layer, at) = layers
                .iter()
                .map(|&l| (l, next[l]))
                .min_by_key(|&(_, at)| at)
                .unwrap();
            if at >= until {
                return last.unwrap();
            }
            let mut data = if seqs[layer] == 0 {
                first_packet(layer, 0)
            } else {
                packet(96, SSRCS[layer], seqs[layer], &[], &vp8(false))
            };
            data.resize(1000, 0);
            last = Some(
                ingress
                    .handle_rtp(t0 + at, &mut data)
                    .unwrap()
                    .origin
                    .layers,
            );
            seqs[layer] += 1;
            next[layer] += Duration::from_micros(8_000 * 1_000_000 / rates[layer]);
        }
    };
    let measured = feed(&mut ingress, Duration::from_secs(3), &[0, 1, 2]);
    for (layer, rate) in rates.iter().enumerate() {
        let got = u64::from(measured.rate(layer));
        assert!(got.abs_diff(*rate) * 10 <= *rate, "layer {layer}: {got}");
    }
    // Layer 2 stops; the others go on. It reads 0 once its last packet left the window,
    // 0.75 to 1 s later.
    let within = feed(&mut ingress, Duration::from_millis(3600), &[0, 1]);
    assert!(within.rate(2) > 0, "still within the window");
    let after = feed(&mut ingress, Duration::from_millis(4100), &[0, 1]);
    assert_eq!(after.rate(2), 0);
    assert!(u64::from(after.rate(1)).abs_diff(rates[1]) * 10 <= rates[1]);
}

#[test]
fn only_the_first_packet_of_a_keyframe_is_its_start_in_each_layer() {
    let now = Instant::now();
    let mut ingress = PublisherIngress::new(&sections(CodecName::H264), 1);
    // A frame as Chromium packetizes an H.264 keyframe: STAP-A (SPS, PPS), then each IDR
    // slice as FU-A fragments; all four packets share one timestamp (seq / 4).
    let stap_a = [0x78, 0, 2, 0x67, 0x42, 0, 2, 0x68, 0xce];
    let idr_start = [0x7c, 0x85, 0x88];
    let idr_end = [0x7c, 0x45, 0x11];
    let second_slice = [0x7c, 0x85, 0x9a];
    let delta = [0x41, 0x9a];
    let mut starts = Vec::new();
    for layer in [0, 1] {
        let rid: [(u8, &[u8]); 1] = [(RID, RIDS[layer].as_bytes())];
        let frames: [&[u8]; 8] = [
            &stap_a,
            &idr_start,
            &idr_end,
            &second_slice,
            &delta,
            &delta,
            &delta,
            &delta,
        ];
        for (seq, payload) in (4u16..).zip(frames.iter().chain(&frames[..4])) {
            let extensions = if seq == 4 { &rid[..] } else { &[] };
            let mut data = packet(96, SSRCS[layer], seq, extensions, payload);
            let media = ingress.handle_rtp(now, &mut data).unwrap();
            if media.origin.keyframe {
                starts.push((layer, seq));
            }
        }
    }
    assert_eq!(starts, [(0, 4), (0, 12), (1, 4), (1, 12)]);

    // VP8: the keyframe's first packet only, never a continuation of partition 0.
    let mut ingress = PublisherIngress::new(&sections(CodecName::Vp8), 1);
    let mut continuation = vp8(true);
    continuation[0] = 0x00;
    let frames = [vp8(true), continuation, vp8(false), continuation];
    let flags: Vec<bool> = (0u16..)
        .zip(frames)
        .map(|(seq, payload)| {
            let extensions: &[(u8, &[u8])] = if seq == 0 { &[(RID, b"q")] } else { &[] };
            let mut data = packet(96, SSRCS[0], seq, extensions, &payload);
            ingress.handle_rtp(now, &mut data).unwrap().origin.keyframe
        })
        .collect();
    assert_eq!(flags, [true, false, false, false]);
}
