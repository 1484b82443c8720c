//! Lazy fan-out: packets wait in the shard's queue until the runtime polls for datagrams.

use std::time::Duration;

use shardcast_control::{Request, Response, Role, SessionAnswer};

use super::FANOUT_QUEUE_JOBS;
use super::fanout_write::PASSED_OVER_PER_POLL;
use super::sim_net::Net;
use super::sim_peer::SimPeer;

/// One shard with a publisher (peer 0) and `viewers` connected viewers of stream "s", all of
/// whom already have a keyframe (sequence number 0).
pub(super) fn watched_shard(viewers: usize) -> (Net, Vec<(usize, SessionAnswer)>) {
    let mut net = Net::new(1);
    net.join(Role::Publish, "s", "publisher");
    let viewers: Vec<_> = (0..viewers)
        .map(|i| net.join(Role::Play, "s", &format!("v{i}")))
        .collect();
    net.run_until(Duration::from_secs(5), |net| {
        net.peers.iter().all(SimPeer::is_connected)
    });
    net.receive_video(0, 0, 0, true);
    net.settle();
    (net, viewers)
}

/// Delivers datagrams until `count` more media datagrams were written (control datagrams,
/// which come first, pass through too).
fn deliver_media(net: &mut Net, count: u64) {
    let target = net.shards[0].counters().media_packets_out + count;
    while net.shards[0].counters().media_packets_out < target {
        assert!(net.deliver_next(0).is_some(), "ran out of datagrams");
    }
}

pub(super) fn delete(net: &mut Net, session: &str) {
    let request = Request::DeleteSession {
        session: session.into(),
    };
    assert_eq!(net.shards[0].handle_control(net.now, request), Response::Ok);
}

/// Asserts that `seqs` are `count` consecutive sequence numbers.
fn assert_consecutive(seqs: &[u16], count: usize, who: &str) {
    assert_eq!(seqs.len(), count, "{who}: {seqs:?}");
    for pair in seqs.windows(2) {
        assert_eq!(pair[1], pair[0].wrapping_add(1), "{who}: {seqs:?}");
    }
}

#[test]
fn a_packet_is_encrypted_for_each_viewer_only_when_the_runtime_polls() {
    let (mut net, viewers) = watched_shard(50);
    let written_before = net.shards[0].counters().media_packets_out;
    assert_eq!(written_before, 50, "the keyframe reached everyone");

    net.receive_video(0, 0, 1, false);
    assert_eq!(
        net.shards[0].counters().media_packets_out,
        written_before,
        "receiving wrote nothing"
    );
    assert!(net.shards[0].has_pending_transmits());

    let mut destinations = Vec::new();
    while let Some(meta) = net.deliver_next(0) {
        destinations.push(meta.destination);
    }
    assert_eq!(destinations.len(), 50);
    destinations.sort();
    destinations.dedup();
    assert_eq!(destinations.len(), 50, "one datagram per viewer");
    assert!(!net.shards[0].has_pending_transmits());
    for (peer, answer) in &viewers {
        assert_consecutive(&net.video_received(*peer, answer), 2, "viewer");
    }
}

#[test]
fn a_full_queue_drops_the_oldest_packets_and_delivers_the_newest() {
    let (mut net, viewers) = watched_shard(2);
    let dropped = 10;
    for seq in 1..=FANOUT_QUEUE_JOBS + dropped {
        net.receive_video(0, 0, seq as u16, false);
    }
    assert_eq!(net.shards[0].counters().fanout_jobs_dropped, dropped as u64);
    net.settle();
    for (peer, answer) in &viewers {
        let seqs = net.video_received(*peer, answer);
        // The keyframe, a gap where the dropped packets were, then the newest ones in order.
        assert_eq!(seqs[1], seqs[0].wrapping_add(1 + dropped as u16));
        assert_consecutive(&seqs[1..], FANOUT_QUEUE_JOBS, "newest packets");
    }
}

#[test]
fn viewers_leaving_mid_fanout_make_the_others_neither_miss_nor_repeat_a_packet() {
    let (mut net, viewers) = watched_shard(6);
    for seq in 1..=3 {
        net.receive_video(0, 0, seq, false);
    }
    // Packet 1 to all six, packet 2 to v0 and v1: its cursor is at position 2.
    deliver_media(&mut net, 8);
    // A viewer packet 2 has yet to reach.
    delete(&mut net, "v4");
    deliver_media(&mut net, 1);
    // Packet 2 reached v2 and goes to v3 next, at position 3 of [v0 v1 v2 v3 v5]. A viewer
    // it already reached, then the one it reaches next:
    delete(&mut net, "v0");
    delete(&mut net, "v3");
    net.settle();

    for (i, (peer, answer)) in viewers.iter().enumerate() {
        if [1, 2, 5].contains(&i) {
            assert_consecutive(&net.video_received(*peer, answer), 4, &format!("v{i}"));
        }
    }
}

#[test]
fn viewers_that_take_nothing_are_passed_over_a_bounded_number_per_poll() {
    let mut net = Net::new(1);
    net.join(Role::Publish, "s", "publisher");
    let viewers = 3 * PASSED_OVER_PER_POLL;
    for i in 0..viewers {
        net.join(Role::Play, "s", &format!("v{i}"));
    }
    net.run_until(Duration::from_secs(5), |net| {
        net.peers.iter().all(SimPeer::is_connected)
    });
    net.settle();
    // No keyframe has come: every viewer waits for one and takes no other packet.
    net.receive_video(0, 0, 1, false);
    let mut buffer = Vec::new();
    let mut yields = 0;
    while net.shards[0].has_pending_transmits() {
        let written = net.shards[0].poll_transmit_into(&mut buffer).is_some();
        if !written && net.shards[0].has_pending_transmits() {
            yields += 1;
        }
    }
    // Each stretch of viewers ended a poll that wrote nothing; the next found the job done.
    assert_eq!(yields, viewers / PASSED_OVER_PER_POLL);
    assert_eq!(net.shards[0].counters().media_packets_out, 0);
}
