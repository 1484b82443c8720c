//! Retransmissions on the shard, on clean paths where the tests decide what is lost: viewers'
//! NACKs answered from the home shard's cache and from a mirror's, hostile NACKs, one
//! viewer's flood beside another's single request, and the shard's own NACKs to a publisher.

use std::time::Duration;

use shardcast_control::{Request, Response, Role, SessionAnswer, shard_for};

use super::sim_net::{Net, session_on, vp8};
use super::sim_peer::{SimPeer, repair_sections};
use crate::egress::retransmit_queue::{PACE_BURST, QUEUE_LIMIT};
use crate::ingress::nack_register::MAX_NACKS;
use crate::rtcp::write_nack;
use crate::rtp::RtpHeader;

const VIDEO_SSRC: u32 = 0x1111;
const VIDEO_RTX_SSRC: u32 = 0x3333;

fn video(seq: u16) -> RtpHeader {
    RtpHeader {
        marker: true,
        payload_type: 96,
        sequence_number: seq,
        timestamp: u32::from(seq) * 3000,
        ssrc: VIDEO_SSRC,
    }
}

/// A publisher of stream "s" and one viewer per entry of `viewers` (shard, RTX), connected;
/// the publisher has sent video `0..packets`.
fn watched(
    shard_count: usize,
    viewers: &[(usize, bool)],
    packets: u16,
) -> (Net, usize, Vec<(usize, SessionAnswer)>) {
    let mut net = Net::new(shard_count);
    let media = repair_sections(true, Some((VIDEO_SSRC, VIDEO_RTX_SSRC)));
    let (publisher, _) = net.join_with(Role::Publish, "s", "pub", media);
    let viewers: Vec<_> = viewers
        .iter()
        .enumerate()
        .map(|(i, &(shard, rtx))| {
            let session = session_on(shard, shard_count, &format!("v{i}"));
            net.join_with(Role::Play, "s", &session, repair_sections(rtx, None))
        })
        .collect();
    net.run_until(Duration::from_secs(5), |net| {
        net.peers.iter().all(SimPeer::is_connected)
    });
    net.step_size = Duration::from_millis(1);
    for seq in 0..packets {
        net.send_media(publisher, &video(seq), "1", &vp8(seq == 0, seq as u8));
        net.step();
    }
    (net, publisher, viewers)
}

/// The viewer at `peer` NACKs `seqs` of its track `media_ssrc`.
fn nack(net: &mut Net, peer: usize, media_ssrc: u32, seqs: &[u16]) {
    let mut plain = Vec::new();
    write_nack(&mut plain, 0x9999, media_ssrc, seqs).unwrap();
    send_rtcp(net, peer, &plain);
}

fn send_rtcp(net: &mut Net, peer: usize, plain: &[u8]) {
    let datagram = net.peers[peer].protect_rtcp(plain);
    let server = net.peers[peer].server().unwrap();
    net.send_to_shard(peer, server, datagram);
    net.settle();
}

fn video_ssrc(answer: &SessionAnswer) -> u32 {
    answer.media[1].ssrc.unwrap()
}

#[test]
fn a_viewers_nack_is_answered_by_its_own_shard_from_the_home_cache_or_a_mirror() {
    let home = shard_for("s", 2);
    let (mut net, _, viewers) = watched(2, &[(home, false), (1 - home, true)], 10);
    let remote_before = net.shards[1 - home].counters().remote_packets_in;
    for (peer, answer) in &viewers {
        let ssrc = video_ssrc(answer);
        let wanted = net.video_received(*peer, answer)[3];
        let payload = net.peers[*peer]
            .received
            .iter()
            .find(|p| p.0 == ssrc && p.2 == wanted)
            .unwrap()
            .4
            .clone();
        nack(&mut net, *peer, ssrc, &[wanted]);
        let viewer = &net.peers[*peer];
        assert_eq!(
            viewer.transmissions[&(ssrc, wanted)],
            2,
            "viewer {peer}: sent again"
        );
        let copies: Vec<_> = viewer
            .received
            .iter()
            .filter(|p| p.0 == ssrc && p.2 == wanted)
            .collect();
        if answer.media[1].rtx_ssrc.is_some() {
            assert_eq!(copies.len(), 2, "viewer {peer}: RTX came through");
            assert_eq!(copies[1].4, payload, "the same payload");
            assert_eq!(copies[1].1, 96, "the viewer's payload type (RTX unwrapped)");
        } else {
            // The same packet again: SRTP takes it for a replay of one that arrived.
            assert_eq!((copies.len(), viewer.srtp_rejected), (1, 1));
        }
    }
    for shard in 0..2 {
        let repair = net.shards[shard].counters().repair;
        assert_eq!((repair.nacks_received, repair.retransmissions_sent), (1, 1));
    }
    assert_eq!(
        net.shards[1 - home].counters().remote_packets_in,
        remote_before,
        "the mirror answered without asking the home shard"
    );
}

#[test]
fn a_nack_flood_from_one_viewer_does_not_hold_up_another() {
    let (mut net, _, viewers) = watched(1, &[(0, true), (0, true)], 300);
    let (flooder, quiet) = (&viewers[0], &viewers[1]);
    let all = net.video_received(flooder.0, &flooder.1);
    nack(&mut net, flooder.0, video_ssrc(&flooder.1), &all);
    let one = net.video_received(quiet.0, &quiet.1)[150];
    nack(&mut net, quiet.0, video_ssrc(&quiet.1), &[one]);

    let asked_at = net.now;
    assert_eq!(
        net.peers[quiet.0].retransmitted_at,
        [asked_at],
        "answered at once"
    );
    let flood = &net.peers[flooder.0].retransmitted_at;
    assert_eq!(
        flood.len(),
        PACE_BURST as usize,
        "the flood is paced from the start"
    );
    for _ in 0..400 {
        net.step();
    }
    let flood = &net.peers[flooder.0].retransmitted_at;
    assert_eq!(
        flood.len(),
        QUEUE_LIMIT,
        "the queue's worth, the oldest dropped"
    );
    let repair = net.shards[0].counters().repair;
    assert_eq!(repair.retransmissions_dropped, 300 - QUEUE_LIMIT as u64);
    assert_eq!(repair.retransmissions_sent, QUEUE_LIMIT as u64 + 1);
}

#[test]
fn hostile_nacks_cost_counters_and_nothing_else() {
    let (mut net, _, viewers) = watched(1, &[(0, true), (0, false)], 10);
    let (peer, answer) = &viewers[0];
    let received_before = net.peers[*peer].received.len();
    // Every sequence number there is, each item with all sixteen following bits set.
    let mut plain = vec![0x81, 205, 0, 0];
    plain.extend_from_slice(&0x9999u32.to_be_bytes());
    plain.extend_from_slice(&video_ssrc(answer).to_be_bytes());
    for pid in (0..=u16::MAX).step_by(17) {
        plain.extend_from_slice(&pid.to_be_bytes());
        plain.extend_from_slice(&u16::MAX.to_be_bytes());
    }
    let words = (plain.len() / 4 - 1) as u16;
    plain[2..4].copy_from_slice(&words.to_be_bytes());
    send_rtcp(&mut net, *peer, &plain);
    // Another viewer's SSRC, and one that is nobody's.
    nack(&mut net, *peer, video_ssrc(&viewers[1].1), &[1, 2, 3]);
    nack(&mut net, *peer, 0xdead_beef, &[1, 2, 3]);
    for _ in 0..100 {
        net.step();
    }

    let repair = net.shards[0].counters().repair;
    assert_eq!(
        repair.retransmissions_sent, 10,
        "each packet sent once, only once"
    );
    assert_eq!(
        repair.nacks_received,
        repair.retransmissions_sent
            + repair.retransmissions_missed
            + repair.retransmissions_suppressed
            + repair.retransmissions_dropped,
        "{repair:?}"
    );
    assert!(repair.retransmissions_missed > 65_000, "{repair:?}");
    assert_eq!(net.peers[*peer].received.len(), received_before + 10);
    assert_eq!(
        net.peers[viewers[1].0].transmissions.values().max(),
        Some(&1),
        "the other viewer got nothing again"
    );
}

#[test]
fn the_shard_nacks_a_lost_publisher_packet_and_gives_up_on_one_never_answered() {
    let (mut net, publisher, viewers) = watched(1, &[(0, false)], 0);
    for seq in 0..20u16 {
        match seq {
            // Lost on the way: the publisher still has it.
            5 => drop(net.peers[publisher].send_rtp(&video(seq), "1", &vp8(false, 5))),
            // Never sent at all: nobody can answer for it.
            9 => {}
            _ => net.send_media(publisher, &video(seq), "1", &vp8(seq == 0, seq as u8)),
        }
        net.step();
    }
    for _ in 0..2000 {
        net.step();
    }

    let (peer, answer) = &viewers[0];
    let mut seqs = net.video_received(*peer, answer);
    let first = seqs[0];
    seqs.iter_mut().for_each(|s| *s = s.wrapping_sub(first));
    assert!(seqs.contains(&5), "recovered: {seqs:?}");
    assert!(!seqs.contains(&9), "{seqs:?}");
    assert_eq!(seqs.len(), 19);
    assert_eq!(
        net.peers[publisher]
            .publisher_repair
            .as_ref()
            .unwrap()
            .nacked,
        1 + usize::from(MAX_NACKS)
    );

    let Response::Stats(stats) = net.shards[0].handle_control(net.now, Request::Stats) else {
        panic!("expected stats");
    };
    let counters = stats.counters;
    assert_eq!(counters.publisher_nacks_sent, 1 + u64::from(MAX_NACKS));
    assert_eq!(
        (counters.packets_recovered, counters.packets_given_up),
        (1, 1)
    );
}
