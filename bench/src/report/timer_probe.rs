//! The server's timer probe over the steady window (`--metrics`): how late a steady
//! periodic timer in every shard fired and, from engines that measure it, whether the
//! shard's own work or time off its CPU made it late; as a JSON object and as lines of the
//! table.

use serde::Serialize;

use crate::server_metrics::{Buckets, ProbeWindow, bucket_label, count_at_least, worst_bucket};

/// The two limits the probe is judged by, in microseconds: most firings within the first,
/// none past the second.
const WITHIN_US: [u64; 2] = [2_000, 10_000];

/// Gaps between timer checks this long can make a firing miss the first limit by
/// themselves: with every on-CPU gap shorter, a firing that late was late off the CPU.
const LONG_GAP_US: u64 = WITHIN_US[0];

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
    /// What the shards' loops did between two timer checks; `null` from an engine that does
    /// not measure it.
    check_gaps: Option<CheckGapsJson>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct BucketJson {
    /// `<1 ms` ... `<160 ms`, then `>=160 ms`.
    lateness: String,
    firings: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct CheckGapsJson {
    /// The shard threads' own CPU time: at most what their work made a firing late by.
    on_cpu: GapsJson,
    /// Time off their CPUs though they had not asked to sleep (preempted, or the vCPU
    /// stolen): at least what the rest of the machine made a firing late by.
    off_cpu: GapsJson,
    /// The shard threads' involuntary context switches; `null` when not measured.
    preemptions: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct GapsJson {
    /// The latest bucket any gap fell in, like `<5 ms`; `null` without gaps.
    worst_bucket: Option<String>,
    gaps_at_least_2ms: u64,
    buckets: Vec<GapBucketJson>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct GapBucketJson {
    /// `<1 ms` ... `<160 ms`, then `>=160 ms`.
    gap: String,
    gaps: u64,
}

impl From<&ProbeWindow> for TimerProbeJson {
    fn from(window: &ProbeWindow) -> Self {
        Self {
            firings: window.firings(),
            within_2ms_percent: window.percent_below(WITHIN_US[0]),
            within_10ms_percent: window.percent_below(WITHIN_US[1]),
            worst_bucket: worst_bucket(&window.buckets).map(bucket_label),
            skipped_periods: window.skipped_periods,
            buckets: labelled(&window.buckets, |lateness, firings| BucketJson {
                lateness,
                firings,
            }),
            // Half of the picture would prove nothing: both halves or neither.
            check_gaps: window
                .on_cpu_gaps
                .zip(window.off_cpu_gaps)
                .map(|(on_cpu, off_cpu)| CheckGapsJson {
                    on_cpu: GapsJson::from(&on_cpu),
                    off_cpu: GapsJson::from(&off_cpu),
                    preemptions: window.preemptions,
                }),
        }
    }
}

impl From<&Buckets> for GapsJson {
    fn from(buckets: &Buckets) -> Self {
        Self {
            worst_bucket: worst_bucket(buckets).map(bucket_label),
            gaps_at_least_2ms: count_at_least(buckets, LONG_GAP_US),
            buckets: labelled(buckets, |gap, gaps| GapBucketJson { gap, gaps }),
        }
    }
}

/// `buckets` as JSON objects, each made by `bucket` from its label and count.
fn labelled<T>(buckets: &Buckets, bucket: impl Fn(String, u64) -> T) -> Vec<T> {
    buckets
        .iter()
        .enumerate()
        .map(|(index, &count)| bucket(bucket_label(index), count))
        .collect()
}

/// A summary line (two with check gaps), then the buckets as a table (`align`ed by the
/// caller): the firings' row, and the check gaps' two.
pub(super) fn summary_and_rows(probe: &TimerProbeJson) -> (String, Vec<Vec<String>>) {
    let percent =
        |percent: Option<f64>| percent.map_or_else(|| "-".to_owned(), |p| format!("{p:.2}%"));
    let mut summary = format!(
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
    let mut rows = vec![lateness, firings];
    if let Some(gaps) = &probe.check_gaps {
        summary.push_str(&check_gaps_line(gaps));
        for (name, gaps) in [
            ("on-CPU gaps", &gaps.on_cpu),
            ("off-CPU gaps", &gaps.off_cpu),
        ] {
            let counts = gaps.buckets.iter().map(|bucket| bucket.gaps.to_string());
            rows.push(std::iter::once(name.to_owned()).chain(counts).collect());
        }
    }
    (summary, rows)
}

fn check_gaps_line(gaps: &CheckGapsJson) -> String {
    let worst = |gaps: &GapsJson| gaps.worst_bucket.clone().unwrap_or_else(|| "-".to_owned());
    let preemptions = gaps
        .preemptions
        .map_or_else(|| "-".to_owned(), |count| count.to_string());
    format!(
        "server loop between timer checks: own CPU worst {} ({} gaps >= 2 ms), \
         off its CPU {} gaps >= 2 ms (worst {}), {preemptions} preemptions\n",
        worst(&gaps.on_cpu),
        gaps.on_cpu.gaps_at_least_2ms,
        gaps.off_cpu.gaps_at_least_2ms,
        worst(&gaps.off_cpu),
    )
}
