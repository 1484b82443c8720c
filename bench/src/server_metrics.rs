//! The server's own view of its timers, from its Prometheus `/metrics` page: the lateness
//! histogram of each shard's periodic probe timer (`timer="probe"`), the probe periods it
//! skipped, and, from engines that measure them, what the shard loops did between two timer
//! checks (their own CPU time, their time off the CPU) and how often they were preempted.
//! Two scrapes bracket the steady window; [`ProbeWindow::between`] is what happened in
//! between, added up over the shards.
//!
//! Only what shardcast-signaling writes is understood: the bucket bounds are the engine's
//! ([`LATENESS_BOUNDS_US`]), and a page without the probe histogram is an error rather than
//! an empty window.

use std::fmt;
use std::time::Duration;

use shardcast_control::{LATENESS_BOUNDS_US, LATENESS_BUCKETS};

use crate::whip_client::{self, ClientTls, WhipError};

mod exposition;

/// Counts per bucket of the engine's lateness bounds (not cumulative): < 1, < 2 ... < 160 ms,
/// then >= 160 ms.
pub type Buckets = [u64; LATENESS_BUCKETS];

/// A per-shard histogram with the engine's lateness bounds, and the label that picks one of
/// its kinds out in every shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Histogram {
    name: &'static str,
    label: &'static str,
    value: &'static str,
}

impl fmt::Display for Histogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, {}=\"{}\"", self.name, self.label, self.value)
    }
}

const PROBE: Histogram = Histogram {
    name: "shardcast_timer_lateness_seconds",
    label: "timer",
    value: "probe",
};
const ON_CPU_GAPS: Histogram = Histogram {
    name: "shardcast_timer_check_gap_seconds",
    label: "time",
    value: "on_cpu",
};
const OFF_CPU_GAPS: Histogram = Histogram {
    value: "off_cpu",
    ..ON_CPU_GAPS
};
const SKIPPED: &str = "shardcast_timer_probe_skipped_periods_total";
const PREEMPTIONS: &str = "shardcast_shard_preemptions_total";

/// How long one scrape may take.
pub const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("cannot scrape the metrics: {0}")]
    Scrape(#[from] WhipError),
    #[error("the metrics page is not understood: line {line}: {problem}")]
    Parse { line: usize, problem: &'static str },
    #[error("the metrics page has no probe histogram ({})", PROBE)]
    NoProbe,
    #[error(
        "the metrics page has an incomplete histogram ({0}): a bucket missing, or counts that fall"
    )]
    Incomplete(Histogram),
    #[error("the timer counters went backwards between the scrapes: did the engine restart?")]
    WentBackwards,
}

/// The shards' timer figures at one scrape, added up over the shards, since each shard
/// started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProbeScrape {
    /// Probe firings per bucket of lateness.
    pub buckets: Buckets,
    pub skipped_periods: u64,
    /// Between two timer checks of a shard's loop, the shard thread's own CPU time: at most
    /// what its own work can make a timer late by. `None` from an engine that does not
    /// measure it, as for the two below.
    pub on_cpu_gaps: Option<Buckets>,
    /// Between two timer checks, the time the shard was off its CPU though it had not asked
    /// to sleep (preempted, or its vCPU stolen): at least what that made a timer late by.
    pub off_cpu_gaps: Option<Buckets>,
    /// The shard threads' involuntary context switches.
    pub preemptions: Option<u64>,
}

/// What the shards' timers did between two scrapes, all shards together; each figure as in
/// [`ProbeScrape`], `None` unless both scrapes have it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProbeWindow {
    pub buckets: Buckets,
    /// Deadlines passed over because a shard was a period or more behind: firings that never
    /// happened, so not in `buckets`.
    pub skipped_periods: u64,
    pub on_cpu_gaps: Option<Buckets>,
    pub off_cpu_gaps: Option<Buckets>,
    pub preemptions: Option<u64>,
}

/// GETs the page at `url` and reads the timer figures from it.
pub fn scrape(
    url: &str,
    token: Option<&str>,
    tls: &ClientTls,
) -> Result<ProbeScrape, MetricsError> {
    let text = whip_client::get_text(url, token, SCRAPE_TIMEOUT, tls)?;
    parse_probe(&text)
}

/// The timer figures in an exposition (text format 0.0.4), summed over the shards.
pub fn parse_probe(text: &str) -> Result<ProbeScrape, MetricsError> {
    let samples = exposition::samples(text)?;
    let probe = exposition::histogram(&samples, PROBE)?;
    Ok(ProbeScrape {
        skipped_periods: exposition::counter(&samples, SKIPPED)?.unwrap_or(0),
        on_cpu_gaps: exposition::histogram(&samples, ON_CPU_GAPS)?,
        off_cpu_gaps: exposition::histogram(&samples, OFF_CPU_GAPS)?,
        preemptions: exposition::counter(&samples, PREEMPTIONS)?,
        // Last, so that a line not understood is named rather than the probe called missing.
        buckets: probe.ok_or(MetricsError::NoProbe)?,
    })
}

impl ProbeWindow {
    /// The difference between a scrape at the start of the window and one at its end.
    pub fn between(first: &ProbeScrape, last: &ProbeScrape) -> Result<Self, MetricsError> {
        Ok(Self {
            buckets: bucket_difference(first.buckets, last.buckets)?,
            skipped_periods: difference(first.skipped_periods, last.skipped_periods)?,
            on_cpu_gaps: both(first.on_cpu_gaps, last.on_cpu_gaps, bucket_difference)?,
            off_cpu_gaps: both(first.off_cpu_gaps, last.off_cpu_gaps, bucket_difference)?,
            preemptions: both(first.preemptions, last.preemptions, difference)?,
        })
    }

    pub fn firings(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// The share of firings less than `bound_us` late, in percent; `bound_us` is one of
    /// [`LATENESS_BOUNDS_US`]. `None` without firings.
    pub fn percent_below(&self, bound_us: u64) -> Option<f64> {
        let firings = self.firings();
        let below = count_below(&self.buckets, bound_us);
        (firings > 0).then(|| below as f64 * 100.0 / firings as f64)
    }
}

fn difference(first: u64, last: u64) -> Result<u64, MetricsError> {
    last.checked_sub(first).ok_or(MetricsError::WentBackwards)
}

fn bucket_difference(first: Buckets, last: Buckets) -> Result<Buckets, MetricsError> {
    let mut buckets = [0; LATENESS_BUCKETS];
    for (bucket, (first, last)) in buckets.iter_mut().zip(first.into_iter().zip(last)) {
        *bucket = difference(first, last)?;
    }
    Ok(buckets)
}

/// `difference` of a figure only some engines write: `None` unless both scrapes have it.
fn both<T>(
    first: Option<T>,
    last: Option<T>,
    difference: fn(T, T) -> Result<T, MetricsError>,
) -> Result<Option<T>, MetricsError> {
    first
        .zip(last)
        .map(|(first, last)| difference(first, last))
        .transpose()
}

/// The counts in buckets wholly below `bound_us`, one of [`LATENESS_BOUNDS_US`].
fn count_below(buckets: &Buckets, bound_us: u64) -> u64 {
    LATENESS_BOUNDS_US
        .iter()
        .zip(buckets)
        .filter(|(bound, _)| **bound <= bound_us)
        .map(|(_, count)| count)
        .sum()
}

/// The counts at or above `bound_us`, one of [`LATENESS_BOUNDS_US`].
pub fn count_at_least(buckets: &Buckets, bound_us: u64) -> u64 {
    buckets.iter().sum::<u64>() - count_below(buckets, bound_us)
}

/// The latest bucket with a count in it.
pub fn worst_bucket(buckets: &Buckets) -> Option<usize> {
    buckets.iter().rposition(|&count| count > 0)
}

/// A bucket's name: `<2 ms`, or `>=160 ms` for the last.
pub fn bucket_label(bucket: usize) -> String {
    match LATENESS_BOUNDS_US.get(bucket) {
        Some(bound) => format!("<{} ms", bound / 1000),
        None => format!(
            ">={} ms",
            LATENESS_BOUNDS_US[LATENESS_BOUNDS_US.len() - 1] / 1000
        ),
    }
}

#[cfg(test)]
mod tests;
