//! Whole-stream scenarios: what one viewer's log measures from a simulated stream.

mod sim;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sim::{FRAME_INTERVAL, Network, ONE_WAY, Sim, always, ms, video};

use super::*;

#[test]
fn a_clean_stream_counts_everything_and_nothing_bad() {
    let mut sim = Sim::new(Network::default(), video());
    sim.run(ms(10_000), always);
    let stats = sim.stats(ms(10_000));
    let c = stats.counters;
    assert_eq!(
        c.packets + sim.in_flight.len() as u64,
        sim.sent.len() as u64
    );
    assert_eq!(
        (c.lost, c.duplicates, c.reordered, c.unclassified),
        (0, 0, 0, 0)
    );
    assert_eq!(
        (c.nacks_sent, c.plis_sent, c.freezes),
        (0, 0, 0),
        "no false freeze at 30 fps"
    );
    assert!(
        c.frames >= u64::from(sim.frames_sent) - 1,
        "all but one in flight"
    );
    assert_eq!(stats.join_time, Some(ONE_WAY));
    assert_eq!(stats.first_keyframe_time, Some(ONE_WAY));
    let latency = stats.latency.percentiles().unwrap();
    assert!(latency.p50.abs_diff(ONE_WAY) <= ONE_WAY / 32, "{latency:?}");
    assert_eq!(latency.max, ONE_WAY);
    // 3 packets of 1000 bytes at 30 fps, plus a keyframe of 8 every 2 seconds.
    assert!(
        (720_000..=840_000).contains(&stats.bitrate_bps),
        "{}",
        stats.bitrate_bps
    );
    assert_eq!(stats.frozen_for, None);
    assert!(sim.nacked.is_empty());
}

#[test]
fn random_loss_is_nacked_and_recovered_by_retransmission() {
    let network = Network {
        seed: 42,
        loss: 0.05,
        retransmit: true,
        ..Network::default()
    };
    let mut sim = Sim::new(network, video());
    sim.run(ms(10_000), always);
    let c = sim.stats(ms(10_000)).counters;
    assert!(c.lost > 20, "a 5% loss of ~1000 packets: {c:?}");
    assert_eq!(c.recovered, c.lost);
    assert_eq!((c.unrecovered, c.late), (0, 0));
    assert!(c.nacks_sent >= c.lost);
    assert_eq!(c.plis_sent, 0, "nothing was given up");
    assert_eq!(c.freezes, 0);
}

#[test]
fn loss_without_retransmission_is_unrecovered_and_asks_for_a_keyframe() {
    let network = Network {
        seed: 7,
        loss: 0.03,
        ..Network::default()
    };
    let config = video();
    let mut sim = Sim::new(network, config);
    sim.run(ms(12_000), |elapsed| elapsed < ms(10_000));
    let c = sim.stats(ms(12_000)).counters;
    assert!(c.lost > 10, "{c:?}");
    assert_eq!(c.unrecovered, c.lost, "every loss reached its deadline");
    assert_eq!(c.recovered, 0);
    assert_eq!(c.nacks_sent, c.lost * u64::from(config.max_nacks));
    let mut per_sequence: HashMap<u16, usize> = HashMap::new();
    for &sequence in &sim.nacked {
        *per_sequence.entry(sequence).or_default() += 1;
    }
    assert!(
        per_sequence
            .values()
            .all(|&n| n == usize::from(config.max_nacks))
    );
    assert!(c.plis_sent > 0 && c.plis_sent == u64::from(sim.keyframe_requests));
}

#[test]
fn reordering_within_the_window_is_neither_nacked_nor_lost() {
    let network = Network {
        seed: 3,
        reorder: 0.1,
        ..Network::default()
    };
    let mut sim = Sim::new(network, video());
    sim.run(ms(5_000), always);
    let c = sim.stats(ms(5_000)).counters;
    assert!(c.reordered > 10, "{c:?}");
    assert_eq!((c.lost, c.nacks_sent, c.unrecovered), (0, 0, 0));
    assert!(sim.nacked.is_empty());
}

#[test]
fn duplicates_are_counted_once_and_not_as_packets() {
    let network = Network {
        duplicate_every: Some(10),
        ..Network::default()
    };
    let mut sim = Sim::new(network, video());
    sim.run(ms(3_000), |elapsed| elapsed < ms(2_000));
    let c = sim.stats(ms(3_000)).counters;
    let expected = sim
        .sent
        .keys()
        .filter(|&&s| (u64::from(s) + 1) % 10 == 0)
        .count();
    assert_eq!(c.duplicates, expected as u64);
    assert_eq!(c.packets, sim.sent.len() as u64);
    assert_eq!(c.bytes, 1000 * (c.packets + c.duplicates));
}

#[test]
fn a_packet_after_the_recovery_window_is_unrecovered_but_counted_late() {
    let mut sim = Sim::new(Network::default(), video());
    sim.run(ms(500), always);
    // Hold one packet of the next frame back for 1.5 s.
    sim.send_frame(sim.t0 + ms(500));
    let (&(at, order), &held) = sim.in_flight.iter().nth(1).unwrap();
    sim.in_flight.remove(&(at, order));
    sim.deliver_at(at + ms(1500), held);
    sim.run(ms(3_000), always);
    let c = sim.stats(ms(3_000)).counters;
    assert_eq!((c.lost, c.unrecovered, c.late, c.recovered), (1, 1, 1, 0));
    assert_eq!(c.nacks_sent, 10, "NACKed until its chances ran out");
    assert!(c.plis_sent >= 1, "the frame could not be completed");
}

#[test]
fn a_stall_of_300_ms_is_one_freeze() {
    let mut sim = Sim::new(Network::default(), video());
    sim.run(ms(2_000), always);
    // The network holds everything sent in the next 300 ms and then releases it.
    while FRAME_INTERVAL * sim.frames_sent < ms(2_300) {
        sim.send_frame(sim.t0 + FRAME_INTERVAL * sim.frames_sent);
    }
    let held: Vec<_> = std::mem::take(&mut sim.in_flight).into_values().collect();
    for packet in held {
        sim.deliver_at(sim.t0 + ms(2_300), packet);
    }
    sim.elapsed = ms(2_300);
    sim.run(ms(4_000), always);
    let stats = sim.stats(ms(4_000));
    assert_eq!(stats.counters.freezes, 1);
    assert!(stats.longest_freeze > ms(250) && stats.longest_freeze < ms(350));
    assert_eq!(stats.counters.lost, 0);
}

#[test]
fn sequence_and_timestamp_wrap_change_nothing() {
    let plain = Network {
        seed: 9,
        loss: 0.05,
        retransmit: true,
        ..Network::default()
    };
    let wrapping = Network {
        first_sequence: 65_000,
        first_timestamp: u32::MAX - 20_000,
        ..plain
    };
    let mut reference = Sim::new(plain, video());
    let mut sim = Sim::new(wrapping, video());
    reference.run(ms(6_000), always);
    sim.run(ms(6_000), always);
    assert!(sim.next_sequence < 65_000, "the sequence number wrapped");
    let c = sim.stats(ms(6_000)).counters;
    assert_eq!(c, reference.stats(ms(6_000)).counters);
    assert!(c.lost > 0 && c.recovered == c.lost, "{c:?}");
    assert_eq!((c.unclassified, c.freezes, c.plis_sent), (0, 0, 0));
}

#[test]
fn audio_packets_are_frames_and_are_never_nacked() {
    let network = Network {
        seed: 5,
        loss: 0.05,
        audio: true,
        ..Network::default()
    };
    let mut sim = Sim::new(network, ReceiveConfig::audio());
    sim.run(ms(3_000), always);
    let c = sim.stats(ms(3_000)).counters;
    assert!(c.lost > 0);
    assert_eq!(c.frames, c.packets);
    assert_eq!((c.nacks_sent, c.plis_sent), (0, 0));
    assert!(sim.nacked.is_empty());
}

#[test]
fn the_steady_window_excludes_the_ramp_and_the_summary_adds_viewers_up() {
    let mut summary = Summary::new();
    let mut whole = Summary::new();
    for seed in 0..4 {
        let network = Network {
            seed,
            loss: 0.02,
            retransmit: true,
            ..Network::default()
        };
        let t0 = Instant::now();
        let window = MeasurementWindow::between(t0 + ms(2_000), t0 + ms(4_000));
        let mut steady = Sim::starting_at(t0, network, video().with_window(window));
        let mut unwindowed = Sim::new(network, video());
        steady.run(ms(6_000), always);
        unwindowed.run(ms(6_000), always);
        let c = steady.stats(ms(6_000)).counters;
        assert!(c.recovered + c.unrecovered <= c.lost, "{c:?}");
        summary.add(&steady.stats(ms(6_000)));
        whole.add(&unwindowed.stats(ms(6_000)));
    }
    let (steady, all) = (summary.totals(), whole.totals());
    assert_eq!(summary.viewers(), 4);
    assert_eq!(summary.join_time(), None, "joins happened during the ramp");
    assert_eq!(whole.viewers_joined(), 4);
    assert_eq!(whole.join_time().unwrap().max, ONE_WAY);
    // Two of six seconds: a third of the packets, give or take a frame.
    assert!(steady.packets * 3 > all.packets - 30 && steady.packets * 3 < all.packets + 30);
    assert!(all.lost > steady.lost && steady.lost > 0);
    assert!(
        steady.recovered + steady.unrecovered <= steady.lost,
        "{steady:?}"
    );
    assert_eq!(summary.latency().unwrap().p50, whole.latency().unwrap().p50);
    assert!(whole.latency().unwrap().p999 >= whole.latency().unwrap().p99);
    assert!(whole.bitrate().unwrap().min > 0);
}

/// Runs until `at`, then sends a frame whose middle packet the network drops; the gap is
/// found when the frame's last packet arrives, `ONE_WAY` later. Returns the dropped packet.
fn drop_one_packet_at(sim: &mut Sim, at: Duration) -> ReceivedPacket {
    sim.run(at, always);
    sim.send_frame(sim.t0 + at);
    let key = *sim.in_flight.keys().nth(1).unwrap();
    sim.in_flight.remove(&key).unwrap()
}

#[test]
fn losses_found_before_the_window_are_not_counted_where_they_end() {
    let t0 = Instant::now();
    let window = MeasurementWindow::between(t0 + ms(500), t0 + ms(3_000));
    let mut sim = Sim::starting_at(t0, Network::default(), video().with_window(window));
    // Both gaps are found and become losses before the window: one is given up at 1210 ms,
    // the other arrives at 600 ms, both inside it.
    drop_one_packet_at(&mut sim, ms(200));
    let held = drop_one_packet_at(&mut sim, ms(300));
    sim.deliver_at(t0 + ms(600), held);
    sim.run(ms(3_500), always);
    let c = sim.stats(ms(3_500)).counters;
    // Counted by when they ended, this was once 1 recovered and 1 unrecovered of 0 lost.
    assert_eq!((c.lost, c.recovered, c.unrecovered, c.late), (0, 0, 0, 0));
    assert!(
        c.packets > 0 && c.plis_sent > 0,
        "the window saw the stream: {c:?}"
    );
}

#[test]
fn a_loss_found_inside_the_window_is_counted_to_its_end_after_the_window() {
    let t0 = Instant::now();
    let window = MeasurementWindow::between(t0, t0 + ms(1_000));
    let mut sim = Sim::starting_at(t0, Network::default(), video().with_window(window));
    // Found at 910 ms, a loss at 930 ms, given up at 1910 ms.
    drop_one_packet_at(&mut sim, ms(900));
    sim.run(ms(1_500), always);
    let pending = sim.stats(ms(1_500)).counters;
    assert_eq!(
        (pending.lost, pending.recovered, pending.unrecovered),
        (1, 0, 0)
    );
    sim.run(ms(2_500), always);
    let c = sim.stats(ms(2_500)).counters;
    assert_eq!((c.lost, c.recovered, c.unrecovered), (1, 0, 1));
    assert_eq!(c.packets, pending.packets, "packets count by arrival");
}
