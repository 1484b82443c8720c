//! Reading the Prometheus text format (0.0.4) as far as shardcast-signaling writes it: sample
//! lines with labels, then the engine's per-shard histograms and counters summed over the
//! shards.

use shardcast_control::{LATENESS_BOUNDS_US, LATENESS_BUCKETS};

use super::{Buckets, Histogram, MetricsError};

/// The page's samples in order, comments and blank lines left out.
pub(super) fn samples(text: &str) -> Result<Vec<Sample<'_>>, MetricsError> {
    text.lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim()))
        .filter(|(_, line)| !(line.is_empty() || line.starts_with('#')))
        .map(|(line, text)| {
            Sample::parse(line, text).map_err(|problem| MetricsError::Parse { line, problem })
        })
        .collect()
}

/// `histogram`'s series (one per shard) made per-bucket and added up; `None` when the page
/// has no bucket of it. Each series is checked on its own, so one shard missing a bucket is
/// not hidden by the others' counts.
pub(super) fn histogram(
    samples: &[Sample<'_>],
    histogram: Histogram,
) -> Result<Option<Buckets>, MetricsError> {
    type Series<'s> = (Vec<(&'s str, &'s str)>, [Option<u64>; LATENESS_BUCKETS]);
    let mut series: Vec<Series<'_>> = Vec::new();
    let wanted = |sample: &&Sample<'_>| {
        sample.name.strip_suffix("_bucket") == Some(histogram.name)
            && sample.label(histogram.label) == Some(histogram.value)
    };
    for sample in samples.iter().filter(wanted) {
        let le = sample
            .label("le")
            .ok_or_else(|| sample.error("a bucket without le"))?;
        let bucket = bucket_of(le).ok_or_else(|| sample.error("an le that is not the engine's"))?;
        let count = sample.count()?;
        let key = sample.series();
        let index = match series.iter().position(|(other, _)| *other == key) {
            Some(index) => index,
            None => {
                series.push((key, [None; LATENESS_BUCKETS]));
                series.len() - 1
            }
        };
        let slot = &mut series[index].1[bucket];
        if slot.replace(count).is_some() {
            return Err(sample.error("a bucket written twice"));
        }
    }
    if series.is_empty() {
        return Ok(None);
    }
    let incomplete = || MetricsError::Incomplete(histogram);
    let mut sum = [0u64; LATENESS_BUCKETS];
    for (_, cumulative) in series {
        let mut below = 0;
        for (total, count) in sum.iter_mut().zip(cumulative) {
            let count = count.ok_or_else(incomplete)?;
            let within = count.checked_sub(below).ok_or_else(incomplete)?;
            *total = total.saturating_add(within);
            below = count;
        }
    }
    Ok(Some(sum))
}

/// Counter `name` added up over its series; `None` when the page has no sample of it.
pub(super) fn counter(samples: &[Sample<'_>], name: &str) -> Result<Option<u64>, MetricsError> {
    samples
        .iter()
        .filter(|sample| sample.name == name)
        .try_fold(None, |total: Option<u64>, sample| {
            Ok(Some(total.unwrap_or(0).saturating_add(sample.count()?)))
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
pub(super) struct Sample<'a> {
    /// Its line number on the page, for errors found after parsing.
    line: usize,
    name: &'a str,
    labels: Labels<'a>,
    value: &'a str,
}

impl<'a> Sample<'a> {
    /// Parses `text`, line `line` of the page.
    pub(super) fn parse(line: usize, text: &'a str) -> Result<Self, &'static str> {
        let name_end = text
            .find(['{', ' ', '\t'])
            .ok_or("a sample without a value")?;
        let name = &text[..name_end];
        let mut rest = &text[name_end..];
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
            line,
            name,
            labels,
            value,
        })
    }

    pub(super) fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(label, _)| *label == name)
            .map(|(_, value)| value.as_str())
    }

    /// The labels naming the series a bucket belongs to: all but `le`, in a fixed order.
    fn series(&self) -> Vec<(&str, &str)> {
        let mut labels: Vec<_> = self
            .labels
            .iter()
            .filter(|(label, _)| *label != "le")
            .map(|(label, value)| (*label, value.as_str()))
            .collect();
        labels.sort_unstable();
        labels
    }

    /// The value as a count: a whole number, though the format writes any float.
    fn count(&self) -> Result<u64, MetricsError> {
        let value: f64 = self
            .value
            .parse()
            .map_err(|_| self.error("a value that is not a number"))?;
        if value.is_finite() && value >= 0.0 && value.fract() == 0.0 {
            Ok(value as u64)
        } else {
            Err(self.error("a count that is not a whole number"))
        }
    }

    fn error(&self, problem: &'static str) -> MetricsError {
        MetricsError::Parse {
            line: self.line,
            problem,
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
