//! The table and the JSON of a hand-built report whose every figure is known; how the
//! table shows a timer probe measured only in part is in `timer_probe`.

use crate::accounting::{LatencyHistogram, ViewerStats};
use crate::driver::{BenchUsage, LinkDelayUsage};
use crate::host_steal::CpuSteal;
use crate::media::LoopStats;
use crate::server_metrics::ProbeWindow;
use crate::server_usage::ServerUsage;

use super::*;

mod timer_probe;

const MS: Duration = Duration::from_millis(1);

/// Latencies that are their histogram bucket's midpoint, so percentiles are exact.
const LOW_LATENCY: Duration = Duration::from_micros(9_984);
const HIGH_LATENCY: Duration = Duration::from_micros(19_968);

fn viewer(join_ms: u32, counters: Counters, latency: Duration, bitrate_bps: u64) -> ViewerStats {
    let mut histogram = LatencyHistogram::default();
    histogram.record(latency);
    ViewerStats {
        counters,
        longest_freeze: Duration::ZERO,
        frozen_for: None,
        join_time: Some(MS * join_ms),
        first_keyframe_time: Some(MS * (join_ms + 50)),
        latency: histogram,
        bitrate_bps,
    }
}

fn report(server: Vec<ServerUsage>) -> RunReport {
    let mut first = viewer(
        100,
        Counters {
            packets: 1000,
            bytes: 1_000_000,
            duplicates: 2,
            reordered: 3,
            lost: 10,
            recovered: 9,
            unrecovered: 1,
            nacks_sent: 10,
            plis_sent: 1,
            frames: 300,
            freezes: 1,
            ..Counters::default()
        },
        LOW_LATENCY,
        1_500_000,
    );
    first.longest_freeze = MS * 250;
    let mut second = viewer(
        200,
        Counters {
            packets: 999,
            bytes: 999_000,
            lost: 5,
            recovered: 5,
            nacks_sent: 5,
            frames: 300,
            ..Counters::default()
        },
        HIGH_LATENCY,
        1_400_000,
    );
    second.frozen_for = Some(MS * 300);
    let mut video = Summary::new();
    video.add(&first);
    video.add(&second);
    RunReport {
        viewers_requested: 3,
        viewers_connected: 2,
        viewers_failed: 1,
        steady: Duration::from_secs(10),
        video,
        // No audio arrived at all: every figure of it is absent, none is zero by mistake.
        audio: Summary::new(),
        publisher: LoopStats {
            nack_requests: 20,
            retransmissions: 18,
            keyframe_requests: 2,
        },
        server,
        // 1000 firings: 998 within 2 ms, the latest one under 10 ms; one period skipped.
        // Every gap on the CPU under 1 ms, two off it of 2 ms or more: the late firings
        // were the machine's doing.
        timer_probe: Some(ProbeWindow {
            buckets: [990, 8, 1, 1, 0, 0, 0, 0, 0],
            skipped_periods: 1,
            on_cpu_gaps: Some([1000, 0, 0, 0, 0, 0, 0, 0, 0]),
            off_cpu_gaps: Some([990, 8, 2, 0, 0, 0, 0, 0, 0]),
            preemptions: Some(4123),
        }),
        delivered_packets: 1_000_000,
        // 2 s of worker CPU and 30% of a core over the 10 s window.
        bench: BenchUsage {
            workers_cpu: Some(Duration::from_secs(2)),
            process_cpu_percent: Some(30.0),
        },
        link_delay: None,
        // Over the 10 s window, as the driver measures it at 100 ticks per second.
        host_steal: Some(vec![
            CpuSteal {
                cpu: 0,
                ms: 40.0,
                percent: 0.4,
            },
            CpuSteal {
                cpu: 1,
                ms: 120.0,
                percent: 1.2,
            },
        ]),
    }
}

fn two_servers() -> Vec<ServerUsage> {
    vec![
        ServerUsage {
            pid: 100,
            cpu_percent: 40.0,
            rss_bytes: 100 << 20,
        },
        ServerUsage {
            pid: 101,
            cpu_percent: 10.0,
            rss_bytes: 20 << 20,
        },
    ]
}

#[test]
fn the_table_shows_every_figure_aligned() {
    let expected = "\
viewers: 3 requested, 2 connected, 1 failed; steady window 10.0 s

                                               video  audio
viewers joined                                   2/2    0/0
join p50/p99/max ms            100.0 / 200.0 / 200.0      -
first keyframe p50/p99/max ms  150.0 / 250.0 / 250.0      -
latency p50/p99/p99.9 ms          10.0 / 20.0 / 20.0      -
packets received                                1999      0
lost before recovery                     15 (0.750%)      0
unrecovered                               1 (0.050%)      0
duplicates                                         2      0
NACKs sent                                        15      0
PLIs sent                                          1      0
freezes (longest ms)                         1 (250)  0 (0)
frozen at end                                      1      0
bitrate p50 / min kbps                   1400 / 1400      -

publisher: 20 packets NACKed, 18 retransmitted, 2 keyframe requests

server pid  CPU %  RSS MiB
100          40.0    100.0
101          10.0     20.0
total        50.0    120.0
server CPU per delivered viewer-packet: 5.00 us (1000000 packets)
host steal over the window (time the hypervisor took from each CPU): cpu0 40 ms (0.4%), cpu1 120 ms (1.2%)
server timer probe: 1000 firings, 99.80% within 2 ms, 100.00% within 10 ms, worst <10 ms, 1 periods skipped
server loop between timer checks: own CPU worst <1 ms (0 gaps >= 2 ms), off its CPU 2 gaps >= 2 ms (worst <5 ms), 4123 preemptions
lateness      <1 ms  <2 ms  <5 ms  <10 ms  <20 ms  <40 ms  <80 ms  <160 ms  >=160 ms
firings         990      8      1       1       0       0       0        0         0
on-CPU gaps    1000      0      0       0       0       0       0        0         0
off-CPU gaps    990      8      2       0       0       0       0        0         0
bench CPU: 20.0% workers, 30.0% whole process
bench CPU per received viewer-packet: 2.00 us (workers), 3.00 us (whole process)
";
    assert_eq!(table(&report(two_servers())), expected);
}

#[test]
fn the_table_says_what_was_not_measured() {
    let mut run = report(Vec::new());
    run.bench.workers_cpu = None;
    run.timer_probe = None;
    run.host_steal = None;
    let text = table(&run);
    assert!(
        text.ends_with(
            "server: not measured (pass --server-pid PID)\n\
             host steal: not measured\n\
             server timer probe: not measured (pass --metrics URL)\n\
             bench CPU: - workers, 30.0% whole process\n\
             bench CPU per received viewer-packet: - us (workers), 3.00 us (whole process)\n"
        ),
        "{text}"
    );
}

#[test]
fn the_json_holds_every_figure() {
    let json = serde_json::to_value(ReportJson::from_report(&report(two_servers()))).unwrap();
    let video = &json["video"];
    assert_eq!(
        video["join_ms"],
        serde_json::json!({"p50": 100.0, "p99": 200.0, "max": 200.0})
    );
    assert_eq!(video["first_keyframe_ms"]["p99"], 250.0);
    assert_eq!(
        video["latency_ms"],
        serde_json::json!({"p50": 9.984, "p99": 19.968, "p99_9": 19.968, "max": 19.968})
    );
    assert_eq!(
        video["bitrate_bps"],
        serde_json::json!({"p50": 1_400_000, "min": 1_400_000})
    );
    for (field, value) in [
        ("packets", 1999),
        ("bytes", 1_999_000),
        ("duplicates", 2),
        ("reordered", 3),
        ("lost", 15),
        ("recovered", 14),
        ("unrecovered", 1),
        ("nacks_sent", 15),
        ("plis_sent", 1),
        ("frames", 600),
        ("freezes", 1),
        ("frozen_at_end", 1),
        ("viewers_joined", 2),
        ("viewers_with_keyframe", 2),
    ] {
        assert_eq!(video[field], value, "{field}");
    }
    assert_eq!(video["loss_percent"], 0.75);
    assert_eq!(video["unrecovered_percent"], 0.05);
    assert_eq!(video["longest_freeze_ms"], 250.0);

    let audio = &json["audio"];
    for field in ["join_ms", "latency_ms", "bitrate_bps", "loss_percent"] {
        assert!(audio[field].is_null(), "{field}");
    }
    assert_eq!(json["publisher"]["retransmissions"], 18);
    assert_eq!(
        json["server"][1],
        serde_json::json!({"pid": 101, "cpu_percent": 10.0, "rss_bytes": 20 << 20})
    );
    assert_eq!(json["server_cpu_percent"], 50.0);
    assert_eq!(json["server_rss_bytes"], 120 << 20);
    assert_eq!(json["server_cpu_us_per_viewer_packet"], 5.0);
    assert_eq!(json["steady_seconds"], 10.0);
    assert_eq!(json["viewers_failed"], 1);
    assert_eq!(
        json["host_steal"],
        serde_json::json!([
            {"cpu": 0, "ms": 40.0, "percent": 0.4},
            {"cpu": 1, "ms": 120.0, "percent": 1.2},
        ])
    );

    assert_eq!(
        json["bench"],
        serde_json::json!({
            "workers_cpu_percent": 20.0,
            "process_cpu_percent": 30.0,
            "workers_cpu_us_per_viewer_packet": 2.0,
            "process_cpu_us_per_viewer_packet": 3.0,
        })
    );

    let probe = &json["server_timer_probe"];
    assert_eq!(probe["firings"], 1000);
    assert_eq!(probe["within_2ms_percent"], 99.8);
    assert_eq!(probe["within_10ms_percent"], 100.0);
    assert_eq!(probe["worst_bucket"], "<10 ms");
    assert_eq!(probe["skipped_periods"], 1);
    assert_eq!(probe["buckets"].as_array().unwrap().len(), 9);
    assert_eq!(
        probe["buckets"][1],
        serde_json::json!({"lateness": "<2 ms", "firings": 8})
    );
    assert_eq!(probe["buckets"][8]["lateness"], ">=160 ms");

    let gaps = &probe["check_gaps"];
    assert_eq!(gaps["preemptions"], 4123);
    let on_cpu = &gaps["on_cpu"];
    assert_eq!(on_cpu["worst_bucket"], "<1 ms");
    assert_eq!(on_cpu["gaps_at_least_2ms"], 0);
    assert_eq!(
        on_cpu["buckets"][0],
        serde_json::json!({"gap": "<1 ms", "gaps": 1000})
    );
    let off_cpu = &gaps["off_cpu"];
    assert_eq!(off_cpu["worst_bucket"], "<5 ms");
    assert_eq!(off_cpu["gaps_at_least_2ms"], 2);
    assert_eq!(off_cpu["buckets"].as_array().unwrap().len(), 9);
    assert_eq!(
        off_cpu["buckets"][2],
        serde_json::json!({"gap": "<5 ms", "gaps": 2})
    );
    assert_eq!(off_cpu["buckets"][8]["gap"], ">=160 ms");

    // Half of the check gaps, or none: not measured.
    let mut half = report(Vec::new());
    half.timer_probe.as_mut().unwrap().off_cpu_gaps = None;
    let half = serde_json::to_value(ReportJson::from_report(&half)).unwrap();
    assert_eq!(half["server_timer_probe"]["firings"], 1000);
    assert!(half["server_timer_probe"]["check_gaps"].is_null());

    let mut unmeasured = report(Vec::new());
    unmeasured.timer_probe = None;
    unmeasured.host_steal = None;
    let unmeasured = serde_json::to_value(ReportJson::from_report(&unmeasured)).unwrap();
    assert!(unmeasured["server_cpu_us_per_viewer_packet"].is_null());
    assert!(unmeasured["server_cpu_percent"].is_null());
    assert!(unmeasured["server_timer_probe"].is_null());
    assert!(unmeasured["link_delay"].is_null());
    assert!(unmeasured["host_steal"].is_null());
}

#[test]
fn a_link_delay_is_shown_with_its_overflow() {
    let mut run = report(Vec::new());
    run.link_delay = Some(LinkDelayUsage {
        one_way: Duration::from_millis(20),
        overflowed: 3,
    });
    let json = serde_json::to_value(ReportJson::from_report(&run)).unwrap();
    assert_eq!(
        json["link_delay"],
        serde_json::json!({"one_way_ms": 20.0, "round_trip_added_ms": 40.0, "overflowed": 3})
    );
    let text = table(&run);
    assert!(
        text.contains(
            "2 keyframe requests\n\
             link delay: 20 ms each way (round trip +40 ms), 3 datagrams dropped as overflow\n"
        ),
        "{text}"
    );
    assert!(!table(&report(Vec::new())).contains("link delay"));
}

#[test]
fn the_benchs_cost_per_packet_needs_packets_and_a_window() {
    let mut run = report(Vec::new());
    run.bench = BenchUsage::default();
    let bench = ReportJson::from_report(&run).bench;
    assert_eq!(bench.workers_cpu_percent, None);
    assert_eq!(bench.process_cpu_us_per_viewer_packet, None);

    let mut run = report(Vec::new());
    run.delivered_packets = 0;
    let bench = ReportJson::from_report(&run).bench;
    assert_eq!(bench.workers_cpu_percent, Some(20.0));
    assert_eq!(bench.workers_cpu_us_per_viewer_packet, None, "no packets");
    assert_eq!(bench.process_cpu_us_per_viewer_packet, None, "no packets");

    let mut run = report(Vec::new());
    run.steady = Duration::ZERO;
    let bench = ReportJson::from_report(&run).bench;
    assert_eq!(
        bench.workers_cpu_percent, None,
        "no division by a zero window"
    );
}

#[test]
fn writes_the_json_file() {
    let path = std::env::temp_dir().join(format!(
        "shardcast-bench-report-{}.json",
        std::process::id()
    ));
    let run = report(two_servers());
    write_json(&run, &path).unwrap();
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        written,
        serde_json::to_value(ReportJson::from_report(&run)).unwrap()
    );

    let nowhere = Path::new("/nonexistent-directory/report.json");
    assert!(write_json(&run, nowhere).is_err());
}
