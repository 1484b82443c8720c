//! The forwarding path allocates nothing in steady state: a publisher's packet is decrypted
//! into a pooled buffer, checked by the NACK register, kept in the stream's RTX cache, queued
//! once, and rewritten and encrypted for each viewer straight into the runtime's send buffer.

use std::time::Duration;

use shardcast_control::Role;

use super::sim_net::{Net, vp8};
use super::sim_peer::{SimPeer, repair_sections};
use crate::alloc_count::allocations_during;
use crate::egress::rtx_cache::VIDEO_SLOTS;
use crate::rtp::RtpHeader;

const VIEWERS: usize = 100;
/// Past the RTX cache's size: from then on each packet reuses the one the cache lets go.
const WARM_UP: u16 = VIDEO_SLOTS as u16 + 100;
const MEASURED: u16 = 10_000;

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

/// Hands each packet to the shard and drains every datagram it writes, as the runtime does;
/// returns how many datagrams went out.
fn forward(net: &mut Net, packets: &[Vec<u8>], out: &mut Vec<u8>) -> u64 {
    let publisher = net.peers[0].address;
    let shard = &mut net.shards[0];
    let mut now = net.now;
    let mut datagrams = 0;
    for packet in packets {
        now += Duration::from_micros(10);
        shard.handle_receive(now, publisher, None, packet);
        while shard.poll_transmit_into(out).is_some() {
            datagrams += 1;
        }
    }
    datagrams
}

#[test]
fn forwarding_to_a_hundred_viewers_allocates_nothing_after_warm_up() {
    let mut net = Net::new(1);
    let media = repair_sections(true, Some((0x1111, 0x3333)));
    net.join_with(Role::Publish, "s", "publisher", media);
    for i in 0..VIEWERS {
        net.join(Role::Play, "s", &format!("v{i}"));
    }
    net.run_until(Duration::from_secs(5), |net| {
        net.peers.iter().all(SimPeer::is_connected)
    });
    net.receive_video(0, 0, 0, true);
    net.settle();

    let mut out = Vec::with_capacity(1500);
    let warm_up = publisher_packets(&mut net, 1, WARM_UP);
    assert_eq!(
        forward(&mut net, &warm_up, &mut out),
        u64::from(WARM_UP) * VIEWERS as u64
    );

    let measured = publisher_packets(&mut net, 1 + WARM_UP, MEASURED);
    let mut datagrams = 0;
    let allocations = allocations_during(|| datagrams = forward(&mut net, &measured, &mut out));
    assert_eq!(datagrams, u64::from(MEASURED) * VIEWERS as u64);
    assert_eq!(
        allocations, 0,
        "allocations while forwarding {datagrams} datagrams"
    );
}
