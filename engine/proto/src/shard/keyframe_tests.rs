//! A crowd joining a running stream: every viewer needs a keyframe, the publisher's encoder
//! must see only a few requests.

use std::time::Duration;

use shardcast_control::{Role, SessionAnswer, shard_for};

use super::sim_net::{Net, session_on, vp8};

const VIEWERS: usize = 500;
const JOIN_WINDOW: Duration = Duration::from_secs(5);

fn is_keyframe(payload: &[u8]) -> bool {
    payload.get(1).is_some_and(|tag| tag & 0x01 == 0)
}

/// Viewers that have not received any video yet.
fn waiting(net: &Net, viewers: &[(usize, SessionAnswer)]) -> usize {
    viewers
        .iter()
        .filter(|(peer, answer)| net.video_received(*peer, answer).is_empty())
        .count()
}

#[test]
fn the_keyframe_bit_is_read_from_the_vp8_frame_tag() {
    assert!(is_keyframe(&vp8(true, 7)));
    assert!(!is_keyframe(&vp8(false, 7)));
}

#[test]
fn five_hundred_viewers_joining_within_five_seconds_cost_at_most_six_keyframe_requests() {
    let shards = 2;
    let mut net = Net::new(shards);
    let home = shard_for("town-hall", shards);
    let (publisher, _) = net.join(Role::Publish, "town-hall", "pub");
    net.run_until(Duration::from_secs(5), |net| {
        net.peers[publisher].is_connected()
    });
    // The stream is running before the crowd arrives: one keyframe, then deltas.
    let mut seq = 0u16;
    for _ in 0..50 {
        net.receive_video(publisher, home, seq, seq == 0);
        seq = seq.wrapping_add(1);
        net.step();
    }

    // One join per 10 ms step, half of them on the shard that mirrors the stream. The
    // publisher answers every PLI with a keyframe in its next frame, as an encoder does.
    let first_join = net.now;
    let mut viewers = Vec::with_capacity(VIEWERS);
    let mut answered = net.peers[publisher].pli_received;
    let mut keyframes_sent = 0;
    while viewers.len() < VIEWERS || waiting(&net, &viewers) > 0 {
        assert!(
            net.now < first_join + JOIN_WINDOW + Duration::from_secs(3),
            "{} viewers of {VIEWERS} still without video",
            waiting(&net, &viewers)
        );
        if viewers.len() < VIEWERS {
            let i = viewers.len();
            let id = session_on(i % shards, shards, &format!("crowd{i}"));
            viewers.push(net.join(Role::Play, "town-hall", &id));
        }
        let requested = net.peers[publisher].pli_received;
        let keyframe = requested > answered;
        answered = requested;
        keyframes_sent += usize::from(keyframe);
        net.receive_video(publisher, home, seq, keyframe);
        seq = seq.wrapping_add(1);
        net.step();
    }
    assert!(net.now - first_join > JOIN_WINDOW - Duration::from_millis(100));

    let requests = net.peers[publisher].pli_received;
    assert!(
        (1..=6).contains(&requests),
        "{requests} keyframe requests for {VIEWERS} joins"
    );
    assert_eq!(keyframes_sent, requests);
    // Every viewer's video starts at a keyframe and runs on without a gap: it decodes.
    for (peer, answer) in &viewers {
        let ssrc = answer.media[1].ssrc.unwrap();
        let video: Vec<_> = net.peers[*peer]
            .received
            .iter()
            .filter(|p| p.0 == ssrc)
            .collect();
        assert!(
            is_keyframe(&video[0].4),
            "viewer {peer} starts at a keyframe"
        );
        for pair in video.windows(2) {
            assert_eq!(pair[1].2, pair[0].2.wrapping_add(1), "viewer {peer}");
        }
    }
}
