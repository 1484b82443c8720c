//! Bandwidth estimation on the shard: a viewer that negotiated transport-wide congestion
//! control gets every packet numbered, media and retransmissions alike; its feedback, or
//! another viewer's REMB, shows in the shard's stats.

use std::time::Duration;

use shardcast_control::{Request, Response, Role, SessionAnswer, ShardStats};

use super::sim_net::{Net, vp8};
use super::sim_peer::{SimPeer, repair_sections, transport_cc_sections};
use crate::bwe::INITIAL_ESTIMATE_BPS;
use crate::rtcp::{write_nack, write_remb};
use crate::rtp::RtpHeader;

const VIDEO_SSRC: u32 = 0x1111;

/// A publisher and two viewers on one shard, the first with transport-cc (and RTX), the
/// second without; the publisher has sent `packets` video packets.
fn watched(packets: u16) -> (Net, [(usize, SessionAnswer); 2]) {
    let mut net = Net::new(1);
    let (publisher, _) = net.join_with(
        Role::Publish,
        "s",
        "pub",
        repair_sections(true, Some((VIDEO_SSRC, 0x3333))),
    );
    let with = net.join_with(Role::Play, "s", "with", transport_cc_sections(true));
    let without = net.join_with(Role::Play, "s", "without", repair_sections(false, None));
    net.run_until(Duration::from_secs(5), |net| {
        net.peers.iter().all(SimPeer::is_connected)
    });
    net.step_size = Duration::from_millis(1);
    for seq in 0..packets {
        let header = RtpHeader {
            marker: true,
            payload_type: 96,
            sequence_number: seq,
            timestamp: u32::from(seq) * 3000,
            ssrc: VIDEO_SSRC,
        };
        net.send_media(publisher, &header, "1", &vp8(seq == 0, seq as u8));
        net.step();
    }
    (net, [with, without])
}

fn send_rtcp(net: &mut Net, peer: usize, plain: &[u8]) {
    let datagram = net.peers[peer].protect_rtcp(plain);
    let server = net.peers[peer].server().unwrap();
    net.send_to_shard(peer, server, datagram);
    net.settle();
}

fn stats(net: &mut Net) -> ShardStats {
    let now = net.now;
    match net.shards[0].handle_control(now, Request::Stats) {
        Response::Stats(stats) => stats,
        other => panic!("expected stats, got {other:?}"),
    }
}

/// Transport-cc feedback saying every one of `seqs` (consecutive) arrived, 1 ms apart.
fn all_arrived(seqs: &[u16]) -> Vec<u8> {
    let count = seqs.len() as u16;
    let mut plain = vec![0x8f, 205, 0, 0];
    plain.extend_from_slice(&0x9999u32.to_be_bytes());
    plain.extend_from_slice(&0u32.to_be_bytes());
    plain.extend_from_slice(&seqs[0].to_be_bytes());
    plain.extend_from_slice(&count.to_be_bytes());
    plain.extend_from_slice(&[0, 0, 1, 0]);
    // One run chunk: `count` packets received with a small delta each.
    plain.extend_from_slice(&(0x2000 | count).to_be_bytes());
    plain.extend(std::iter::repeat_n(4u8, seqs.len()));
    while !plain.len().is_multiple_of(4) {
        plain.push(0);
    }
    let words = (plain.len() / 4 - 1) as u16;
    plain[2..4].copy_from_slice(&words.to_be_bytes());
    plain
}

#[test]
fn a_transport_cc_viewer_gets_every_packet_numbered_in_order() {
    let (mut net, [(with, answer), (without, _)]) = watched(10);
    let first = net.peers[with].transport_seqs.clone();
    assert_eq!(first.len(), net.peers[with].received.len());
    assert!(first.len() >= 10, "{first:?}");
    assert!(
        first.windows(2).all(|w| w[1] == w[0].wrapping_add(1)),
        "{first:?}"
    );
    assert!(net.peers[without].transport_seqs.is_empty());

    // A retransmission (in RTX) takes the next number too.
    let ssrc = answer.media[1].ssrc.unwrap();
    let wanted = net.video_received(with, &answer)[3];
    let mut plain = Vec::new();
    write_nack(&mut plain, 0x9999, ssrc, &[wanted]).unwrap();
    send_rtcp(&mut net, with, &plain);
    let after = &net.peers[with].transport_seqs;
    assert_eq!(after.len(), first.len() + 1, "the retransmission arrived");
    assert_eq!(after[first.len()], first[first.len() - 1].wrapping_add(1));
}

#[test]
fn feedback_and_remb_show_in_the_stats() {
    let (mut net, [(with, _), (without, _)]) = watched(10);
    let fresh = stats(&mut net).bandwidth;
    assert_eq!(fresh.viewers, 0, "no feedback yet, no estimate");

    let seqs = net.peers[with].transport_seqs.clone();
    send_rtcp(&mut net, with, &all_arrived(&seqs));
    let mut remb = Vec::new();
    write_remb(&mut remb, 0x9999, 200_000, &[0x1234]).unwrap();
    send_rtcp(&mut net, without, &remb);

    let bandwidth = stats(&mut net).bandwidth;
    assert_eq!((bandwidth.viewers, bandwidth.transport_cc_viewers), (2, 1));
    // The REMB capped one; one clean feedback leaves the other where estimates start.
    assert_eq!(
        (bandwidth.min_bps, bandwidth.median_bps, bandwidth.max_bps),
        (200_000, 200_000, INITIAL_ESTIMATE_BPS)
    );
    assert_eq!(bandwidth.sum_bps, 200_000 + INITIAL_ESTIMATE_BPS);
}
