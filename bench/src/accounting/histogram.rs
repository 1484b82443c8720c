//! Latency as a log-linear histogram: constant memory however many packets are measured,
//! and histograms of many viewers add up bucket by bucket.
//!
//! Values are microseconds. Below 32 µs every value has its own bucket; above, each power
//! of two is cut into 16 equal buckets, so a bucket is at most 1/16 of its lower bound wide.
//! A percentile is reported as its bucket's midpoint, off by at most 1/32 (about 3%) of the
//! true sample. Values from 2^28 µs (about 4.5 minutes) up share the top bucket.

use std::time::Duration;

use super::percentile::nearest_rank;

/// Buckets per power of two.
const SUB_BUCKETS: u64 = 16;
const SUB_BITS: u32 = SUB_BUCKETS.trailing_zeros();
/// The largest value with a bucket of its own, in microseconds.
const MAX_MICROS: u64 = (1 << 28) - 1;
const BUCKETS: usize = bucket_of(MAX_MICROS) + 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatencyHistogram {
    /// Empty until the first sample, so tracks without latency cost nothing.
    counts: Vec<u64>,
    total: u64,
    max: Duration,
}

/// The tail of a latency distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencyPercentiles {
    pub p50: Duration,
    pub p99: Duration,
    pub p999: Duration,
    pub max: Duration,
}

const fn bucket_of(micros: u64) -> usize {
    let micros = if micros > MAX_MICROS {
        MAX_MICROS
    } else {
        micros
    };
    if micros < 2 * SUB_BUCKETS {
        return micros as usize;
    }
    let shift = (u64::BITS - 1 - micros.leading_zeros()) - SUB_BITS;
    (shift as u64 * SUB_BUCKETS + (micros >> shift)) as usize
}

/// The middle of a bucket, in microseconds.
fn midpoint_of(bucket: usize) -> u64 {
    let bucket = bucket as u64;
    if bucket < 2 * SUB_BUCKETS {
        return bucket;
    }
    let shift = bucket / SUB_BUCKETS - 1;
    let mantissa = bucket - shift * SUB_BUCKETS;
    (mantissa << shift) + ((1 << shift) >> 1)
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self {
            counts: Vec::new(),
            total: 0,
            max: Duration::ZERO,
        }
    }
}

impl LatencyHistogram {
    pub fn record(&mut self, latency: Duration) {
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS];
        }
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.counts[bucket_of(micros)] += 1;
        self.total += 1;
        self.max = self.max.max(latency);
    }

    /// Adds another histogram's samples to this one.
    pub fn merge(&mut self, other: &Self) {
        if other.total == 0 {
            return;
        }
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS];
        }
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    pub fn samples(&self) -> u64 {
        self.total
    }

    /// The nearest-rank `percent`-th percentile, as its bucket's midpoint (never above the
    /// largest sample); `None` when empty.
    pub fn percentile(&self, percent: f64) -> Option<Duration> {
        if self.total == 0 {
            return None;
        }
        let rank = nearest_rank(percent, self.total);
        let mut seen = 0;
        let bucket = self.counts.iter().position(|&count| {
            seen += count;
            seen >= rank
        })?;
        Some(Duration::from_micros(midpoint_of(bucket)).min(self.max))
    }

    /// The cumulative distribution: for each bucket holding samples, in rising order, its
    /// value as [`percentile`](Self::percentile) reports it and the fraction of all samples
    /// at or below it. The last fraction is exactly 1.0; empty when there are no samples.
    pub fn cdf(&self) -> impl Iterator<Item = (Duration, f64)> + '_ {
        let total = self.total as f64;
        let mut seen = 0;
        self.counts
            .iter()
            .enumerate()
            .filter(|&(_, &count)| count > 0)
            .map(move |(bucket, &count)| {
                seen += count;
                let value = Duration::from_micros(midpoint_of(bucket)).min(self.max);
                (value, seen as f64 / total)
            })
    }

    pub fn percentiles(&self) -> Option<LatencyPercentiles> {
        Some(LatencyPercentiles {
            p50: self.percentile(50.0)?,
            p99: self.percentile(99.0)?,
            p999: self.percentile(99.9)?,
            max: self.max,
        })
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::super::percentile::percentile;
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_midpoints_fall_inside() {
        let mut previous = 0;
        for micros in 0..100_000u64 {
            let bucket = bucket_of(micros);
            assert!(bucket == previous || bucket == previous + 1, "at {micros}");
            previous = bucket;
            let error = midpoint_of(bucket).abs_diff(micros) as f64;
            assert!(
                error <= micros as f64 / 32.0 + 0.5,
                "{micros} -> {}",
                midpoint_of(bucket)
            );
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn percentiles_stay_within_the_documented_error_of_exact_ones() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut exact: Vec<u64> = (0..10_000)
            .map(|_| rng.random_range(1_000..400_000))
            .collect();
        let mut histogram = LatencyHistogram::default();
        let (mut even, mut odd) = (LatencyHistogram::default(), LatencyHistogram::default());
        for (i, &micros) in exact.iter().enumerate() {
            histogram.record(Duration::from_micros(micros));
            let half = if i % 2 == 0 { &mut even } else { &mut odd };
            half.record(Duration::from_micros(micros));
        }
        even.merge(&odd);
        assert_eq!(even, histogram, "merging is the same as recording together");
        exact.sort_unstable();
        for percent in [50.0, 99.0, 99.9] {
            let truth = percentile(&exact, percent).unwrap() as f64;
            let estimate = histogram.percentile(percent).unwrap().as_micros() as f64;
            assert!(
                (estimate - truth).abs() <= truth / 32.0,
                "p{percent}: {estimate} vs {truth}"
            );
        }
        let tail = histogram.percentiles().unwrap();
        assert_eq!(tail.max, Duration::from_micros(exact[exact.len() - 1]));
        assert_eq!(histogram.samples(), 10_000);
        assert_eq!(LatencyHistogram::default().percentiles(), None);
    }

    #[test]
    fn the_cdf_rises_to_one_through_the_percentiles() {
        let mut rng = StdRng::seed_from_u64(11);
        let mut histogram = LatencyHistogram::default();
        for _ in 0..1000 {
            histogram.record(Duration::from_micros(rng.random_range(500..250_000)));
        }
        let points: Vec<(Duration, f64)> = histogram.cdf().collect();
        assert!(points.len() > 10, "{} points", points.len());
        for pair in points.windows(2) {
            assert!(pair[0].0 < pair[1].0, "values rise: {pair:?}");
            assert!(pair[0].1 < pair[1].1, "fractions rise: {pair:?}");
        }
        assert_eq!(points.last().map(|&(_, fraction)| fraction), Some(1.0));
        let last = points.last().map(|&(value, _)| value);
        assert_eq!(
            last,
            histogram.percentile(100.0),
            "the largest sample's bucket"
        );
        for percent in [1.0, 50.0, 90.0, 99.0, 99.9] {
            let first_reaching = points
                .iter()
                .find(|&&(_, fraction)| fraction >= percent / 100.0 - 1e-12)
                .map(|&(value, _)| value);
            assert_eq!(first_reaching, histogram.percentile(percent), "p{percent}");
        }
        assert_eq!(LatencyHistogram::default().cdf().count(), 0);
    }
}
