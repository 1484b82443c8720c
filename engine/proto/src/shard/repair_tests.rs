//! Loss repair end to end, on a simulated network that loses 5% of the datagrams on every
//! path, each way, holds 2% back behind later ones and adds up to 30 ms of jitter: the
//! shards NACK the publisher, the viewers NACK the shards, and what the viewers end up with
//! must miss less than 0.1% of the stream.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use shardcast_control::{Role, SessionAnswer};

use super::sim_link::Impairment;
use super::sim_net::{Net, session_on, vp8};
use super::sim_peer::{SimPeer, repair_sections};
use crate::egress::retransmit_limit::MAX_RETRANSMISSIONS;
use crate::egress::retransmit_queue::{PACE_BURST, PACE_INTERVAL};
use crate::repair::RepairCounters;
use crate::rtp::{RtpHeader, SequenceUnwrapper};

const VIDEO_SSRC: u32 = 0x1111;
const VIDEO_RTX_SSRC: u32 = 0x3333;
const AUDIO_SSRC: u32 = 0x2222;

/// Simulated seconds of media.
const SECONDS: u32 = 60;

struct Viewer {
    peer: usize,
    answer: SessionAnswer,
}

/// A publisher and four viewers (every other one with RTX), spread over `shard_count`
/// shards, connected over clean paths which then turn lossy.
fn lossy_network(shard_count: usize, seed: u64) -> (Net, usize, Vec<Viewer>) {
    let mut net = Net::new(shard_count);
    let media = repair_sections(true, Some((VIDEO_SSRC, VIDEO_RTX_SSRC)));
    let (publisher, _) = net.join_with(Role::Publish, "lossy", "pub", media);
    let viewers: Vec<_> = (0..4)
        .map(|i| {
            let session = session_on(i % shard_count, shard_count, &format!("v{i}"));
            let media = repair_sections(i % 2 == 0, None);
            let (peer, answer) = net.join_with(Role::Play, "lossy", &session, media);
            assert_eq!(answer.media[1].rtx_ssrc.is_some(), i % 2 == 0);
            Viewer { peer, answer }
        })
        .collect();
    net.run_until(Duration::from_secs(5), |net| {
        net.peers.iter().all(SimPeer::is_connected)
    });
    net.step_size = Duration::from_millis(1);
    let path = Impairment::lossy(5.0, 2.0, 30);
    for peer in 0..net.peers.len() {
        net.impair(peer, path, path, seed + peer as u64);
    }
    (net, publisher, viewers)
}

/// Video every 10 ms (a keyframe every 2 s), audio every 20 ms, for [`SECONDS`]; then three
/// seconds for the last repairs.
fn publish(net: &mut Net, publisher: usize) {
    for ms in 0..SECONDS * 1000 {
        if ms.is_multiple_of(10) {
            let seq = (ms / 10) as u16;
            let header = RtpHeader {
                marker: true,
                payload_type: 96,
                sequence_number: seq,
                timestamp: u32::from(seq) * 3000,
                ssrc: VIDEO_SSRC,
            };
            net.send_media(
                publisher,
                &header,
                "1",
                &vp8(seq.is_multiple_of(200), seq as u8),
            );
        }
        if ms.is_multiple_of(20) {
            let seq = (ms / 20) as u16;
            let header = RtpHeader {
                marker: false,
                payload_type: 111,
                sequence_number: seq,
                timestamp: u32::from(seq) * 960,
                ssrc: AUDIO_SSRC,
            };
            net.send_media(publisher, &header, "0", &[0xfc, seq as u8]);
        }
        net.step();
    }
    for _ in 0..3000 {
        net.step();
    }
}

/// For one SSRC: (packets from the first that reached the viewer to the newest, of which
/// never received). What numbers below the first it could not know to ask for.
fn unrecovered(peer: &SimPeer, ssrc: u32) -> (u64, u64) {
    let mut unwrapper = SequenceUnwrapper::new();
    let arrived: Vec<u64> = peer
        .received
        .iter()
        .filter(|p| p.0 == ssrc)
        .map(|p| unwrapper.unwrap(p.2))
        .collect();
    let Some(&first) = arrived.first() else {
        return (0, 0);
    };
    let seqs: BTreeSet<u64> = arrived.into_iter().filter(|&s| s >= first).collect();
    let last = seqs.last().copied().unwrap_or(first);
    let span = last - first + 1;
    (span, span - seqs.len() as u64)
}

/// No window of the retransmission send times holds more than the pace allows.
fn assert_paced(sent_at: &[Instant], who: &str) {
    for (i, first) in sent_at.iter().enumerate() {
        for (j, last) in sent_at.iter().enumerate().skip(i) {
            let allowed =
                u128::from(PACE_BURST) + (*last - *first).as_nanos() / PACE_INTERVAL.as_nanos();
            assert!(
                (j - i + 1) as u128 <= allowed,
                "{who}: {} retransmissions in {:?}",
                j - i + 1,
                *last - *first
            );
        }
    }
}

fn run(shard_count: usize, seed: u64) {
    let (mut net, publisher, viewers) = lossy_network(shard_count, seed);
    publish(&mut net, publisher);

    for (i, viewer) in viewers.iter().enumerate() {
        let peer = &net.peers[viewer.peer];
        for (kind, section) in [("audio", 0), ("video", 1)] {
            let ssrc = viewer.answer.media[section].ssrc.unwrap();
            let (span, missing) = unrecovered(peer, ssrc);
            assert!(
                span > u64::from(SECONDS) * 45,
                "viewer {i} {kind}: only {span} packets"
            );
            assert!(
                missing * 1000 < span,
                "viewer {i} {kind}: {missing} of {span} never recovered"
            );
        }
        let most = peer.transmissions.values().max().copied().unwrap_or(0);
        assert!(
            most <= 1 + u32::from(MAX_RETRANSMISSIONS),
            "viewer {i}: a packet sent {most} times"
        );
        assert!(
            !peer.retransmitted_at.is_empty(),
            "viewer {i} got no retransmission"
        );
        assert_paced(&peer.retransmitted_at, &format!("viewer {i}"));
    }

    let mut repair = RepairCounters::default();
    for shard in &net.shards {
        let counters = shard.counters().repair;
        assert!(
            counters.retransmissions_sent > 0,
            "shard {} answers its own viewers: {counters:?}",
            shard.index()
        );
        repair += counters;
    }
    assert!(
        repair.publisher_nacks_sent > 0 && repair.packets_recovered > 0,
        "{repair:?}"
    );
    assert!(repair.retransmissions_sent > 0, "{repair:?}");
    assert_eq!(
        repair.nacks_received,
        repair.retransmissions_sent
            + repair.retransmissions_missed
            + repair.retransmissions_suppressed
            + repair.retransmissions_dropped,
        "every NACKed packet is accounted for: {repair:?}"
    );
}

#[test]
fn one_shard_recovers_from_five_percent_loss_on_every_path() {
    run(1, 1);
}

#[test]
fn mirrors_on_a_second_shard_answer_their_own_viewers_nacks() {
    run(2, 2);
}
