//! The estimator against simulated paths: a sender that sends what the estimate allows, a
//! bottleneck of fixed capacity with a FIFO queue, and feedback every 50 ms.

use std::time::{Duration, Instant};

use super::*;

const PACKET: usize = 1200;
const TICK: Duration = Duration::from_millis(10);
const FEEDBACK_INTERVAL: u32 = 5;

struct Path {
    capacity_bps: f64,
    /// Every `n`th packet is lost.
    lose_every: Option<u32>,
}

/// Runs `seconds` of sending at the estimate over `path`; returns the estimate each tick.
fn simulate(estimator: &mut BandwidthEstimator, path: &Path, seconds: u32) -> Vec<u64> {
    let start = Instant::now();
    let base_delay_us = 20_000i64;
    let mut busy_until_us = 0i64;
    let mut credit = 0.0;
    let mut sent = 0u32;
    // (seq, arrival in 250 us units, or None when lost), waiting to be reported.
    let mut in_flight: Vec<(u16, Option<i64>)> = Vec::new();
    let mut estimates = Vec::new();
    for tick in 0..seconds * 100 {
        let now = start + TICK * tick;
        let now_us = i64::from(tick) * 10_000;
        credit += estimator.bps() as f64 * TICK.as_secs_f64() / 8.0;
        while credit >= PACKET as f64 {
            credit -= PACKET as f64;
            let seq = estimator.next_transport_seq().unwrap();
            estimator.on_sent(now, PACKET);
            sent += 1;
            if path.lose_every.is_some_and(|n| sent.is_multiple_of(n)) {
                in_flight.push((seq, None));
                continue;
            }
            let serialised = (PACKET as f64 * 8.0 / path.capacity_bps * 1e6) as i64;
            busy_until_us = busy_until_us.max(now_us) + serialised;
            in_flight.push((seq, Some((busy_until_us + base_delay_us) / 250)));
        }
        if tick.is_multiple_of(FEEDBACK_INTERVAL) {
            feed_back(estimator, now, now_us, &mut in_flight);
        }
        estimates.push(estimator.bps());
    }
    estimates
}

/// Reports the packets that arrived by `now_us` (and losses before them), as a viewer would.
fn feed_back(
    estimator: &mut BandwidthEstimator,
    now: Instant,
    now_us: i64,
    in_flight: &mut Vec<(u16, Option<i64>)>,
) {
    let arrived = in_flight
        .iter()
        .rposition(|(_, at)| at.is_some_and(|units| units * 250 <= now_us));
    let Some(last) = arrived else {
        return;
    };
    let batch: Vec<_> = in_flight.drain(..=last).collect();
    let first_arrival = batch.iter().find_map(|(_, at)| *at).unwrap_or(0);
    // The reference time in 64 ms units; deltas count from it in 250 us units.
    let reference = (first_arrival * 250 / 64_000) as u32;
    let mut previous = i64::from(reference) * 256;
    let reports: Vec<PacketReport> = batch
        .iter()
        .map(|&(seq, at)| match at {
            Some(units) => {
                let delta_us = (units - previous) * 250;
                previous = units;
                PacketReport::Received { seq, delta_us }
            }
            None => PacketReport::Lost {
                first_seq: seq,
                count: 1,
            },
        })
        .collect();
    estimator.on_reports(now, reference & 0xff_ffff, reports.into_iter());
}

fn mean(values: &[u64]) -> f64 {
    values.iter().sum::<u64>() as f64 / values.len() as f64
}

#[test]
fn converges_below_a_bottleneck() {
    let mut estimator = BandwidthEstimator::new(true, 0);
    let path = Path {
        capacity_bps: 600_000.0,
        lose_every: None,
    };
    let estimates = simulate(&mut estimator, &path, 40);
    let late = mean(&estimates[3000..]);
    assert!(late < 600_000.0 && late > 300_000.0, "{late}");
}

#[test]
fn ramps_up_on_a_clean_path() {
    let mut estimator = BandwidthEstimator::new(true, 65_000);
    assert_eq!(estimator.estimate_bps(), None);
    let path = Path {
        capacity_bps: 100e6,
        lose_every: None,
    };
    simulate(&mut estimator, &path, 20);
    let estimate = estimator.estimate_bps().unwrap();
    assert!(estimate > 3 * INITIAL_ESTIMATE_BPS, "{estimate}");
}

#[test]
fn loss_pulls_the_estimate_down() {
    let mut estimator = BandwidthEstimator::new(true, 0);
    let path = Path {
        capacity_bps: 100e6,
        lose_every: Some(4),
    };
    simulate(&mut estimator, &path, 5);
    let estimate = estimator.estimate_bps().unwrap();
    assert!(estimate < INITIAL_ESTIMATE_BPS / 2, "{estimate}");
    assert!(estimate >= MIN_ESTIMATE_BPS);
}

#[test]
fn receiver_reports_drive_the_estimate_without_transport_cc() {
    let start = Instant::now();
    let mut estimator = BandwidthEstimator::new(false, 0);
    assert_eq!(estimator.next_transport_seq(), None);
    for second in 0..10 {
        estimator.on_receiver_report(start + Duration::from_secs(second), 0);
    }
    let clean = estimator.estimate_bps().unwrap();
    assert!(clean > INITIAL_ESTIMATE_BPS * 18 / 10, "{clean}");
    for second in 10..20 {
        // 77 of 256: 30% loss.
        estimator.on_receiver_report(start + Duration::from_secs(second), 77);
    }
    let lossy = estimator.estimate_bps().unwrap();
    assert!(lossy < clean / 4, "{lossy}");
}

#[test]
fn remb_caps_the_estimate() {
    let start = Instant::now();
    let mut estimator = BandwidthEstimator::new(false, 0);
    estimator.on_remb(300_000);
    assert_eq!(estimator.estimate_bps(), Some(300_000));
    for second in 0..10 {
        estimator.on_receiver_report(start + Duration::from_secs(second), 0);
    }
    assert_eq!(estimator.estimate_bps(), Some(300_000));
    estimator.on_remb(5);
    assert_eq!(estimator.estimate_bps(), Some(MIN_ESTIMATE_BPS));

    let mut transport_wide = BandwidthEstimator::new(true, 0);
    transport_wide.on_remb(400_000);
    let path = Path {
        capacity_bps: 100e6,
        lose_every: None,
    };
    simulate(&mut transport_wide, &path, 5);
    assert_eq!(transport_wide.estimate_bps(), Some(400_000));
}

#[test]
fn a_report_only_estimate_keeps_near_what_was_sent_unless_an_upgrade_needs_more() {
    let start = Instant::now();
    let mut estimator = BandwidthEstimator::new(false, 0);
    let second = |s: u64| start + Duration::from_secs(s);
    // 400 kbps sent: 50 packets of 1000 bytes a second.
    let send = |estimator: &mut BandwidthEstimator, from: u64, to: u64| {
        for ms in (from * 1000..to * 1000).step_by(20) {
            estimator.on_sent_unnumbered(start + Duration::from_millis(ms), 1000);
        }
    };
    send(&mut estimator, 0, 2);
    for s in 0..20 {
        estimator.on_receiver_report(second(s), 0);
    }
    assert_eq!(
        estimator.estimate_bps(),
        Some(800_000),
        "twice what was sent"
    );
    // The next layer up needs 1.5 Mbps: clean reports may take the estimate there.
    estimator.set_probe_floor(Some(1_500_000));
    for s in 20..40 {
        estimator.on_receiver_report(second(s), 0);
    }
    assert_eq!(estimator.estimate_bps(), Some(1_500_000));
    // Loss once the upgrade was tried pulls it under the floor again.
    for s in 40..44 {
        estimator.on_receiver_report(second(s), 77);
    }
    assert!(estimator.estimate_bps().unwrap() < 1_000_000);
}
