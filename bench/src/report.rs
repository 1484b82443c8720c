//! The end of a run: a plain-text table for people and a JSON file (`--json PATH`) for
//! scripts, both from the driver's [`RunReport`].
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
            server_cpu_us_per_viewer_packet: cpu_us_per_viewer_packet(report),
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

/// Server CPU time over the steady window per viewer-packet delivered in it.
fn cpu_us_per_viewer_packet(report: &RunReport) -> Option<f64> {
    if report.server.is_empty() || report.delivered_packets == 0 {
        return None;
    }
    let cpu_micros = total_cpu_percent(report) / 100.0 * report.steady.as_secs_f64() * 1e6;
    Some(cpu_micros / report.delivered_packets as f64)
}

/// Writes the report as pretty JSON to `path`.
pub fn write_json(report: &RunReport, path: &Path) -> io::Result<()> {
    let json = serde_json::to_string_pretty(&ReportJson::from_report(report))?;
    std::fs::write(path, json + "\n")
}

/// The final table, plain text with aligned columns.
pub fn table(report: &RunReport) -> String {
    let json = ReportJson::from_report(report);
    let mut out = format!(
        "viewers: {} requested, {} connected, {} failed; steady window {:.1} s\n\n",
        json.viewers_requested, json.viewers_connected, json.viewers_failed, json.steady_seconds
    );
    out.push_str(&align(&track_rows(&json.video, &json.audio)));
    let publisher = json.publisher;
    out.push_str(&format!(
        "\npublisher: {} packets NACKed, {} retransmitted, {} keyframe requests\n",
        publisher.nack_requests, publisher.retransmissions, publisher.keyframe_requests
    ));
    if json.server.is_empty() {
        out.push_str("server: not measured (pass --server-pid PID)\n");
        return out;
    }
    let mut rows = vec![cells(&["server pid", "CPU %", "RSS MiB"])];
    for server in &json.server {
        rows.push(server_row(
            &server.pid.to_string(),
            server.cpu_percent,
            server.rss_bytes,
        ));
    }
    if json.server.len() > 1 {
        let cpu = json.server_cpu_percent.unwrap_or_default();
        rows.push(server_row(
            "total",
            cpu,
            json.server_rss_bytes.unwrap_or_default(),
        ));
    }
    out.push('\n');
    out.push_str(&align(&rows));
    out.push_str(&format!(
        "server CPU per delivered viewer-packet: {} us ({} packets)\n",
        json.server_cpu_us_per_viewer_packet
            .map_or_else(|| "-".to_owned(), |micros| format!("{micros:.2}")),
        json.delivered_packets
    ));
    out
}

fn track_rows(video: &TrackJson, audio: &TrackJson) -> Vec<Vec<String>> {
    type Cell = fn(&TrackJson) -> String;
    let rows: [(&str, Cell); 13] = [
        ("viewers joined", |t| {
            format!("{}/{}", t.viewers_joined, t.viewers)
        }),
        ("join p50/p99/max ms", |t| spread(t.join_ms)),
        ("first keyframe p50/p99/max ms", |t| {
            spread(t.first_keyframe_ms)
        }),
        ("latency p50/p99/p99.9 ms", |t| {
            t.latency_ms.map_or_else(dash, |l| {
                format!("{:.1} / {:.1} / {:.1}", l.p50, l.p99, l.p99_9)
            })
        }),
        ("packets received", |t| t.packets.to_string()),
        ("lost before recovery", |t| counted(t.lost, t.loss_percent)),
        ("unrecovered", |t| {
            counted(t.unrecovered, t.unrecovered_percent)
        }),
        ("duplicates", |t| t.duplicates.to_string()),
        ("NACKs sent", |t| t.nacks_sent.to_string()),
        ("PLIs sent", |t| t.plis_sent.to_string()),
        ("freezes (longest ms)", |t| {
            format!("{} ({:.0})", t.freezes, t.longest_freeze_ms)
        }),
        ("frozen at end", |t| t.frozen_at_end.to_string()),
        ("bitrate p50 / min kbps", |t| {
            t.bitrate_bps
                .map_or_else(dash, |b| format!("{} / {}", b.p50 / 1000, b.min / 1000))
        }),
    ];
    let mut table = vec![cells(&["", "video", "audio"])];
    table.extend(
        rows.iter()
            .map(|(label, cell)| vec![(*label).to_owned(), cell(video), cell(audio)]),
    );
    table
}

fn dash() -> String {
    "-".to_owned()
}

fn spread(spread: Option<SpreadJson>) -> String {
    spread.map_or_else(dash, |s| {
        format!("{:.1} / {:.1} / {:.1}", s.p50, s.p99, s.max)
    })
}

fn counted(count: u64, percent: Option<f64>) -> String {
    percent.map_or_else(
        || count.to_string(),
        |percent| format!("{count} ({percent:.3}%)"),
    )
}

fn server_row(name: &str, cpu_percent: f64, rss_bytes: u64) -> Vec<String> {
    let mib = rss_bytes as f64 / f64::from(1 << 20);
    vec![
        name.to_owned(),
        format!("{cpu_percent:.1}"),
        format!("{mib:.1}"),
    ]
}

fn cells(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|text| (*text).to_owned()).collect()
}

/// Lines of cells: the first column left-aligned, the others right-aligned, two spaces
/// apart.
fn align(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|column| {
            rows.iter()
                .filter_map(|row| row.get(column))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (column, cell) in row.iter().enumerate() {
            let width = widths[column];
            if column == 0 {
                line.push_str(&format!("{cell:<width$}"));
            } else {
                line.push_str(&format!("  {cell:>width$}"));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests;
