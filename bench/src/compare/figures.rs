//! A run reduced to the figures that compare servers: what the server spent, what it
//! delivered and how well. `None` is a figure nobody measured (no `--server-pid`, no
//! packets), never a zero.

use serde::Serialize;

use crate::accounting::Counters;
use crate::driver::RunReport;

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Figures {
    /// Summed over the server processes, in percent of one core.
    pub server_cpu_percent: Option<f64>,
    pub server_rss_bytes: Option<u64>,
    /// What the viewers received, video and audio, over the steady window.
    pub mbps_out: Option<f64>,
    /// Video and audio packets never repaired, in percent of those sent to the viewers.
    pub unrecovered_loss_percent: Option<f64>,
    pub p99_latency_ms: Option<f64>,
    /// Server CPU time in the steady window over the viewer-packets delivered in it.
    pub server_cpu_us_per_viewer_packet: Option<f64>,
}

impl Figures {
    pub fn of(report: &RunReport) -> Self {
        let measured = !report.server.is_empty();
        let cpu_percent: f64 = report.server.iter().map(|usage| usage.cpu_percent).sum();
        let steady_seconds = report.steady.as_secs_f64();
        let mut totals = *report.video.totals();
        totals.add(report.audio.totals());
        Self {
            server_cpu_percent: measured.then_some(cpu_percent),
            server_rss_bytes: measured.then(|| report.server.iter().map(|s| s.rss_bytes).sum()),
            mbps_out: (steady_seconds > 0.0)
                .then(|| totals.bytes as f64 * 8.0 / steady_seconds / 1e6),
            unrecovered_loss_percent: unrecovered_percent(&totals),
            p99_latency_ms: report
                .video
                .latency()
                .map(|latency| latency.p99.as_micros() as f64 / 1000.0),
            server_cpu_us_per_viewer_packet: (measured && report.delivered_packets > 0).then(
                || cpu_percent / 100.0 * steady_seconds * 1e6 / report.delivered_packets as f64,
            ),
        }
    }
}

/// As the run's own report counts it: of the packets that came plus those that never did
/// (late arrivals are already among the packets).
fn unrecovered_percent(totals: &Counters) -> Option<f64> {
    let sent = totals.packets + totals.unrecovered.saturating_sub(totals.late);
    (sent > 0).then(|| totals.unrecovered as f64 * 100.0 / sent as f64)
}
