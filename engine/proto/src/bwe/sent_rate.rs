//! What a viewer was sent lately, in bits per second, over back-to-back windows: the
//! evidence a receiver-report-only estimate is held to, since loss fractions say nothing
//! about rates the path was never shown.

use std::time::{Duration, Instant};

/// The rate is measured over windows this long.
pub const WINDOW: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
pub struct SentRate {
    window_start: Option<Instant>,
    window_bytes: u64,
    /// The rate of the last complete window.
    bps: Option<u64>,
}

impl SentRate {
    /// `size` bytes went out at `now`.
    pub fn record(&mut self, now: Instant, size: usize) {
        let start = *self.window_start.get_or_insert(now);
        let span = now.saturating_duration_since(start);
        if span >= WINDOW {
            // A quiet spell stretches the window, and the rate comes out low, as it was.
            self.bps = Some((self.window_bytes as f64 * 8.0 / span.as_secs_f64()) as u64);
            self.window_start = Some(now);
            self.window_bytes = 0;
        }
        self.window_bytes += size as u64;
    }

    /// The rate of the last complete window, once there was one.
    pub fn bps(&self) -> Option<u64> {
        self.bps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_complete_windows() {
        let start = Instant::now();
        let mut rate = SentRate::default();
        // 100 packets of 1250 bytes a second: 1 Mbps.
        for i in 0..100 {
            rate.record(start + Duration::from_millis(10 * i), 1250);
        }
        assert_eq!(rate.bps(), None, "the first window is not over");
        rate.record(start + WINDOW, 1250);
        assert_eq!(rate.bps(), Some(1_000_000));
        // Two seconds of silence, then a packet: the window over the gap is nearly empty.
        rate.record(start + WINDOW * 3, 1250);
        assert_eq!(rate.bps(), Some(5_000));
    }
}
