//! The server's own view of its timers, from its Prometheus `/metrics` page: the lateness
//! histogram of each shard's periodic probe timer (`timer="probe"`) and the probe periods it
//! skipped. Two scrapes bracket the steady window; [`ProbeWindow::between`] is what happened
//! in between, added up over the shards.
//!
//! Only what shardcast-signaling writes is understood: the bucket bounds are the engine's
//! ([`LATENESS_BOUNDS_US`]), and a page without the probe histogram is an error rather than
//! an empty window.

use std::time::Duration;

use shardcast_control::{LATENESS_BOUNDS_US, LATENESS_BUCKETS};

use crate::whip_client::{self, ClientTls, WhipError};

const BUCKET: &str = "shardcast_timer_lateness_seconds_bucket";
const SKIPPED: &str = "shardcast_timer_probe_skipped_periods_total";

/// How long one scrape may take.
pub const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("cannot scrape the metrics: {0}")]
    Scrape(#[from] WhipError),
    #[error("the metrics page is not understood: line {line}: {problem}")]
    Parse { line: usize, problem: &'static str },
    #[error(
        "the metrics page has no complete probe histogram (shardcast_timer_lateness_seconds, timer=\"probe\")"
    )]
    NoProbe,
    #[error("the probe counters went backwards between the scrapes: did the engine restart?")]
    WentBackwards,
}

/// The probe's figures at one scrape, added up over the shards, since each shard started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProbeScrape {
    /// Firings per bucket (not cumulative): < 1, < 2 ... < 160 ms, then >= 160 ms.
    pub buckets: [u64; LATENESS_BUCKETS],
    pub skipped_periods: u64,
}

/// What the probe did between two scrapes, all shards together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProbeWindow {
    /// Firings per bucket, as in [`ProbeScrape`].
    pub buckets: [u64; LATENESS_BUCKETS],
    /// Deadlines passed over because a shard was a period or more behind: firings that never
    /// happened, so not in `buckets`.
    pub skipped_periods: u64,
}

/// GETs the page at `url` and reads the probe's figures from it.
pub fn scrape(
    url: &str,
    token: Option<&str>,
    tls: &ClientTls,
) -> Result<ProbeScrape, MetricsError> {
    let text = whip_client::get_text(url, token, SCRAPE_TIMEOUT, tls)?;
    parse_probe(&text)
}

/// The probe's figures in an exposition (text format 0.0.4), summed over the shards.
pub fn parse_probe(text: &str) -> Result<ProbeScrape, MetricsError> {
    // Summed cumulative counts are the cumulative counts of the sum.
    let mut cumulative: [Option<u64>; LATENESS_BUCKETS] = [None; LATENESS_BUCKETS];
    let mut skipped_periods = 0u64;
    for (index, line) in text.lines().enumerate() {
        let parse_error = |problem| MetricsError::Parse {
            line: index + 1,
            problem,
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let sample = Sample::parse(line).map_err(parse_error)?;
        if sample.name == SKIPPED {
            skipped_periods = skipped_periods.saturating_add(sample.count().map_err(parse_error)?);
        } else if sample.name == BUCKET && sample.label("timer") == Some("probe") {
            let le = sample
                .label("le")
                .ok_or("a bucket without le")
                .map_err(parse_error)?;
            let bucket = bucket_of(le)
                .ok_or("an le that is not the engine's")
                .map_err(parse_error)?;
            let count = sample.count().map_err(parse_error)?;
            let total = cumulative[bucket].get_or_insert(0);
            *total = total.saturating_add(count);
        }
    }
    let mut buckets = [0; LATENESS_BUCKETS];
    let mut below = 0;
    for (bucket, total) in buckets.iter_mut().zip(cumulative) {
        let total = total.ok_or(MetricsError::NoProbe)?;
        *bucket = total.checked_sub(below).ok_or(MetricsError::NoProbe)?;
        below = total;
    }
    Ok(ProbeScrape {
        buckets,
        skipped_periods,
    })
}

/// The bucket whose upper bound `le` is, in seconds; `+Inf` is the last.
fn bucket_of(le: &str) -> Option<usize> {
    if le == "+Inf" {
        return Some(LATENESS_BOUNDS_US.len());
    }
    let seconds: f64 = le.parse().ok()?;
    let micros = (seconds * 1e6).round();
    if !(micros.is_finite() && micros >= 0.0) {
        return None;
    }
    LATENESS_BOUNDS_US
        .iter()
        .position(|&bound| bound == micros as u64)
}

/// A sample's labels: (name, unescaped value).
type Labels<'a> = Vec<(&'a str, String)>;

/// One sample line: `name{label="value",...} value [timestamp]`.
struct Sample<'a> {
    name: &'a str,
    labels: Labels<'a>,
    value: &'a str,
}

impl<'a> Sample<'a> {
    fn parse(line: &'a str) -> Result<Self, &'static str> {
        let name_end = line
            .find(['{', ' ', '\t'])
            .ok_or("a sample without a value")?;
        let name = &line[..name_end];
        let mut rest = &line[name_end..];
        let mut labels = Vec::new();
        if let Some(inside) = rest.strip_prefix('{') {
            let (parsed, after) = parse_labels(inside)?;
            labels = parsed;
            rest = after;
        }
        let value = rest
            .split_whitespace()
            .next()
            .ok_or("a sample without a value")?;
        Ok(Self {
            name,
            labels,
            value,
        })
    }

    fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(label, _)| *label == name)
            .map(|(_, value)| value.as_str())
    }

    /// The value as a count: a whole number, though the format writes any float.
    fn count(&self) -> Result<u64, &'static str> {
        let value: f64 = self
            .value
            .parse()
            .map_err(|_| "a value that is not a number")?;
        if value.is_finite() && value >= 0.0 && value.fract() == 0.0 {
            Ok(value as u64)
        } else {
            Err("a count that is not a whole number")
        }
    }
}

/// `key="value",...}` up to and including the closing brace; returns the labels and the
/// rest of the line. Values may hold `\\`, `\"` and `\n`.
fn parse_labels(text: &str) -> Result<(Labels<'_>, &str), &'static str> {
    let mut labels = Vec::new();
    let mut rest = text.trim_start();
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        let (key, after) = rest.split_once('=').ok_or("a label without =")?;
        let after = after
            .strip_prefix('"')
            .ok_or("a label value without quotes")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars
                .next()
                .ok_or("a label value without its closing quote")?
            {
                (at, '"') => break at,
                (_, '\\') => match chars.next().ok_or("a label value ends in a backslash")?.1 {
                    'n' => value.push('\n'),
                    escaped => value.push(escaped),
                },
                (_, other) => value.push(other),
            }
        };
        labels.push((key.trim(), value));
        rest = after[end + 1..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
}

impl ProbeWindow {
    /// The difference between a scrape at the start of the window and one at its end.
    pub fn between(first: &ProbeScrape, last: &ProbeScrape) -> Result<Self, MetricsError> {
        let mut buckets = [0; LATENESS_BUCKETS];
        for (bucket, (first, last)) in buckets
            .iter_mut()
            .zip(first.buckets.iter().zip(&last.buckets))
        {
            *bucket = last
                .checked_sub(*first)
                .ok_or(MetricsError::WentBackwards)?;
        }
        Ok(Self {
            buckets,
            skipped_periods: last
                .skipped_periods
                .checked_sub(first.skipped_periods)
                .ok_or(MetricsError::WentBackwards)?,
        })
    }

    pub fn firings(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// The share of firings less than `bound_us` late, in percent; `bound_us` is one of
    /// [`LATENESS_BOUNDS_US`]. `None` without firings.
    pub fn percent_below(&self, bound_us: u64) -> Option<f64> {
        let firings = self.firings();
        let below: u64 = LATENESS_BOUNDS_US
            .iter()
            .zip(&self.buckets)
            .filter(|(bound, _)| **bound <= bound_us)
            .map(|(_, count)| count)
            .sum();
        (firings > 0).then(|| below as f64 * 100.0 / firings as f64)
    }

    /// The latest bucket any firing fell in.
    pub fn worst_bucket(&self) -> Option<usize> {
        self.buckets.iter().rposition(|&count| count > 0)
    }
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
