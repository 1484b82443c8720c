//! Receive bitrate over a sliding window, kept in fixed slots so memory does not grow with
//! the packet rate. The window slides by a tenth of its length, and only whole slots count:
//! the rate at `now` is that of the last whole window before the slot `now` falls in.

use std::time::{Duration, Instant};

/// Slots per window.
const WINDOW_SLOTS: u64 = 10;
/// The window's slots plus the one being filled.
const SLOTS: usize = WINDOW_SLOTS as usize + 1;

#[derive(Debug)]
pub(crate) struct BitrateMeter {
    slot_len: Duration,
    origin: Option<Instant>,
    /// The index (slots since `origin`) of the newest slot written.
    current: u64,
    bytes: [u64; SLOTS],
}

impl BitrateMeter {
    pub fn new(window: Duration) -> Self {
        Self {
            slot_len: (window / WINDOW_SLOTS as u32).max(Duration::from_millis(1)),
            origin: None,
            current: 0,
            bytes: [0; SLOTS],
        }
    }

    pub fn on_bytes(&mut self, now: Instant, bytes: usize) {
        let origin = *self.origin.get_or_insert(now);
        let index = self.index(origin, now);
        if index > self.current {
            for stale in self.current + 1..=index.min(self.current + SLOTS as u64) {
                self.bytes[stale as usize % SLOTS] = 0;
            }
            self.current = index;
        }
        if index + (SLOTS as u64) > self.current {
            self.bytes[index as usize % SLOTS] += bytes as u64;
        }
    }

    /// Bits per second over the whole slots of the window before `now` (fewer right after
    /// the first packet).
    pub fn bits_per_second(&self, now: Instant) -> u64 {
        let Some(origin) = self.origin else {
            return 0;
        };
        let index = self.index(origin, now);
        let oldest_kept = (self.current + 1).saturating_sub(SLOTS as u64);
        let first = index.saturating_sub(WINDOW_SLOTS).max(oldest_kept);
        if first >= index {
            return 0;
        }
        let bytes: u64 = (first..index)
            .filter(|&slot| slot <= self.current)
            .map(|slot| self.bytes[slot as usize % SLOTS])
            .sum();
        let span = self.slot_len * (index - first) as u32;
        (u128::from(bytes) * 8 * 1_000_000 / span.as_micros().max(1)) as u64
    }

    fn index(&self, origin: Instant, now: Instant) -> u64 {
        (now.saturating_duration_since(origin).as_nanos() / self.slot_len.as_nanos()) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steady_stream_reads_its_rate_and_silence_decays_to_zero() {
        let t0 = Instant::now();
        let mut meter = BitrateMeter::new(Duration::from_secs(1));
        assert_eq!(meter.bits_per_second(t0), 0);
        // 1250 bytes every 10 ms: one megabit per second.
        for i in 0..300u32 {
            meter.on_bytes(t0 + Duration::from_millis(10) * i, 1250);
        }
        let end = t0 + Duration::from_secs(3);
        assert_eq!(meter.bits_per_second(end), 1_000_000);
        assert_eq!(
            meter.bits_per_second(end + Duration::from_millis(500)),
            500_000
        );
        assert_eq!(meter.bits_per_second(end + Duration::from_secs(5)), 0);
        meter.on_bytes(end + Duration::from_secs(5), 1000);
        assert_eq!(
            meter.bits_per_second(end + Duration::from_millis(5100)),
            8_000
        );
    }

    #[test]
    fn the_first_partial_window_is_averaged_over_its_length() {
        let t0 = Instant::now();
        let mut meter = BitrateMeter::new(Duration::from_secs(1));
        meter.on_bytes(t0, 1000);
        meter.on_bytes(t0 + Duration::from_millis(150), 1000);
        assert_eq!(meter.bits_per_second(t0 + Duration::from_millis(99)), 0);
        assert_eq!(
            meter.bits_per_second(t0 + Duration::from_millis(200)),
            80_000
        );
    }
}
