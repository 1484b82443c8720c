//! Simulcast on the shard: a publisher sends three layers, each numbered on its own, and
//! every viewer gets the one its bandwidth carries as one unbroken stream.
//!
//! Ingress does not tell layers apart yet, so the publisher's packets are built here, with
//! their layer and the stream's layer rates set, and routed as the publisher's session would
//! route them. The publisher answers every keyframe request with a keyframe on each layer.

use std::sync::Arc;
use std::time::Duration;

use shardcast_control::{CodecName, MediaKind, Request, Response, Role, SessionAnswer};

use super::sim_net::Net;
use super::sim_peer::{SimPeer, repair_sections};
use crate::layers::LayerRates;
use crate::media::{MediaOrigin, MediaPacket, PacketLayout};
use crate::rtcp::write_remb;
use crate::rtp::{RtpHeader, RtpPacket, write_rtp};

/// The layers' rates; each packet is one 30 ms frame of its layer, as large as its rate says.
const RATES: [u32; 3] = [60_000, 150_000, 300_000];
/// Each layer numbers its packets, timestamps and pictures from its own base.
const SEQ_BASE: [u16; 3] = [100, 30_000, 65_000];
const TS_BASE: [u32; 3] = [7, 1_000_000, u32::MAX - 100_000];
const PICTURE_BASE: [u16; 3] = [5, 20_000, 32_700];
const TL0_BASE: [u8; 3] = [0, 100, 250];
const FRAME_TICKS: u32 = 2700;
const STREAM: &str = "talk";

/// A VP8 payload: descriptor with a 15-bit PictureID and TL0PICIDX, a frame tag, padding to
/// the layer's rate, and the layer as the last byte (so a viewer's copy says where it came
/// from).
fn vp8_payload(layer: u8, frame: u16, keyframe: bool) -> Vec<u8> {
    let picture_id = PICTURE_BASE[usize::from(layer)].wrapping_add(frame) & 0x7fff;
    let tl0 = TL0_BASE[usize::from(layer)].wrapping_add(frame as u8);
    let mut payload = vec![0x90, 0xc0];
    payload.extend_from_slice(&(picture_id | 0x8000).to_be_bytes());
    payload.push(tl0);
    let tag = if keyframe { 0x50 } else { 0x51 };
    payload.extend_from_slice(&[tag, 0x02, 0x00, 0x9d, 0x01, 0x2a]);
    let frame_bytes = RATES[usize::from(layer)] as usize * 30 / 1000 / 8;
    payload.resize(frame_bytes - 1, 0);
    payload.push(layer);
    payload
}

/// Frame `frame` of `layer`, as the publisher's session hands it to the shard.
fn layer_packet(layer: u8, frame: u16, keyframe: bool, net: &Net) -> MediaPacket {
    let index = usize::from(layer);
    let header = RtpHeader {
        marker: true,
        payload_type: 96,
        sequence_number: SEQ_BASE[index].wrapping_add(frame),
        timestamp: TS_BASE[index].wrapping_add(u32::from(frame) * FRAME_TICKS),
        ssrc: 0x5000 + u32::from(layer),
    };
    let mut buffer = [0u8; 1500];
    let len = write_rtp(
        &mut buffer,
        &header,
        &[],
        &vp8_payload(layer, frame, keyframe),
    )
    .unwrap();
    let layout = PacketLayout::of(&RtpPacket::parse(&buffer[..len]).unwrap(), |_| None);
    let mut layers = LayerRates::new(RATES.len());
    for (layer, rate) in RATES.into_iter().enumerate() {
        layers.set(layer, rate);
    }
    let origin = MediaOrigin {
        source: 1,
        kind: MediaKind::Video,
        codec: CodecName::Vp8,
        clock_rate: 90_000,
        keyframe,
        arrival: net.now,
        layer,
        layers,
    };
    MediaPacket::new(origin, layout, buffer[..len].to_vec())
}

/// What a viewer's decoder would see of one video packet.
#[derive(Debug, Clone, Copy)]
struct Seen {
    seq: u16,
    ts: u32,
    picture_id: u16,
    tl0: u8,
    keyframe: bool,
    layer: u8,
}

fn seen(net: &Net, peer: usize, answer: &SessionAnswer) -> Vec<Seen> {
    let ssrc = answer.media[1].ssrc.unwrap();
    net.peers[peer]
        .received
        .iter()
        .filter(|p| p.0 == ssrc)
        .map(|(_, _, seq, ts, payload)| Seen {
            seq: *seq,
            ts: *ts,
            picture_id: u16::from_be_bytes([payload[2], payload[3]]) & 0x7fff,
            tl0: payload[4],
            keyframe: payload[5] & 0x01 == 0,
            layer: payload[payload.len() - 1],
        })
        .collect()
}

fn send_rtcp(net: &mut Net, peer: usize, plain: &[u8]) {
    let datagram = net.peers[peer].protect_rtcp(plain);
    let server = net.peers[peer].server().unwrap();
    net.send_to_shard(peer, server, datagram);
    net.settle();
}

fn send_remb(net: &mut Net, peer: usize, bitrate_bps: u64) {
    let mut remb = Vec::new();
    write_remb(&mut remb, 0x9999, bitrate_bps, &[0x1234]).unwrap();
    send_rtcp(net, peer, &remb);
}

/// The stream runs for `frames` frames of 30 ms, every layer sending one packet per frame;
/// a keyframe request since the last frame makes the next one a keyframe on every layer.
/// Viewers send the REMBs of `rembs` (frame, peer, bits per second) from that frame on.
fn publish(net: &mut Net, publisher: usize, frames: u16, rembs: &[(u16, usize, u64)]) {
    let mut answered = net.peers[publisher].pli_received;
    let mut current: Vec<(usize, u64)> = Vec::new();
    for frame in 0..frames {
        let keyframe = net.peers[publisher].pli_received > answered;
        answered = net.peers[publisher].pli_received;
        let stream: Arc<str> = Arc::from(STREAM);
        for layer in 0..RATES.len() as u8 {
            let packet = layer_packet(layer, frame, keyframe, net);
            net.shards[0].route_media(&stream, packet);
        }
        for &(_, peer, bps) in rembs.iter().filter(|(at, _, _)| *at == frame) {
            current.retain(|(p, _)| *p != peer);
            current.push((peer, bps));
        }
        // A browser sends its REMB about once a second.
        if frame % 30 == 0 {
            for &(peer, bps) in &current {
                send_remb(net, peer, bps);
            }
        }
        for _ in 0..3 {
            net.step();
        }
    }
}

/// Every packet follows the one before: sequence numbers +1, timestamps forward, pictures
/// and TL0PICIDX +1 (one packet per picture here); the first and each one after a layer
/// change start a keyframe. Returns the layers in the order they were forwarded.
fn assert_continuous(video: &[Seen], who: &str) -> Vec<u8> {
    assert!(video[0].keyframe, "{who} starts at a keyframe");
    let mut layers = vec![video[0].layer];
    for pair in video.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        assert_eq!(b.seq, a.seq.wrapping_add(1), "{who}: {a:?} -> {b:?}");
        assert!(
            (b.ts.wrapping_sub(a.ts) as i32) > 0,
            "{who}: {a:?} -> {b:?}"
        );
        assert_eq!(
            b.picture_id,
            (a.picture_id + 1) & 0x7fff,
            "{who}: {a:?} -> {b:?}"
        );
        assert_eq!(b.tl0, a.tl0.wrapping_add(1), "{who}: {a:?} -> {b:?}");
        if b.layer != a.layer {
            assert!(b.keyframe, "{who} switches at a keyframe: {a:?} -> {b:?}");
            layers.push(b.layer);
        }
    }
    layers
}

#[test]
fn each_viewer_gets_the_layer_its_bandwidth_carries_as_one_unbroken_stream() {
    let mut net = Net::new(1);
    let (publisher, _) = net.join_with(Role::Publish, STREAM, "pub", repair_sections(false, None));
    net.run_until(Duration::from_secs(5), |net| {
        net.peers[publisher].is_connected()
    });
    // One packet through the publisher's own session, before anyone watches: it learns the
    // SSRC its keyframe requests name.
    net.receive_video(publisher, 0, 0, false);
    let poor = net.join_with(Role::Play, STREAM, "poor", repair_sections(false, None));
    let rich = net.join_with(Role::Play, STREAM, "rich", repair_sections(false, None));
    net.run_until(Duration::from_secs(5), |net| {
        net.peers.iter().all(SimPeer::is_connected)
    });

    // The rich viewer starts under a 200 kbps REMB, which lifts after 3 s: its clean
    // receiver reports then let its estimate grow to what the top layer needs. The poor one
    // starts at the initial estimate and says 100 kbps after 3 s.
    send_remb(&mut net, rich.0, 200_000);
    let rembs = [
        (0, rich.0, 200_000),
        (100, rich.0, 10_000_000),
        (100, poor.0, 100_000),
    ];
    publish(&mut net, publisher, 600, &rembs);

    let poor_layers = assert_continuous(&seen(&net, poor.0, &poor.1), "poor");
    let rich_layers = assert_continuous(&seen(&net, rich.0, &rich.1), "rich");
    assert_eq!(poor_layers, [2, 0], "starts where 1 Mbps allows, then down");
    assert_eq!(rich_layers, [1, 2], "starts where 200 kbps allows, then up");

    let now = net.now;
    let Response::Stats(stats) = net.shards[0].handle_control(now, Request::Stats) else {
        panic!("no stats");
    };
    assert_eq!(stats.layers.viewers, [1, 0, 1, 0]);
    assert_eq!(
        (stats.layers.switches_up, stats.layers.switches_down),
        (1, 1)
    );
}
