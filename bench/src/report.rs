//! The end of a run: a plain-text table for people (`table`) and a JSON file
//! (`--json PATH`) for scripts, both from the driver's [`RunReport`].
//!
//! The JSON is a snapshot of plain serializable structs built here, so the accounting types
//! stay free of serde. Durations are milliseconds, rates bits per second, memory bytes;
//! a figure nobody measured (no viewer joined, no `--server-pid`) is `null`.

use std::io;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::accounting::{Counters, Spread, Summary};
use crate::driver::RunReport;

mod host_steal;
mod table;
mod timer_probe;

use host_steal::CpuStealJson;
pub use table::table;
use timer_probe::TimerProbeJson;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportJson {
    viewers_requested: usize,
    viewers_connected: usize,
    viewers_failed: usize,
    steady_seconds: f64,
    /// Viewer-packets received in the steady window, all viewers and tracks.
    delivered_packets: u64,
    video: TrackJson,
    audio: TrackJson,
    publisher: PublisherJson,
    server: Vec<ServerJson>,
    /// Summed over the server processes.
    server_cpu_percent: Option<f64>,
    server_rss_bytes: Option<u64>,
    /// Server CPU time in the steady window over `delivered_packets`.
    server_cpu_us_per_viewer_packet: Option<f64>,
    /// How late the server's probe timer fired in the steady window (`--metrics`).
    server_timer_probe: Option<TimerProbeJson>,
    /// What the hypervisor took from each of the host's CPUs in the steady window; `null`
    /// when /proc/stat could not be read.
    host_steal: Option<Vec<CpuStealJson>>,
    bench: BenchJson,
    /// `--link-delay`, when given.
    link_delay: Option<LinkDelayJson>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct TrackJson {
    viewers: usize,
    viewers_joined: usize,
    viewers_with_keyframe: usize,
    join_ms: Option<SpreadJson>,
    first_keyframe_ms: Option<SpreadJson>,
    latency_ms: Option<LatencyJson>,
    bitrate_bps: Option<BitrateJson>,
    /// Of the packets sent to the viewers, lost before NACK recovery, in percent.
    loss_percent: Option<f64>,
    unrecovered_percent: Option<f64>,
    packets: u64,
    bytes: u64,
    duplicates: u64,
    reordered: u64,
    lost: u64,
    recovered: u64,
    unrecovered: u64,
    late: u64,
    unclassified: u64,
    nacks_sent: u64,
    plis_sent: u64,
    frames: u64,
    freezes: u64,
    longest_freeze_ms: f64,
    frozen_at_end: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
struct SpreadJson {
    p50: f64,
    p99: f64,
    max: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
struct LatencyJson {
    p50: f64,
    p99: f64,
    p99_9: f64,
    max: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
struct BitrateJson {
    p50: u64,
    min: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
struct PublisherJson {
    nack_requests: u64,
    retransmissions: u64,
    keyframe_requests: u64,
}

/// The bench's own CPU in the steady window, in percent of one core and per received
/// viewer-packet: the workers alone (what receiving costs), and the whole process.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
struct BenchJson {
    workers_cpu_percent: Option<f64>,
    process_cpu_percent: Option<f64>,
    workers_cpu_us_per_viewer_packet: Option<f64>,
    process_cpu_us_per_viewer_packet: Option<f64>,
}

/// The link the bench emulated: the delay added each way, and the datagrams it had no room
/// to hold (dropped, like a full netem queue).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
struct LinkDelayJson {
    one_way_ms: f64,
    round_trip_added_ms: f64,
    overflowed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
struct ServerJson {
    pid: u32,
    cpu_percent: f64,
    rss_bytes: u64,
}

impl ReportJson {
    pub fn from_report(report: &RunReport) -> Self {
        let servers = &report.server;
        let has_servers = !servers.is_empty();
        Self {
            viewers_requested: report.viewers_requested,
            viewers_connected: report.viewers_connected,
            viewers_failed: report.viewers_failed,
            steady_seconds: report.steady.as_secs_f64(),
            delivered_packets: report.delivered_packets,
            video: TrackJson::from_summary(&report.video),
            audio: TrackJson::from_summary(&report.audio),
            publisher: PublisherJson {
                nack_requests: report.publisher.nack_requests,
                retransmissions: report.publisher.retransmissions,
                keyframe_requests: report.publisher.keyframe_requests,
            },
            server: servers
                .iter()
                .map(|usage| ServerJson {
                    pid: usage.pid,
                    cpu_percent: usage.cpu_percent,
                    rss_bytes: usage.rss_bytes,
                })
                .collect(),
            server_cpu_percent: has_servers.then(|| total_cpu_percent(report)),
            server_rss_bytes: has_servers.then(|| servers.iter().map(|s| s.rss_bytes).sum()),
            server_cpu_us_per_viewer_packet: has_servers
                .then(|| cpu_us_per_packet(cpu_seconds(total_cpu_percent(report), report), report))
                .flatten(),
            server_timer_probe: report.timer_probe.as_ref().map(TimerProbeJson::from),
            host_steal: report
                .host_steal
                .as_ref()
                .map(|cpus| cpus.iter().map(CpuStealJson::from).collect()),
            bench: BenchJson::from_report(report),
            link_delay: report.link_delay.map(|link| LinkDelayJson {
                one_way_ms: millis(link.one_way),
                round_trip_added_ms: millis(link.one_way * 2),
                overflowed: link.overflowed,
            }),
        }
    }
}

impl BenchJson {
    fn from_report(report: &RunReport) -> Self {
        let steady = report.steady.as_secs_f64();
        let workers_cpu = report.bench.workers_cpu.map(|cpu| cpu.as_secs_f64());
        let process_cpu_percent = report.bench.process_cpu_percent;
        Self {
            workers_cpu_percent: workers_cpu
                .and_then(|cpu| (steady > 0.0).then(|| cpu / steady * 100.0)),
            process_cpu_percent,
            workers_cpu_us_per_viewer_packet: workers_cpu
                .and_then(|cpu| cpu_us_per_packet(cpu, report)),
            process_cpu_us_per_viewer_packet: process_cpu_percent
                .and_then(|percent| cpu_us_per_packet(cpu_seconds(percent, report), report)),
        }
    }
}

impl TrackJson {
    fn from_summary(summary: &Summary) -> Self {
        let totals = summary.totals();
        let Counters {
            packets,
            bytes,
            duplicates,
            reordered,
            lost,
            recovered,
            unrecovered,
            late,
            unclassified,
            nacks_sent,
            plis_sent,
            frames,
            freezes,
        } = *totals;
        Self {
            viewers: summary.viewers(),
            viewers_joined: summary.viewers_joined(),
            viewers_with_keyframe: summary.viewers_with_keyframe(),
            join_ms: summary.join_time().map(SpreadJson::from),
            first_keyframe_ms: summary.first_keyframe_time().map(SpreadJson::from),
            latency_ms: summary.latency().map(|latency| LatencyJson {
                p50: millis(latency.p50),
                p99: millis(latency.p99),
                p99_9: millis(latency.p999),
                max: millis(latency.max),
            }),
            bitrate_bps: summary.bitrate().map(|bitrate| BitrateJson {
                p50: bitrate.p50,
                min: bitrate.min,
            }),
            loss_percent: percent_of_sent(totals, lost),
            unrecovered_percent: percent_of_sent(totals, unrecovered),
            packets,
            bytes,
            duplicates,
            reordered,
            lost,
            recovered,
            unrecovered,
            late,
            unclassified,
            nacks_sent,
            plis_sent,
            frames,
            freezes,
            longest_freeze_ms: millis(summary.longest_freeze()),
            frozen_at_end: summary.frozen_at_end(),
        }
    }
}

impl From<Spread<Duration>> for SpreadJson {
    fn from(spread: Spread<Duration>) -> Self {
        Self {
            p50: millis(spread.p50),
            p99: millis(spread.p99),
            max: millis(spread.max),
        }
    }
}

/// Milliseconds with microsecond precision: `884.760737`, not `884.7607370000001`.
fn millis(duration: Duration) -> f64 {
    duration.as_micros() as f64 / 1000.0
}

/// `count` in percent of the packets the viewers should have received: those that came,
/// plus those that never did (late arrivals are already among the packets).
fn percent_of_sent(totals: &Counters, count: u64) -> Option<f64> {
    let sent = totals.packets + totals.unrecovered.saturating_sub(totals.late);
    (sent > 0).then(|| count as f64 * 100.0 / sent as f64)
}

fn total_cpu_percent(report: &RunReport) -> f64 {
    report.server.iter().map(|usage| usage.cpu_percent).sum()
}

/// The CPU seconds spent at `cpu_percent` of one core over the steady window.
fn cpu_seconds(cpu_percent: f64, report: &RunReport) -> f64 {
    cpu_percent / 100.0 * report.steady.as_secs_f64()
}

/// `cpu_seconds` in microseconds per viewer-packet delivered in the steady window.
fn cpu_us_per_packet(cpu_seconds: f64, report: &RunReport) -> Option<f64> {
    let packets = report.delivered_packets;
    (packets > 0).then(|| cpu_seconds * 1e6 / packets as f64)
}

/// Writes the report as pretty JSON to `path`.
pub fn write_json(report: &RunReport, path: &Path) -> io::Result<()> {
    let json = serde_json::to_string_pretty(&ReportJson::from_report(report))?;
    std::fs::write(path, json + "\n")
}

#[cfg(test)]
mod tests;
