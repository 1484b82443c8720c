//! The final table for people: the viewers' figures per track, the publisher's, then what
//! the server spent and what the hypervisor took from the host meanwhile, how late the
//! server's timers fired, and what the bench itself spent.

use super::{BenchJson, ReportJson, SpreadJson, TrackJson, host_steal, timer_probe};
use crate::driver::RunReport;

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
    if let Some(link) = json.link_delay {
        out.push_str(&format!(
            "link delay: {} ms each way (round trip +{} ms), {} datagrams dropped as overflow\n",
            link.one_way_ms, link.round_trip_added_ms, link.overflowed
        ));
    }
    out.push_str(&server_lines(&json));
    out.push_str(&host_steal::line(json.host_steal.as_deref()));
    out.push_str(&timer_probe_lines(&json));
    out.push_str(&bench_lines(&json.bench));
    out
}

fn timer_probe_lines(json: &ReportJson) -> String {
    let Some(probe) = &json.server_timer_probe else {
        return "server timer probe: not measured (pass --metrics URL)\n".to_owned();
    };
    let (summary, rows) = timer_probe::summary_and_rows(probe);
    format!("{summary}{}", align(&rows))
}

fn server_lines(json: &ReportJson) -> String {
    if json.server.is_empty() {
        return "server: not measured (pass --server-pid PID)\n".to_owned();
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
    let mut out = format!("\n{}", align(&rows));
    out.push_str(&format!(
        "server CPU per delivered viewer-packet: {} us ({} packets)\n",
        micros(json.server_cpu_us_per_viewer_packet),
        json.delivered_packets
    ));
    out
}

/// What the bench spent, set under the server's figures so the two compare at a glance.
fn bench_lines(bench: &BenchJson) -> String {
    let percent = |percent: Option<f64>| percent.map_or_else(dash, |p| format!("{p:.1}%"));
    format!(
        "bench CPU: {} workers, {} whole process\n\
         bench CPU per received viewer-packet: {} us (workers), {} us (whole process)\n",
        percent(bench.workers_cpu_percent),
        percent(bench.process_cpu_percent),
        micros(bench.workers_cpu_us_per_viewer_packet),
        micros(bench.process_cpu_us_per_viewer_packet),
    )
}

fn micros(micros: Option<f64>) -> String {
    micros.map_or_else(dash, |micros| format!("{micros:.2}"))
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
