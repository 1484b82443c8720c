//! The order of the runs, and the table, JSON and charts of hand-built reports whose every
//! figure is known.

use std::time::Duration;

use crate::accounting::{Counters, LatencyHistogram, Summary, ViewerStats};
use crate::media::LoopStats;
use crate::plot::LineChart;
use crate::server_usage::ServerUsage;

use super::*;

const MIB: u64 = 1 << 20;
/// A histogram bucket's midpoint, so the p99 is exact.
const LATENCY: Duration = Duration::from_micros(19_968);

fn track(packets: u64, bytes: u64, unrecovered: u64) -> Summary {
    let mut latency = LatencyHistogram::default();
    latency.record(LATENCY);
    let mut summary = Summary::new();
    summary.add(&ViewerStats {
        counters: Counters {
            packets,
            bytes,
            lost: unrecovered,
            unrecovered,
            ..Counters::default()
        },
        longest_freeze: Duration::ZERO,
        frozen_for: None,
        join_time: Some(Duration::from_millis(100)),
        first_keyframe_time: Some(Duration::from_millis(150)),
        latency,
        bitrate_bps: 1_000_000,
    });
    summary
}

/// 10 s steady; 10 MB of video and 2.5 MB of audio received (10 Mbps); 10 of 11 000
/// packets unrecovered.
fn report(viewers: usize, failed: usize, server: Vec<ServerUsage>) -> RunReport {
    RunReport {
        viewers_requested: viewers,
        viewers_connected: viewers - failed,
        viewers_failed: failed,
        steady: Duration::from_secs(10),
        video: track(9_990, 10_000_000, 10),
        audio: track(1_000, 2_500_000, 0),
        publisher: LoopStats {
            nack_requests: 0,
            retransmissions: 0,
            keyframe_requests: 0,
        },
        server,
        timer_probe: None,
        delivered_packets: 12_500,
        bench: Default::default(),
        link_delay: None,
        host_steal: None,
    }
}

/// Two processes: 25% of a core and 128 MiB together.
fn measured_server() -> Vec<ServerUsage> {
    vec![
        ServerUsage {
            pid: 10,
            cpu_percent: 20.0,
            rss_bytes: 100 * MIB,
        },
        ServerUsage {
            pid: 11,
            cpu_percent: 5.0,
            rss_bytes: 28 * MIB,
        },
    ]
}

fn compare_run(target: &str, viewers: usize, result: Result<RunReport, &str>) -> CompareRun {
    CompareRun {
        target: target.to_owned(),
        viewers,
        result: result.map_err(str::to_owned),
    }
}

/// A sweep of 250 then 100 viewers; shardcast failed at 250, `other` was not measured.
fn sweep() -> Vec<CompareRun> {
    vec![
        compare_run("shardcast", 250, Err("WHIP offer refused: 503")),
        compare_run("other", 250, Ok(report(250, 0, vec![]))),
        compare_run("shardcast", 100, Ok(report(100, 0, measured_server()))),
        compare_run("other", 100, Ok(report(100, 2, vec![]))),
    ]
}

fn target(name: &str) -> Target {
    Target {
        name: name.to_owned(),
        whip_url: format!("http://{name}/whip"),
        whep_url: format!("http://{name}/whep"),
        token: None,
        server_pids: vec![],
        metrics_url: None,
    }
}

#[test]
fn each_count_runs_every_target_in_turn_and_failures_do_not_stop_it() {
    let targets = [target("a"), target("b")];
    let mut started = Vec::new();
    let mut finished = Vec::new();
    let runs = run_all(
        &targets,
        &[100, 250],
        |target, viewers| {
            started.push((target.whip_url.clone(), viewers));
            if target.name == "b" && viewers == 100 {
                Err("refused")
            } else {
                Ok(report(viewers, 0, vec![]))
            }
        },
        |run| finished.push((run.target.clone(), run.viewers, run.result.is_ok())),
    );
    assert_eq!(
        started,
        [
            ("http://a/whip".to_owned(), 100),
            ("http://b/whip".to_owned(), 100),
            ("http://a/whip".to_owned(), 250),
            ("http://b/whip".to_owned(), 250),
        ]
    );
    let expected = [
        ("a", 100, true),
        ("b", 100, false),
        ("a", 250, true),
        ("b", 250, true),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|&(name, viewers, ok)| (name.to_owned(), viewers, ok))
        .collect();
    assert_eq!(finished, expected);
    assert_eq!(runs.len(), 4);
    assert_eq!(
        runs[1].result.as_ref().err().map(String::as_str),
        Some("refused")
    );
    assert_eq!(
        runs[3].result.as_ref().map(|r| r.viewers_requested),
        Ok(250)
    );
}

#[test]
fn figures_of_a_measured_run() {
    let figures = Figures::of(&report(100, 0, measured_server()));
    assert_eq!(figures.server_cpu_percent, Some(25.0));
    assert_eq!(figures.server_rss_bytes, Some(128 * MIB));
    assert_eq!(figures.mbps_out, Some(10.0));
    let loss = figures.unrecovered_loss_percent.unwrap();
    assert!((loss - 10.0 * 100.0 / 11_000.0).abs() < 1e-9, "{loss}");
    assert_eq!(figures.p99_latency_ms, Some(19.968));
    // 25% of a core for 10 s is 2.5 s of CPU, over 12 500 viewer-packets.
    assert_eq!(figures.server_cpu_us_per_viewer_packet, Some(200.0));

    let unmeasured = Figures::of(&report(100, 0, vec![]));
    assert_eq!(unmeasured.server_cpu_percent, None);
    assert_eq!(unmeasured.server_rss_bytes, None);
    assert_eq!(unmeasured.server_cpu_us_per_viewer_packet, None);
    let mut idle = report(100, 0, vec![]);
    idle.steady = Duration::ZERO;
    (idle.video, idle.audio) = (Summary::new(), Summary::new());
    let idle = Figures::of(&idle);
    assert_eq!((idle.mbps_out, idle.unrecovered_loss_percent), (None, None));
    assert_eq!(idle.p99_latency_ms, None);
}

#[test]
fn the_table_has_a_row_per_run_in_order() {
    let table = table(&sweep());
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 5, "{table}");
    let words = |line: &str| line.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(
        words(lines[0]),
        "server viewers server CPU % RSS MiB Mbps out unrecovered loss % p99 latency ms \
         CPU us per viewer-packet"
    );
    assert_eq!(
        words(lines[1]),
        "shardcast 250 failed: WHIP offer refused: 503"
    );
    assert_eq!(words(lines[2]), "other 250 - - 10.0 0.091 20.0 -");
    assert_eq!(
        words(lines[3]),
        "shardcast 100 25.0 128.0 10.0 0.091 20.0 200.00"
    );
    assert_eq!(words(lines[4]), "other 98/100 - - 10.0 0.091 20.0 -");
    // Figures are right-aligned under their headers.
    for line in &lines[2..] {
        assert_eq!(line.len(), lines[0].len(), "{line:?}");
    }
    assert!(
        lines[1].starts_with("shardcast      250  failed: "),
        "{table}"
    );
}

#[test]
fn the_json_has_the_figures_and_report_of_each_run() {
    let json: serde_json::Value = serde_json::from_str(&to_json(&sweep()).unwrap()).unwrap();
    let runs = json.as_array().unwrap();
    assert_eq!(runs.len(), 4);
    let failed = &runs[0];
    assert_eq!(failed["target"], "shardcast");
    assert_eq!(failed["viewers"], 250);
    assert_eq!(failed["error"], "WHIP offer refused: 503");
    assert!(failed["mbps_out"].is_null() && failed["report"].is_null());
    let measured = &runs[2];
    assert!(measured["error"].is_null());
    assert_eq!(measured["server_cpu_percent"], 25.0);
    assert_eq!(measured["server_rss_bytes"], 128 * MIB);
    assert_eq!(measured["p99_latency_ms"], 19.968);
    assert_eq!(measured["server_cpu_us_per_viewer_packet"], 200.0);
    assert_eq!(measured["report"]["viewers_connected"], 100);
    assert_eq!(runs[3]["report"]["viewers_failed"], 2);
}

#[test]
fn the_charts_show_each_target_against_viewers_and_its_largest_run() {
    let charts = charts(&sweep());
    assert_eq!(charts.len(), 3);
    let [cpu, loss, latency] = &charts[..] else {
        unreachable!()
    };
    let names = |chart: &LineChart| {
        chart
            .series
            .iter()
            .map(|series| series.name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(cpu), ["shardcast", "other"]);
    assert_eq!(cpu.series[0].points, [(100.0, 25.0)]);
    assert!(cpu.series[1].points.is_empty(), "other was not measured");
    assert!(cpu.x_label.contains("viewers") && cpu.y_label.contains('%'));
    let share = 10.0 * 100.0 / 11_000.0;
    assert_eq!(loss.series[0].points, [(100.0, share)]);
    assert_eq!(loss.series[1].points, [(100.0, share), (250.0, share)]);
    assert_eq!(
        names(latency),
        ["shardcast, 100 viewers", "other, 250 viewers"]
    );
    assert!(latency.x_label.contains("ms"));
    assert_eq!(latency.series[0].points, [(19.968, 1.0)]);

    let svg = crate::plot::render_svg(&charts).unwrap();
    for name in ["shardcast", "other, 250 viewers", "unrecovered loss"] {
        assert!(svg.contains(name), "{name}");
    }
}
