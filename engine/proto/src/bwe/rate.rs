//! AIMD rate control on the delay detector's verdict (GCC 5.5): on overuse, back off to 85%
//! of what the viewer has been receiving; while the path is normal, grow 8% a second, never
//! far past what actually got through (unless a floor, what the next simulcast layer up
//! needs, allows more); on underuse, hold while the queue drains.

use std::time::{Duration, Instant};

use super::delay::Usage;

const BACKOFF: f64 = 0.85;
const INCREASE_PER_SECOND: f64 = 1.08;
/// The estimate stays below this multiple of the received rate (plus a margin for audio).
const RECEIVED_HEADROOM: f64 = 1.5;
const RECEIVED_MARGIN_BPS: f64 = 10_000.0;
/// One backoff per this long, about a round trip: the queue needs time to empty.
const BACKOFF_INTERVAL: Duration = Duration::from_millis(200);
/// Longer gaps between updates do not count as more time spent growing.
const MAX_STEP: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub struct RateControl {
    rate_bps: f64,
    last_update: Option<Instant>,
    last_backoff: Option<Instant>,
    /// Growth may always reach this, whatever got through.
    floor_bps: f64,
}

impl RateControl {
    pub fn new(initial_bps: f64) -> Self {
        Self {
            rate_bps: initial_bps,
            last_update: None,
            last_backoff: None,
            floor_bps: 0.0,
        }
    }

    /// Lets growth reach `bps` however little got through, so a higher simulcast layer can
    /// be tried (its own delay shows if the path cannot carry it).
    pub fn set_floor(&mut self, bps: f64) {
        self.floor_bps = bps;
    }

    pub fn rate_bps(&self) -> f64 {
        self.rate_bps
    }

    /// Moves the rate by the detector's `usage` at `now`; `received_bps` is what the viewer
    /// got lately, when known.
    pub fn update(&mut self, now: Instant, usage: Usage, received_bps: Option<f64>) {
        let step = self
            .last_update
            .map_or(Duration::ZERO, |at| now.saturating_duration_since(at))
            .min(MAX_STEP);
        self.last_update = Some(now);
        match usage {
            Usage::Overuse => {
                let due = self
                    .last_backoff
                    .is_none_or(|at| now.saturating_duration_since(at) >= BACKOFF_INTERVAL);
                if due {
                    let base = received_bps.unwrap_or(self.rate_bps);
                    self.rate_bps = self.rate_bps.min(BACKOFF * base);
                    self.last_backoff = Some(now);
                }
            }
            Usage::Normal => {
                let grown = self.rate_bps * INCREASE_PER_SECOND.powf(step.as_secs_f64());
                let ceiling = received_bps
                    .map_or(f64::INFINITY, |r| {
                        RECEIVED_HEADROOM * r + RECEIVED_MARGIN_BPS
                    })
                    .max(self.floor_bps);
                // The ceiling stops growth; cutting the rate is a backoff's job.
                self.rate_bps = grown.min(ceiling.max(self.rate_bps));
            }
            Usage::Underuse => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    #[test]
    fn grows_eight_percent_a_second_while_normal() {
        let start = Instant::now();
        let mut rate = RateControl::new(1e6);
        for i in 0..=10 {
            rate.update(start + ms(100 * i), Usage::Normal, None);
        }
        assert!(
            (rate.rate_bps() - 1.08e6).abs() < 1.0,
            "{}",
            rate.rate_bps()
        );
    }

    #[test]
    fn growth_stops_at_the_received_ceiling() {
        let start = Instant::now();
        let mut rate = RateControl::new(1e6);
        for i in 0..=100 {
            rate.update(start + ms(100 * i), Usage::Normal, Some(1e6));
        }
        assert!(
            (rate.rate_bps() - 1.51e6).abs() < 1.0,
            "{}",
            rate.rate_bps()
        );
    }

    #[test]
    fn a_floor_lets_growth_pass_the_received_ceiling() {
        let start = Instant::now();
        let mut rate = RateControl::new(1e6);
        rate.set_floor(2e6);
        for i in 0..=200 {
            rate.update(start + ms(100 * i), Usage::Normal, Some(1e6));
        }
        assert!((rate.rate_bps() - 2e6).abs() < 1.0, "{}", rate.rate_bps());
    }

    #[test]
    fn overuse_backs_off_once_per_interval_and_underuse_holds() {
        let start = Instant::now();
        let mut rate = RateControl::new(2e6);
        rate.update(start, Usage::Overuse, Some(1e6));
        assert_eq!(rate.rate_bps(), 850_000.0);
        rate.update(start + ms(50), Usage::Overuse, Some(0.5e6));
        assert_eq!(rate.rate_bps(), 850_000.0, "too soon for another backoff");
        rate.update(start + ms(250), Usage::Underuse, Some(0.5e6));
        assert_eq!(rate.rate_bps(), 850_000.0);
        rate.update(start + ms(300), Usage::Overuse, Some(0.5e6));
        assert_eq!(rate.rate_bps(), 425_000.0);
    }
}
