//! How late timers fire: a fixed histogram of `now - deadline` over every firing.
//!
//! The buckets are coarse on purpose (< 1, < 2, < 5 ... < 160 ms, then the rest): what
//! matters is whether a 20 ms media timer holds to a millisecond or two, and when it does
//! not, by roughly how much. Recording is a few comparisons and adds, cheap enough for every
//! firing of every session.

use std::time::Duration;

use shardcast_control::{LATENESS_BOUNDS_US, LATENESS_BUCKETS, LatenessHistogram};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimerLateness {
    buckets: [u64; LATENESS_BUCKETS],
    firings: u64,
    sum_us: u64,
    max: Duration,
}

impl TimerLateness {
    /// Counts one firing that came `lateness` after its deadline.
    pub fn record(&mut self, lateness: Duration) {
        let bucket = LATENESS_BOUNDS_US
            .iter()
            .position(|&bound| lateness < Duration::from_micros(bound))
            .unwrap_or(LATENESS_BOUNDS_US.len());
        self.buckets[bucket] += 1;
        self.firings += 1;
        let micros = u64::try_from(lateness.as_micros()).unwrap_or(u64::MAX);
        self.sum_us = self.sum_us.saturating_add(micros);
        self.max = self.max.max(lateness);
    }

    /// The figures as the control protocol carries them.
    pub fn snapshot(&self) -> LatenessHistogram {
        LatenessHistogram {
            buckets: self.buckets,
            firings: self.firings,
            sum_us: self.sum_us,
            max_us: u64::try_from(self.max.as_micros()).unwrap_or(u64::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket_of(lateness: Duration) -> usize {
        let mut histogram = TimerLateness::default();
        histogram.record(lateness);
        let buckets = histogram.snapshot().buckets;
        assert_eq!(buckets.iter().sum::<u64>(), 1);
        buckets.iter().position(|&count| count == 1).unwrap()
    }

    #[test]
    fn each_bound_belongs_to_the_bucket_above_it() {
        let us = Duration::from_micros;
        let ms = Duration::from_millis;
        assert_eq!(bucket_of(Duration::ZERO), 0);
        assert_eq!(bucket_of(us(999)), 0);
        assert_eq!(bucket_of(ms(1) - Duration::from_nanos(1)), 0);
        assert_eq!(bucket_of(ms(1)), 1);
        assert_eq!(bucket_of(us(1_999)), 1);
        assert_eq!(bucket_of(ms(2)), 2);
        assert_eq!(bucket_of(us(9_999)), 3);
        assert_eq!(bucket_of(ms(10)), 4);
        assert_eq!(bucket_of(ms(159)), 7);
        assert_eq!(bucket_of(ms(160)), 8);
        assert_eq!(bucket_of(Duration::from_secs(3600)), 8);
    }

    #[test]
    fn firings_sum_and_max_add_up() {
        let mut histogram = TimerLateness::default();
        for micros in [0, 500, 1_500, 25_000, 400_000] {
            histogram.record(Duration::from_micros(micros));
        }
        let snapshot = histogram.snapshot();
        assert_eq!(snapshot.buckets, [2, 1, 0, 0, 0, 1, 0, 0, 1]);
        assert_eq!(snapshot.firings, 5);
        assert_eq!(snapshot.sum_us, 427_000);
        assert_eq!(snapshot.max_us, 400_000);
    }
}
