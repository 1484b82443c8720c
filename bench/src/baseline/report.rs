//! The baseline's figures: counts from both ends, and the sender's CPU time per
//! viewer-packet, the number to set beside shardcast's.

use std::fmt::Write as _;

use serde::Serialize;

use super::BaselineConfig;
use super::receivers::Received;
use super::sender::Sent;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaselineReport {
    pub sender: &'static str,
    pub viewers: usize,
    /// The CPU the sender was pinned to.
    pub cpu: Option<usize>,
    /// How long the stream played, measured by the sender.
    pub seconds: f64,
    pub publisher_packets: u64,
    pub datagrams_sent: u64,
    pub bytes_sent: u64,
    pub send_errors: u64,
    /// Viewer-packets that were never written (video before its first keyframe).
    pub viewer_packets_skipped: u64,
    pub datagrams_received: u64,
    pub bytes_received: u64,
    /// Sent but never received.
    pub datagrams_lost: u64,
    pub sender_cpu_seconds: f64,
    /// The sender thread's share of one core over the run.
    pub sender_cpu_percent: f64,
    pub receiver_cpu_seconds: f64,
    /// Sender CPU time per datagram sent (header rewrite, SRTP, syscall), in microseconds.
    pub cpu_us_per_viewer_packet: Option<f64>,
    /// Datagrams sent per second: the stream's packet rate times the viewers.
    pub viewer_packets_per_second: f64,
    /// Datagrams one core would send per second at this cost, if it did nothing else.
    pub viewer_packets_per_cpu_second: Option<f64>,
}

impl BaselineReport {
    pub fn new(config: &BaselineConfig, sent: &Sent, received: &Received) -> Self {
        let seconds = sent.elapsed.as_secs_f64();
        let cpu_seconds = sent.cpu.as_secs_f64();
        let datagrams = sent.datagrams as f64;
        let per_second = |count: f64, over: f64| (over > 0.0).then(|| count / over);
        Self {
            sender: config.sender.name(),
            viewers: config.viewers,
            cpu: config.cpu,
            seconds,
            publisher_packets: sent.publisher_packets,
            datagrams_sent: sent.datagrams,
            bytes_sent: sent.bytes,
            send_errors: sent.errors,
            viewer_packets_skipped: sent.skipped,
            datagrams_received: received.datagrams,
            bytes_received: received.bytes,
            datagrams_lost: sent.datagrams.saturating_sub(received.datagrams),
            sender_cpu_seconds: cpu_seconds,
            sender_cpu_percent: per_second(100.0 * cpu_seconds, seconds).unwrap_or(0.0),
            receiver_cpu_seconds: received.cpu.as_secs_f64(),
            cpu_us_per_viewer_packet: per_second(1e6 * cpu_seconds, datagrams),
            viewer_packets_per_second: per_second(datagrams, seconds).unwrap_or(0.0),
            viewer_packets_per_cpu_second: per_second(datagrams, cpu_seconds),
        }
    }

    /// The figures as a short table for a terminal.
    pub fn table(&self) -> String {
        let pinned = self
            .cpu
            .map_or_else(|| "unpinned".to_owned(), |cpu| format!("CPU {cpu}"));
        let optional = |value: Option<f64>, decimals: usize| {
            value.map_or_else(|| "-".to_owned(), |v| format!("{v:.decimals$}"))
        };
        let mut table = String::new();
        let mut line = |label: &str, value: String| {
            let _ = writeln!(table, "{label:<32} {value}");
        };
        line("sender", format!("{} ({pinned})", self.sender));
        line("viewers", self.viewers.to_string());
        line("seconds", format!("{:.2}", self.seconds));
        line("publisher packets", self.publisher_packets.to_string());
        line("datagrams sent", self.datagrams_sent.to_string());
        line("datagrams received", self.datagrams_received.to_string());
        line("datagrams lost", self.datagrams_lost.to_string());
        line("send errors", self.send_errors.to_string());
        line(
            "viewer-packets skipped",
            self.viewer_packets_skipped.to_string(),
        );
        line("MB sent", format!("{:.1}", self.bytes_sent as f64 / 1e6));
        line(
            "sender CPU s (% of a core)",
            format!(
                "{:.3} ({:.1}%)",
                self.sender_cpu_seconds, self.sender_cpu_percent
            ),
        );
        line(
            "receiver CPU s",
            format!("{:.3}", self.receiver_cpu_seconds),
        );
        line(
            "sender CPU us / viewer-packet",
            optional(self.cpu_us_per_viewer_packet, 3),
        );
        line(
            "viewer-packets/s",
            format!("{:.0}", self.viewer_packets_per_second),
        );
        line(
            "viewer-packets per CPU-second",
            optional(self.viewer_packets_per_cpu_second, 0),
        );
        table
    }
}
