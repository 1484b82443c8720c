//! The forwarding path allocates nothing in steady state: a publisher's packet is decrypted
//! into a pooled buffer, checked by the NACK register, kept in the stream's RTX cache, queued
//! once, and rewritten and encrypted for each viewer straight into the runtime's send buffer,
//! one datagram at a time or a viewer's packets back to back as one run. The viewers
//! negotiated transport-wide congestion control, so each packet is numbered and remembered.

use std::time::Duration;

use shardcast_control::Role;

use super::sim_net::{Net, poll_past_yields, vp8};
use super::sim_peer::{SimPeer, repair_sections, transport_cc_sections};
use super::{RunLimits, ShardCore};
use crate::alloc_count::allocations_during;
use crate::egress::rtx_cache::VIDEO_SLOTS;
use crate::rtp::RtpHeader;

const VIEWERS: usize = 100;
/// Past the RTX cache's size: from then on each packet reuses the one the cache lets go.
const WARM_UP: u16 = VIDEO_SLOTS as u16 + 100;
const MEASURED: u16 = 10_000;
/// Packets that arrive together, as a frame's do, before the runtime drains the shard.
const FRAME: usize = 5;
const RUN_LIMITS: RunLimits = RunLimits {
    segments: 8,
    bytes: 12_000,
};

/// The publisher's packets, SRTP-protected in advance so the measurement sees only the shard.
fn publisher_packets(net: &mut Net, first: u16, count: u16) -> Vec<Vec<u8>> {
    (first..first + count)
        .map(|seq| {
            let header = RtpHeader {
                marker: true,
                payload_type: 96,
                sequence_number: seq,
                timestamp: u32::from(seq).wrapping_mul(3_000),
                ssrc: 0x1111,
            };
            net.peers[0].send_rtp(&header, "1", &vp8(seq % 60 == 0, seq as u8))
        })
        .collect()
}

/// What a drain took from the shard: datagrams, and the polls (sends) that carried them.
type Drained = (u64, u64);

/// Drains every datagram the shard has, one per poll.
fn drain_singly(shard: &mut ShardCore, out: &mut Vec<u8>) -> Drained {
    let mut datagrams = 0;
    while poll_past_yields(shard, out, RunLimits::SINGLE).is_some() {
        datagrams += 1;
    }
    (datagrams, datagrams)
}

/// Drains the shard in runs, as the runtime does with UDP GSO.
fn drain_runs(shard: &mut ShardCore, out: &mut Vec<u8>) -> Drained {
    let (mut datagrams, mut polls) = (0, 0);
    while let Some(meta) = poll_past_yields(shard, out, RUN_LIMITS) {
        let segments = meta
            .segment_size
            .map_or(1, |size| out.len().div_ceil(usize::from(size)));
        datagrams += segments as u64;
        polls += 1;
    }
    (datagrams, polls)
}

/// Hands the packets to the shard `frame` at a time and drains what it writes after each
/// batch with `drain`, as the runtime does.
fn forward(
    net: &mut Net,
    packets: &[Vec<u8>],
    frame: usize,
    out: &mut Vec<u8>,
    drain: fn(&mut ShardCore, &mut Vec<u8>) -> Drained,
) -> Drained {
    let publisher = net.peers[0].address;
    let shard = &mut net.shards[0];
    let mut now = net.now;
    let (mut datagrams, mut polls) = (0, 0);
    for batch in packets.chunks(frame) {
        now += Duration::from_micros(10);
        for packet in batch {
            shard.handle_receive(now, publisher, None, packet);
        }
        let drained = drain(shard, out);
        datagrams += drained.0;
        polls += drained.1;
    }
    (datagrams, polls)
}

/// Forwards `MEASURED` packets to a hundred viewers, after `WARM_UP` packets forwarded the
/// same way; returns the allocations and the polls while measuring.
fn allocations_forwarding(
    frame: usize,
    mut out: Vec<u8>,
    drain: fn(&mut ShardCore, &mut Vec<u8>) -> Drained,
) -> (u64, u64) {
    let mut net = Net::new(1);
    let media = repair_sections(true, Some((0x1111, 0x3333)));
    net.join_with(Role::Publish, "s", "publisher", media);
    for i in 0..VIEWERS {
        net.join_with(
            Role::Play,
            "s",
            &format!("v{i}"),
            transport_cc_sections(false),
        );
    }
    net.run_until(Duration::from_secs(5), |net| {
        net.peers.iter().all(SimPeer::is_connected)
    });
    net.receive_video(0, 0, 0, true);
    net.settle();

    let warm_up = publisher_packets(&mut net, 1, WARM_UP);
    let (datagrams, _) = forward(&mut net, &warm_up, frame, &mut out, drain);
    assert_eq!(datagrams, u64::from(WARM_UP) * VIEWERS as u64);

    let measured = publisher_packets(&mut net, 1 + WARM_UP, MEASURED);
    let mut drained = (0, 0);
    let allocations = allocations_during(|| {
        drained = forward(&mut net, &measured, frame, &mut out, drain);
    });
    assert_eq!(drained.0, u64::from(MEASURED) * VIEWERS as u64);
    (allocations, drained.1)
}

#[test]
fn forwarding_to_a_hundred_viewers_allocates_nothing_after_warm_up() {
    let (allocations, _) = allocations_forwarding(1, Vec::with_capacity(1500), drain_singly);
    assert_eq!(allocations, 0);
}

#[test]
fn forwarding_frames_in_runs_allocates_nothing_after_warm_up() {
    let out = Vec::with_capacity(RUN_LIMITS.bytes);
    let (allocations, polls) = allocations_forwarding(FRAME, out, drain_runs);
    assert_eq!(allocations, 0);
    // A frame's packets went to each viewer as one run.
    assert_eq!(polls, u64::from(MEASURED) * VIEWERS as u64 / FRAME as u64);
}
