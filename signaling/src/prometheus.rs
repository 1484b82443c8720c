//! The shards' figures in the Prometheus text exposition format, version 0.0.4: per metric
//! family a `# HELP` and a `# TYPE` line, then its samples, one per shard (and timer).
//!
//! Timer lateness is a histogram in seconds. Its buckets come from the engine, where bucket
//! `i` counts firings strictly below bound `i`; here they are made cumulative under
//! `le="<bound>"`, ending with `le="+Inf"`. (Prometheus reads `le` as "at or below"; lateness
//! is measured in nanoseconds, so a firing exactly on a bound is one in a million.) The gaps
//! between the loop's timer checks use the same buckets.

use std::fmt::{Display, Write};

use shardcast_control::{LATENESS_BOUNDS_US, LatenessHistogram, ShardStats};

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

const LATENESS: &str = "shardcast_timer_lateness_seconds";
const CHECK_GAPS: &str = "shardcast_timer_check_gap_seconds";

mod families;
use families::{
    BANDWIDTH, BANDWIDTH_STATS, LAYER_SWITCHES, LAYER_VIEWERS, PER_SHARD, PerShard,
    RECEIVE_DROP_REASONS, RECEIVE_DROPS, SWITCH_DIRECTIONS,
};

/// Every family, each with one sample (or histogram) per shard.
pub fn render(shards: &[ShardStats]) -> String {
    let mut out = String::new();
    family(
        &mut out,
        LATENESS,
        "histogram",
        "How long after its deadline a timer fired. timer=\"session\": every session timer \
         (ICE, DTLS, RTCP); timer=\"probe\": the shard's steady periodic probe, whose lateness \
         is how long the shard's loop went without looking at the clock.",
    );
    for stats in shards {
        for (timer, histogram) in timers(stats) {
            let labels = format!("shard=\"{}\",timer=\"{timer}\"", stats.shard);
            histogram_samples(&mut out, LATENESS, &labels, histogram);
        }
    }
    let max = "shardcast_timer_lateness_max_seconds";
    family(
        &mut out,
        max,
        "gauge",
        "The latest any timer fired since the shard started.",
    );
    for stats in shards {
        for (timer, histogram) in timers(stats) {
            let labels = format!("shard=\"{}\",timer=\"{timer}\"", stats.shard);
            sample(&mut out, max, &labels, seconds(histogram.max_us));
        }
    }
    family(
        &mut out,
        CHECK_GAPS,
        "histogram",
        "The gaps between two timer checks of the shard's loop, which bound how late a timer \
         can be. time=\"on_cpu\": the shard thread's own CPU time in the gap; \
         time=\"off_cpu\": time it was kept off its core though it had not asked to sleep \
         (preempted by another task, or its virtual CPU stolen; a lower bound).",
    );
    for stats in shards {
        for (time, histogram) in [
            ("on_cpu", &stats.check_gaps_on_cpu),
            ("off_cpu", &stats.check_gaps_off_cpu),
        ] {
            let labels = format!("shard=\"{}\",time=\"{time}\"", stats.shard);
            histogram_samples(&mut out, CHECK_GAPS, &labels, histogram);
        }
    }
    for PerShard {
        name,
        kind,
        help,
        value,
    } in PER_SHARD
    {
        family(&mut out, name, kind, help);
        for stats in shards {
            let labels = format!("shard=\"{}\"", stats.shard);
            sample(&mut out, name, &labels, value(stats));
        }
    }
    family(
        &mut out,
        RECEIVE_DROPS,
        "counter",
        "Datagrams dropped on arrival. reason=\"truncated\": longer than a receive buffer; \
         reason=\"error\": a failed receive or a source that is not an IP address.",
    );
    for stats in shards {
        for (reason, count) in RECEIVE_DROP_REASONS {
            let labels = format!("shard=\"{}\",reason=\"{reason}\"", stats.shard);
            sample(&mut out, RECEIVE_DROPS, &labels, count(stats));
        }
    }
    family(
        &mut out,
        BANDWIDTH,
        "gauge",
        "The shard's viewers' bandwidth estimates now: stat=\"min\", \"median\" (lower) or \
         \"max\"; 0 while no viewer has an estimate.",
    );
    for stats in shards {
        for (stat, value) in BANDWIDTH_STATS {
            let labels = format!("shard=\"{}\",stat=\"{stat}\"", stats.shard);
            sample(&mut out, BANDWIDTH, &labels, value(stats));
        }
    }
    family(
        &mut out,
        LAYER_VIEWERS,
        "gauge",
        "Viewers whose video forwards this simulcast layer now (layer=\"0\" is the lowest, \
         and the only one of a stream without simulcast).",
    );
    for stats in shards {
        for (layer, viewers) in stats.layers.viewers.iter().enumerate() {
            let labels = format!("shard=\"{}\",layer=\"{layer}\"", stats.shard);
            sample(&mut out, LAYER_VIEWERS, &labels, viewers);
        }
    }
    family(
        &mut out,
        LAYER_SWITCHES,
        "counter",
        "Viewers' moves between simulcast layers, each at a keyframe of the new layer: \
         direction=\"up\" to a higher one, \"down\" to a lower one.",
    );
    for stats in shards {
        for (direction, count) in SWITCH_DIRECTIONS {
            let labels = format!("shard=\"{}\",direction=\"{direction}\"", stats.shard);
            sample(&mut out, LAYER_SWITCHES, &labels, count(stats));
        }
    }
    out
}

fn timers(stats: &ShardStats) -> [(&'static str, &LatenessHistogram); 2] {
    [("session", &stats.session_timers), ("probe", &stats.probe)]
}

/// A histogram with the lateness buckets, its durations in seconds.
fn histogram_samples(out: &mut String, name: &str, labels: &str, histogram: &LatenessHistogram) {
    let bucket = format!("{name}_bucket");
    let mut cumulative = 0u64;
    for (bound, count) in LATENESS_BOUNDS_US.iter().zip(&histogram.buckets) {
        cumulative = cumulative.saturating_add(*count);
        let labels = format!("{labels},le=\"{}\"", seconds(*bound));
        sample(out, &bucket, &labels, cumulative);
    }
    // The +Inf bucket is every firing, the one past the last bound included.
    let all: u64 = histogram
        .buckets
        .iter()
        .fold(0, |sum, n| sum.saturating_add(*n));
    sample(out, &bucket, &format!("{labels},le=\"+Inf\""), all);
    sample(
        out,
        &format!("{name}_sum"),
        labels,
        seconds(histogram.sum_us),
    );
    sample(out, &format!("{name}_count"), labels, all);
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &str, value: impl Display) {
    let _ = writeln!(out, "{name}{{{labels}}} {value}");
}

/// Microseconds as decimal seconds: `0.001`, `0.16`, `12.5` (never an exponent).
fn seconds(micros: u64) -> String {
    let (whole, fraction) = (micros / 1_000_000, micros % 1_000_000);
    if fraction == 0 {
        return whole.to_string();
    }
    let digits = format!("{fraction:06}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shardcast_control::{
        BandwidthEstimates, CoreCounters, LATENESS_BUCKETS, LayerStats, RuntimeCounters,
        STATS_LAYERS,
    };

    fn shard(index: usize, probe: [u64; LATENESS_BUCKETS]) -> ShardStats {
        ShardStats {
            shard: index,
            sessions: 3,
            session_timers: LatenessHistogram::default(),
            probe: LatenessHistogram {
                buckets: probe,
                firings: probe.iter().sum(),
                sum_us: 1_234_567,
                max_us: 160_000,
            },
            probe_period_us: 20_000,
            probe_skipped_periods: 2,
            counters: CoreCounters {
                sessions_created: 5,
                retransmissions_sent: 12,
                packets_given_up: 1,
                ..CoreCounters::default()
            },
            bandwidth: BandwidthEstimates {
                viewers: 3,
                transport_cc_viewers: 2,
                min_bps: 300_000,
                median_bps: 1_200_000,
                max_bps: 4_000_000,
                sum_bps: 5_500_000,
            },
            layers: LayerStats {
                viewers: [4, 0, 7, 0],
                switches_up: 9,
                switches_down: 2,
            },
            runtime: RuntimeCounters {
                datagrams_out: 900,
                submit_syscalls: 30,
                receive_truncated: 4,
                receive_errors: 1,
                receive_buffers_exhausted: 2,
                gso_sends: 100,
                gso_segments: 640,
                gso_fallbacks: 1,
                preemptions: 17,
                ..RuntimeCounters::default()
            },
            check_gaps_on_cpu: LatenessHistogram {
                buckets: [40, 2, 0, 0, 0, 0, 0, 0, 0],
                firings: 42,
                sum_us: 21_000,
                max_us: 1_500,
            },
            check_gaps_off_cpu: LatenessHistogram {
                buckets: [41, 0, 1, 0, 0, 0, 0, 0, 0],
                firings: 42,
                sum_us: 3_000,
                max_us: 3_000,
            },
        }
    }

    #[test]
    fn probe_histogram_is_cumulative_in_seconds() {
        let text = render(&[shard(1, [10, 5, 0, 1, 0, 0, 0, 0, 2])]);
        let probe: Vec<&str> = text
            .lines()
            .filter(|line| line.contains("timer=\"probe\"") && line.starts_with(LATENESS))
            .collect();
        assert_eq!(
            probe,
            [
                "shardcast_timer_lateness_seconds_bucket{shard=\"1\",timer=\"probe\",le=\"0.001\"} 10",
                "shardcast_timer_lateness_seconds_bucket{shard=\"1\",timer=\"probe\",le=\"0.002\"} 15",
                "shardcast_timer_lateness_seconds_bucket{shard=\"1\",timer=\"probe\",le=\"0.005\"} 15",
                "shardcast_timer_lateness_seconds_bucket{shard=\"1\",timer=\"probe\",le=\"0.01\"} 16",
                "shardcast_timer_lateness_seconds_bucket{shard=\"1\",timer=\"probe\",le=\"0.02\"} 16",
                "shardcast_timer_lateness_seconds_bucket{shard=\"1\",timer=\"probe\",le=\"0.04\"} 16",
                "shardcast_timer_lateness_seconds_bucket{shard=\"1\",timer=\"probe\",le=\"0.08\"} 16",
                "shardcast_timer_lateness_seconds_bucket{shard=\"1\",timer=\"probe\",le=\"0.16\"} 16",
                "shardcast_timer_lateness_seconds_bucket{shard=\"1\",timer=\"probe\",le=\"+Inf\"} 18",
                "shardcast_timer_lateness_seconds_sum{shard=\"1\",timer=\"probe\"} 1.234567",
                "shardcast_timer_lateness_seconds_count{shard=\"1\",timer=\"probe\"} 18",
            ]
        );
        for line in [
            "shardcast_timer_lateness_max_seconds{shard=\"1\",timer=\"probe\"} 0.16",
            "shardcast_timer_lateness_max_seconds{shard=\"1\",timer=\"session\"} 0",
            "shardcast_timer_lateness_seconds_count{shard=\"1\",timer=\"session\"} 0",
            "shardcast_timer_probe_period_seconds{shard=\"1\"} 0.02",
            "shardcast_timer_probe_skipped_periods_total{shard=\"1\"} 2",
            "shardcast_sessions{shard=\"1\"} 3",
            "shardcast_sessions_created_total{shard=\"1\"} 5",
            "shardcast_sessions_closed_total{shard=\"1\"} 0",
            "shardcast_datagrams_out_total{shard=\"1\"} 900",
            "shardcast_submit_syscalls_total{shard=\"1\"} 30",
            "shardcast_receive_buffers_exhausted_total{shard=\"1\"} 2",
            "shardcast_receive_drops_total{shard=\"1\",reason=\"truncated\"} 4",
            "shardcast_receive_drops_total{shard=\"1\",reason=\"error\"} 1",
            "shardcast_datagrams_in_total{shard=\"1\"} 0",
            "shardcast_gso_sends_total{shard=\"1\"} 100",
            "shardcast_gso_segments_total{shard=\"1\"} 640",
            "shardcast_gso_fallbacks_total{shard=\"1\"} 1",
            "shardcast_retransmissions_sent_total{shard=\"1\"} 12",
            "shardcast_packets_given_up_total{shard=\"1\"} 1",
            "shardcast_nacks_received_total{shard=\"1\"} 0",
            "shardcast_viewers_bandwidth_estimated{shard=\"1\"} 3",
            "shardcast_viewers_transport_cc{shard=\"1\"} 2",
            "shardcast_viewer_bandwidth_estimate_sum_bits_per_second{shard=\"1\"} 5500000",
            "shardcast_viewer_bandwidth_estimate_bits_per_second{shard=\"1\",stat=\"min\"} 300000",
            "shardcast_viewer_bandwidth_estimate_bits_per_second{shard=\"1\",stat=\"median\"} 1200000",
            "shardcast_viewer_bandwidth_estimate_bits_per_second{shard=\"1\",stat=\"max\"} 4000000",
            "shardcast_layer_viewers{shard=\"1\",layer=\"0\"} 4",
            "shardcast_layer_viewers{shard=\"1\",layer=\"1\"} 0",
            "shardcast_layer_viewers{shard=\"1\",layer=\"2\"} 7",
            "shardcast_layer_switches_total{shard=\"1\",direction=\"up\"} 9",
            "shardcast_layer_switches_total{shard=\"1\",direction=\"down\"} 2",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from\n{text}"
            );
        }
    }

    #[test]
    fn check_gaps_are_two_histograms_and_preemptions_a_counter() {
        let text = render(&[shard(1, [1; 9])]);
        for line in [
            "shardcast_timer_check_gap_seconds_bucket{shard=\"1\",time=\"on_cpu\",le=\"0.001\"} 40",
            "shardcast_timer_check_gap_seconds_bucket{shard=\"1\",time=\"on_cpu\",le=\"0.002\"} 42",
            "shardcast_timer_check_gap_seconds_sum{shard=\"1\",time=\"on_cpu\"} 0.021",
            "shardcast_timer_check_gap_seconds_bucket{shard=\"1\",time=\"off_cpu\",le=\"0.002\"} 41",
            "shardcast_timer_check_gap_seconds_bucket{shard=\"1\",time=\"off_cpu\",le=\"0.005\"} 42",
            "shardcast_timer_check_gap_seconds_count{shard=\"1\",time=\"off_cpu\"} 42",
            "# TYPE shardcast_timer_check_gap_seconds histogram",
            "shardcast_shard_preemptions_total{shard=\"1\"} 17",
            "# TYPE shardcast_shard_preemptions_total counter",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from\n{text}"
            );
        }
    }

    /// The family a sample line belongs to: its name, less a histogram's suffix.
    fn family_of(line: &str) -> &str {
        let name = &line[..line.find(['{', ' ']).unwrap()];
        ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                name.strip_suffix(suffix)
                    .filter(|n| [LATENESS, CHECK_GAPS].contains(n))
            })
            .unwrap_or(name)
    }

    #[test]
    fn every_family_is_declared_once_before_all_its_samples() {
        let text = render(&[shard(0, [1; 9]), shard(1, [2; 9])]);
        assert!(text.ends_with('\n'));
        let mut declared: Vec<&str> = Vec::new();
        let mut samples = 0;
        for line in text.lines() {
            if let Some(help) = line.strip_prefix("# HELP ") {
                let name = help.split(' ').next().unwrap();
                assert!(!declared.contains(&name), "{name} declared twice");
                declared.push(name);
            } else if let Some(kind) = line.strip_prefix("# TYPE ") {
                let (name, kind) = kind.split_once(' ').unwrap();
                assert_eq!(Some(&name), declared.last(), "TYPE right after its HELP");
                assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            } else {
                assert_eq!(Some(&family_of(line)), declared.last(), "{line}");
                let value = line.rsplit(' ').next().unwrap();
                assert!(value.parse::<f64>().is_ok(), "{line}");
                samples += 1;
            }
        }
        // Per shard: 2 lateness and 2 check gap histograms of 9 buckets, sum and count; 2
        // maxima; 3 shard figures; 18 core counters; 16 runtime counters and 2 receive drop
        // reasons; 3 bandwidth figures and 3 bandwidth stats; viewers per layer and 2 switch
        // directions.
        assert_eq!(
            samples,
            2 * (4 * 11 + 2 + 3 + 18 + 16 + 2 + 3 + 3 + STATS_LAYERS + 2)
        );
    }

    #[test]
    fn seconds_are_exact_decimals() {
        assert_eq!(seconds(0), "0");
        assert_eq!(seconds(1), "0.000001");
        assert_eq!(seconds(1_000), "0.001");
        assert_eq!(seconds(160_000), "0.16");
        assert_eq!(seconds(12_500_000), "12.5");
        assert_eq!(seconds(3_000_000), "3");
    }
}
