//! Scenarios across shards: publishers coming and going, keyframe requests, cross-shard
//! fan-out.

use std::time::{Duration, Instant};

use shardcast_control::{Request, Response, Role, ShardStats, shard_for};

use super::ShardCore;
use super::sim_net::{Net, session_on, vp8};
use super::sim_peer::SimPeer;
use crate::rtp::RtpHeader;

#[test]
fn early_viewer_sees_the_publisher_and_its_return_without_a_sequence_jump() {
    let mut net = Net::new(2);
    let home = shard_for("webinar", 2);
    let viewer_id = session_on(1 - home, 2, "early");
    let (viewer, answer) = net.join(Role::Play, "webinar", &viewer_id);
    net.run_until(Duration::from_secs(5), |net| {
        net.peers[viewer].is_connected()
    });

    let (first, _) = net.join(Role::Publish, "webinar", "first");
    net.run_until(Duration::from_secs(5), |net| {
        net.peers[first].is_connected()
    });
    for seq in 1000..1010 {
        net.publish_frame(first, home, seq, seq == 1000);
    }
    assert_eq!(net.video_received(viewer, &answer).len(), 10);

    let deleted = net.shards[home].handle_control(
        net.now,
        Request::DeleteSession {
            session: "first".into(),
        },
    );
    assert_eq!(deleted, Response::Ok);
    let (second, _) = net.join(Role::Publish, "webinar", "second");
    net.run_until(Duration::from_secs(5), |net| {
        net.peers[second].is_connected()
    });
    // The returning publisher starts mid-stream: its delta frames are held back and the
    // viewer's need for a keyframe reaches the publisher as a PLI.
    for seq in 50_000..50_003 {
        net.publish_frame(second, home, seq, false);
    }
    assert_eq!(net.video_received(viewer, &answer).len(), 10);
    assert!(
        net.peers[second].pli_received >= 1,
        "publisher asked for a keyframe"
    );
    for seq in 50_003..50_010 {
        net.publish_frame(second, home, seq, seq == 50_003);
    }
    let seqs = net.video_received(viewer, &answer);
    assert_eq!(seqs.len(), 17);
    for pair in seqs.windows(2) {
        assert_eq!(
            pair[1],
            pair[0].wrapping_add(1),
            "no jump across the return: {seqs:?}"
        );
    }
}

#[test]
fn keyframe_requests_from_many_viewers_reach_the_publisher_once_per_interval() {
    let mut net = Net::new(2);
    let home = shard_for("busy", 2);
    let (publisher, _) = net.join(Role::Publish, "busy", "pub");
    for i in 0..6 {
        let id = session_on(i % 2, 2, &format!("v{i}"));
        net.join(Role::Play, "busy", &id);
    }
    net.run_until(Duration::from_secs(5), |net| {
        net.peers.iter().all(SimPeer::is_connected)
    });
    // Deltas only: every viewer waits for a keyframe and keeps asking, for two seconds.
    for seq in 0..200 {
        net.publish_frame(publisher, home, seq, false);
    }
    let plis = net.peers[publisher].pli_received;
    assert!((1..=3).contains(&plis), "{plis} PLIs in 2 s for 6 viewers");
}

#[test]
fn one_publisher_fans_out_to_viewers_on_both_shards_with_one_message_per_packet() {
    let mut net = Net::new(2);
    let home = shard_for("demo", 2);
    let other = 1 - home;
    let (publisher, _) = net.join(Role::Publish, "demo", "pub");
    let mut viewers = Vec::new();
    for (i, shard) in [home, other, other].into_iter().enumerate() {
        let id = session_on(shard, 2, &format!("viewer{i}"));
        viewers.push(net.join(Role::Play, "demo", &id));
    }
    net.run_until(Duration::from_secs(5), |net| {
        net.peers.iter().all(SimPeer::is_connected)
    });

    let frames = 10u16;
    for i in 0..frames {
        let video = RtpHeader {
            marker: true,
            payload_type: 96,
            sequence_number: 65_530u16.wrapping_add(i),
            timestamp: (u32::MAX - 6_000).wrapping_add(u32::from(i) * 3_000),
            ssrc: 0x1111,
        };
        let audio = RtpHeader {
            marker: false,
            payload_type: 111,
            sequence_number: 100 + i,
            timestamp: u32::from(i) * 960,
            ssrc: 0x2222,
        };
        let now = net.now;
        let peer = &mut net.peers[publisher];
        let video = peer.send_rtp(&video, "1", &vp8(i == 0, i as u8));
        let audio = peer.send_rtp(&audio, "0", &[0xfc, i as u8]);
        let address = peer.address;
        net.shards[home].handle_receive(now, address, None, &video);
        net.shards[home].handle_receive(now, address, None, &audio);
        net.step();
    }

    for (peer, answer) in &viewers {
        let video_ssrc = answer.media[1].ssrc.unwrap();
        let audio_ssrc = answer.media[0].ssrc.unwrap();
        let received = &net.peers[*peer].received;
        let video: Vec<_> = received.iter().filter(|p| p.0 == video_ssrc).collect();
        let audio: Vec<_> = received.iter().filter(|p| p.0 == audio_ssrc).collect();
        assert_eq!(video.len(), usize::from(frames), "viewer {peer} video");
        assert_eq!(audio.len(), usize::from(frames), "viewer {peer} audio");
        for (i, pair) in video.windows(2).enumerate() {
            assert_eq!(
                pair[1].2,
                pair[0].2.wrapping_add(1),
                "continuous sequence numbers"
            );
            assert_eq!(
                pair[1].3.wrapping_sub(pair[0].3),
                3_000,
                "timestamp spacing kept"
            );
            assert_eq!(pair[0].4, vp8(i == 0, i as u8), "payload untouched");
            assert_eq!(pair[0].1, 96);
        }
    }
    let video_ssrcs: Vec<_> = viewers.iter().map(|(_, a)| a.media[1].ssrc).collect();
    assert!(video_ssrcs[0] != video_ssrcs[1] && video_ssrcs[1] != video_ssrcs[2]);
    // Two viewers on the other shard, but each packet crossed once.
    assert_eq!(
        net.shards[other].counters().remote_packets_in,
        u64::from(frames) * 2
    );
}

fn stats(shard: &mut ShardCore, now: Instant) -> ShardStats {
    match shard.handle_control(now, Request::Stats) {
        Response::Stats(stats) => stats,
        other => panic!("expected stats, got {other:?}"),
    }
}

#[test]
fn stats_report_sessions_counters_and_how_late_the_timers_fired() {
    let mut net = Net::new(2);
    let home = shard_for("timed", 2);
    let started = net.now;
    let fresh = stats(&mut net.shards[home], net.now);
    assert_eq!((fresh.shard, fresh.sessions), (home, 0));
    assert_eq!(fresh.probe.firings + fresh.session_timers.firings, 0);
    assert_eq!(fresh.probe_period_us, 20_000);

    let (publisher, _) = net.join(Role::Publish, "timed", "pub");
    let viewer_id = session_on(home, 2, "viewer");
    net.join(Role::Play, "timed", &viewer_id);
    net.run_until(Duration::from_secs(5), |net| {
        net.peers.iter().all(SimPeer::is_connected)
    });
    // Two and a half seconds of media: every session's RTCP report timer fires twice.
    for seq in 0..250 {
        net.publish_frame(publisher, home, seq, seq == 0);
    }

    // Time moves in 10 ms steps and timers fire at the end of a step: the probe's 20 ms
    // slots always fall on one, session deadlines anywhere within one.
    let on_time = stats(&mut net.shards[home], net.now);
    assert_eq!(on_time.sessions, 2);
    assert_eq!(on_time.counters.sessions_created, 2);
    assert_eq!(on_time.counters.media_packets_in, 500);
    let slots = ((net.now - started).as_millis() / 20) as u64;
    assert_eq!(on_time.probe.firings, slots);
    assert_eq!(on_time.probe.buckets[0], slots);
    assert_eq!(
        (on_time.probe.max_us, on_time.probe_skipped_periods),
        (0, 0)
    );
    let sessions = on_time.session_timers;
    assert!(sessions.firings >= 4, "{sessions:?}");
    assert_eq!(sessions.buckets.iter().sum::<u64>(), sessions.firings);
    assert!(sessions.max_us < 10_000, "{sessions:?}");
    assert_eq!(sessions.buckets[4..].iter().sum::<u64>(), 0, "{sessions:?}");

    // The shard looks at the clock again only well after both its next deadlines: each
    // timer fires once, as late as that, and the probe passes over the slots it missed.
    let shard = &mut net.shards[home];
    let session_due = shard.timers.earliest().unwrap();
    let probe_due = shard.probe.deadline();
    let stalled = session_due.max(probe_due) + Duration::from_millis(105);
    shard.handle_timeout(stalled);
    let late = stats(shard, stalled);
    let probe_late = stalled - probe_due;
    assert_eq!(late.probe.firings, slots + 1);
    assert_eq!(u128::from(late.probe.max_us), probe_late.as_micros());
    assert_eq!(
        u128::from(late.probe_skipped_periods),
        probe_late.as_millis() / 20
    );
    assert!(late.probe_skipped_periods >= 5);
    assert!(late.session_timers.firings > sessions.firings);
    assert_eq!(
        u128::from(late.session_timers.max_us),
        (stalled - session_due).as_micros()
    );
}

#[test]
fn viewers_report_on_the_probe_slots_whenever_they_joined() {
    let mut net = Net::new(1);
    // Steps prime to the probe's 20 ms: joins, and deadlines a second after them, land
    // anywhere between two slots.
    net.step_size = Duration::from_millis(3);
    let start = net.now;
    let (publisher, _) = net.join(Role::Publish, "ticks", "pub");
    let mut viewers = Vec::new();
    for n in 0..3 {
        viewers.push(net.join(Role::Play, "ticks", &format!("viewer-{n}")).0);
        (0..3).for_each(|_| net.step());
    }
    net.run_until(Duration::from_secs(5), |net| {
        net.peers.iter().all(SimPeer::is_connected)
    });

    let mut seen: Vec<usize> = viewers
        .iter()
        .map(|&v| net.peers[v].rtcp_received)
        .collect();
    let mut reports = Vec::new();
    for seq in 0..800 {
        net.publish_frame(publisher, 0, seq, seq == 0);
        for (count, &viewer) in seen.iter_mut().zip(&viewers) {
            let received = net.peers[viewer].rtcp_received;
            if received > *count {
                reports.push((viewer, net.now));
                *count = received;
            }
        }
    }
    // 2.4 s of media: each viewer reports twice at least.
    assert!(reports.len() >= 2 * viewers.len(), "{reports:?}");
    let period = super::TimerProbe::DEFAULT_PERIOD.as_nanos();
    for (viewer, at) in reports {
        let past_slot = (at - start).as_nanos() % period;
        assert!(
            past_slot < net.step_size.as_nanos(),
            "viewer {viewer} reported {past_slot} ns after a slot"
        );
    }
}
