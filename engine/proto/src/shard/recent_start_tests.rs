//! Viewers that connect soon after a keyframe start from it, on the stream's home shard and
//! on a shard that mirrors it, without asking the publisher; later ones ask.

use std::time::Duration;

use shardcast_control::{Role, SessionAnswer, shard_for};

use super::sim_net::{Net, session_on};

const WINDOW: Duration = Duration::from_millis(200);

fn is_keyframe(payload: &[u8]) -> bool {
    payload.get(1).is_some_and(|tag| tag & 0x01 == 0)
}

/// A two-shard stream whose publisher has sent a keyframe and `deltas` deltas since, one
/// per 10 ms step; returns the net, the publisher, its home shard and the next sequence
/// number. A viewer on the other shard watches from before the keyframe, so that shard
/// mirrors the stream (a shard keeps a stream's packets only while it has viewers of it).
fn running_stream(deltas: u16) -> (Net, usize, usize, u16) {
    let mut net = Net::with_join_window(2, WINDOW);
    let home = shard_for("talk", 2);
    let (publisher, _) = net.join(Role::Publish, "talk", "pub");
    let (early, _) = net.join(Role::Play, "talk", &session_on(1 - home, 2, "early"));
    net.run_until(Duration::from_secs(5), |net| {
        net.peers[publisher].is_connected() && net.peers[early].is_connected()
    });
    for seq in 0..=deltas {
        net.receive_video(publisher, home, seq, seq == 0);
        net.step();
    }
    (net, publisher, home, deltas + 1)
}

/// The viewer's video: (sequence number, payload) in arrival order.
fn video(net: &Net, peer: usize, answer: &SessionAnswer) -> Vec<(u16, Vec<u8>)> {
    let ssrc = answer.media[1].ssrc.unwrap();
    net.peers[peer]
        .received
        .iter()
        .filter(|p| p.0 == ssrc)
        .map(|p| (p.2, p.4.clone()))
        .collect()
}

fn recent_starts(net: &Net) -> u64 {
    net.shards
        .iter()
        .map(|shard| shard.counters().recent_keyframe_starts)
        .sum()
}

#[test]
fn viewers_connecting_soon_after_a_keyframe_start_from_it_without_asking() {
    let (mut net, publisher, home, mut seq) = running_stream(3);
    let plis = net.peers[publisher].pli_received;
    // One viewer on each shard: the home shard and the one that mirrors the stream.
    let viewers: Vec<_> = (0..2)
        .map(|shard| {
            net.join(
                Role::Play,
                "talk",
                &session_on(shard, 2, &format!("v{shard}")),
            )
        })
        .collect();
    for _ in 0..10 {
        net.receive_video(publisher, home, seq, false);
        seq += 1;
        net.step();
    }

    assert_eq!(net.peers[publisher].pli_received, plis, "nobody asked");
    assert_eq!(recent_starts(&net), 2);
    for (peer, answer) in &viewers {
        let video = video(&net, *peer, answer);
        assert!(
            is_keyframe(&video[0].1),
            "viewer {peer} starts at the keyframe"
        );
        // Every packet from the keyframe on, each once and in order: it decodes.
        assert_eq!(video.len(), usize::from(seq), "viewer {peer}");
        for pair in video.windows(2) {
            assert_eq!(pair[1].0, pair[0].0.wrapping_add(1), "viewer {peer}");
        }
    }
}

#[test]
fn viewers_connecting_after_the_window_ask_for_a_keyframe() {
    // 30 deltas at 10 ms: the keyframe is 300 ms old when the viewer connects.
    let (mut net, publisher, home, mut seq) = running_stream(30);
    let plis = net.peers[publisher].pli_received;
    let (viewer, answer) = net.join(Role::Play, "talk", &session_on(home, 2, "late"));
    // Its request waits out the keyframe interval that the early viewer's request started.
    for _ in 0..100 {
        net.receive_video(publisher, home, seq, false);
        seq += 1;
        net.step();
    }
    assert_eq!(net.peers[publisher].pli_received, plis + 1);
    assert_eq!(recent_starts(&net), 0);
    assert!(
        video(&net, viewer, &answer).is_empty(),
        "no keyframe sent yet"
    );
}
