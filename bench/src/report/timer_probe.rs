//! The server's timer probe over the steady window (`--metrics`): how late a steady
//! periodic timer in every shard fired, as a JSON object and as lines of the table.

use serde::Serialize;

use crate::server_metrics::{ProbeWindow, bucket_label};

/// The two limits the probe is judged by, in microseconds: most firings within the first,
/// none past the second.
const WITHIN_US: [u64; 2] = [2_000, 10_000];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct TimerProbeJson {
    /// All shards together.
    firings: u64,
    within_2ms_percent: Option<f64>,
    within_10ms_percent: Option<f64>,
    /// The latest bucket any firing fell in, like `<5 ms`; `null` without firings.
    worst_bucket: Option<String>,
    /// Deadlines passed over because a shard was a period or more behind: firings that never
    /// happened, so counted in no bucket.
    skipped_periods: u64,
    buckets: Vec<BucketJson>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct BucketJson {
    /// `<1 ms` ... `<160 ms`, then `>=160 ms`.
    lateness: String,
    firings: u64,
}

impl From<&ProbeWindow> for TimerProbeJson {
    fn from(window: &ProbeWindow) -> Self {
        Self {
            firings: window.firings(),
            within_2ms_percent: window.percent_below(WITHIN_US[0]),
            within_10ms_percent: window.percent_below(WITHIN_US[1]),
            worst_bucket: window.worst_bucket().map(bucket_label),
            skipped_periods: window.skipped_periods,
            buckets: window
                .buckets
                .iter()
                .enumerate()
                .map(|(bucket, &firings)| BucketJson {
                    lateness: bucket_label(bucket),
                    firings,
                })
                .collect(),
        }
    }
}

/// A summary line, then the buckets as a two-row table (`align`ed by the caller).
pub(super) fn summary_and_rows(probe: &TimerProbeJson) -> (String, Vec<Vec<String>>) {
    let percent =
        |percent: Option<f64>| percent.map_or_else(|| "-".to_owned(), |p| format!("{p:.2}%"));
    let summary = format!(
        "server timer probe: {} firings, {} within 2 ms, {} within 10 ms, worst {}, {} periods skipped\n",
        probe.firings,
        percent(probe.within_2ms_percent),
        percent(probe.within_10ms_percent),
        probe.worst_bucket.as_deref().unwrap_or("-"),
        probe.skipped_periods,
    );
    let mut lateness = vec!["lateness".to_owned()];
    let mut firings = vec!["firings".to_owned()];
    for bucket in &probe.buckets {
        lateness.push(bucket.lateness.clone());
        firings.push(bucket.firings.to_string());
    }
    (summary, vec![lateness, firings])
}
