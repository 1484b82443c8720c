//! The receive rate of one simulcast layer over the last second, in four buckets of a
//! quarter second each: adding a packet and reading the rate cost a few additions, never an
//! allocation.

use std::time::{Duration, Instant};

const BUCKETS: usize = 4;
const BUCKET: Duration = Duration::from_millis(250);

#[derive(Debug, Default)]
pub struct LayerRate {
    /// The first packet's arrival: bucket `n` covers `start + n * BUCKET` onwards.
    start: Option<Instant>,
    /// Bytes per bucket, and which bucket number each slot holds now (slot = number % 4).
    bytes: [u64; BUCKETS],
    numbers: [u64; BUCKETS],
}

impl LayerRate {
    /// Counts `bytes` (header and payload) received at `now`.
    pub fn add(&mut self, now: Instant, bytes: usize) {
        let start = *self.start.get_or_insert(now);
        let number = bucket_number(start, now);
        let slot = (number % BUCKETS as u64) as usize;
        if self.numbers[slot] != number {
            self.numbers[slot] = number;
            self.bytes[slot] = 0;
        }
        self.bytes[slot] += bytes as u64;
    }

    /// Bits per second over the last three buckets and the current one so far; 0 once the
    /// layer has been silent for a whole window.
    pub fn bits_per_second(&self, now: Instant) -> u32 {
        let Some(start) = self.start else {
            return 0;
        };
        let current = bucket_number(start, now);
        let oldest = current.saturating_sub(BUCKETS as u64 - 1);
        let bytes: u64 = (0..BUCKETS)
            .filter(|&slot| (oldest..=current).contains(&self.numbers[slot]))
            .map(|slot| self.bytes[slot])
            .sum();
        // The window runs from the oldest bucket's start (never before the first packet) to
        // now, so a steady stream reads its rate whatever the phase within a bucket.
        let window = now.saturating_duration_since(start) - BUCKET * oldest as u32;
        let micros = window.as_micros().max(1);
        let rate = u128::from(bytes) * 8 * 1_000_000 / micros;
        u32::try_from(rate).unwrap_or(u32::MAX)
    }
}

fn bucket_number(start: Instant, now: Instant) -> u64 {
    (now.saturating_duration_since(start).as_micros() / BUCKET.as_micros()) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `rate` bits per second as 1000-byte packets at even intervals for `duration` from
    /// `from`.
    fn feed(meter: &mut LayerRate, from: Instant, duration: Duration, rate: u64) -> Instant {
        let interval = Duration::from_micros(8_000 * 1_000_000 / rate);
        let mut now = from;
        while now < from + duration {
            meter.add(now, 1000);
            now += interval;
        }
        now
    }

    #[test]
    fn a_steady_stream_reads_its_rate_at_any_phase() {
        let t0 = Instant::now();
        for phase_ms in [0, 60, 130, 249] {
            let mut meter = LayerRate::default();
            let duration = Duration::from_millis(2000 + phase_ms);
            let end = feed(&mut meter, t0, duration, 800_000);
            let rate = meter.bits_per_second(end);
            assert!((760_000..=840_000).contains(&rate), "{phase_ms}: {rate}");
        }
    }

    #[test]
    fn silence_reads_zero_after_a_second_and_numbers_wrap_around_slots() {
        let t0 = Instant::now();
        let mut meter = LayerRate::default();
        assert_eq!(meter.bits_per_second(t0), 0);
        let end = feed(&mut meter, t0, Duration::from_secs(2), 400_000);
        assert!(meter.bits_per_second(end + Duration::from_millis(500)) > 100_000);
        assert_eq!(meter.bits_per_second(end + Duration::from_millis(1001)), 0);
        // Back after a long pause: old buckets in the same slots do not count.
        let back = end + Duration::from_secs(10);
        let end = feed(&mut meter, back, Duration::from_secs(2), 100_000);
        let rate = meter.bits_per_second(end);
        assert!((90_000..=110_000).contains(&rate), "{rate}");
    }
}
