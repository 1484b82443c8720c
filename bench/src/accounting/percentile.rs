//! Exact percentiles by the nearest-rank method: the p-th percentile of n sorted samples is
//! the sample at rank ceil(p/100 * n), so it is always a value that was actually observed.

/// The middle, the tail and the worst of a set of samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spread<T> {
    pub p50: T,
    pub p99: T,
    pub max: T,
}

/// The nearest-rank `percent`-th percentile of `sorted` (ascending); `None` when empty.
pub fn percentile<T: Copy>(sorted: &[T], percent: f64) -> Option<T> {
    let rank = nearest_rank(percent, sorted.len() as u64);
    sorted.get(rank.saturating_sub(1) as usize).copied()
}

/// The 1-based rank of the `percent`-th percentile among `count` samples (0 when there are
/// none). The percent is taken in parts per million first, so that 99.9% of 1000 is rank
/// 999 and not 1000 through binary rounding.
pub(crate) fn nearest_rank(percent: f64, count: u64) -> u64 {
    let ppm = (percent.clamp(0.0, 100.0) * 10_000.0).round() as u128;
    let rank = (ppm * u128::from(count)).div_ceil(1_000_000);
    (rank as u64).clamp(count.min(1), count)
}

impl<T: Copy + Ord> Spread<T> {
    /// The spread of `samples` in any order; `None` when there are none.
    pub fn of(samples: &[T]) -> Option<Self> {
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        Some(Self {
            p50: percentile(&sorted, 50.0)?,
            p99: percentile(&sorted, 99.0)?,
            max: *sorted.last()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_on_known_data() {
        let one_to_hundred: Vec<u32> = (1..=100).rev().collect();
        let spread = Spread::of(&one_to_hundred).unwrap();
        assert_eq!(
            spread,
            Spread {
                p50: 50,
                p99: 99,
                max: 100
            }
        );

        let thousand: Vec<u32> = (1..=1000).collect();
        assert_eq!(percentile(&thousand, 99.9), Some(999));
        assert_eq!(percentile(&thousand, 100.0), Some(1000));
        assert_eq!(percentile(&thousand, 0.0), Some(1), "rank is at least one");

        assert_eq!(
            Spread::of(&[7u32]),
            Some(Spread {
                p50: 7,
                p99: 7,
                max: 7
            })
        );
        assert_eq!(percentile::<u32>(&[], 50.0), None);
        assert_eq!(Spread::<u32>::of(&[]), None);
    }
}
