//! The loss-based half of the estimate (GCC 6): heavy loss (over 10%) cuts the rate by half
//! the loss fraction, light loss (under 2%) lets it grow 8% a second, anything between holds.
//! Fed from transport-cc feedback or, without it, from receiver reports.

use std::time::{Duration, Instant};

const HIGH_LOSS: f64 = 0.10;
const LOW_LOSS: f64 = 0.02;
const INCREASE_PER_SECOND: f64 = 1.08;
/// One cut per this long: reports overlapping the same losses must not compound.
const CUT_INTERVAL: Duration = Duration::from_millis(300);
const MAX_STEP: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub struct LossControl {
    rate_bps: f64,
    last_update: Option<Instant>,
    last_cut: Option<Instant>,
}

impl LossControl {
    pub fn new(initial_bps: f64) -> Self {
        Self {
            rate_bps: initial_bps,
            last_update: None,
            last_cut: None,
        }
    }

    pub fn rate_bps(&self) -> f64 {
        self.rate_bps
    }

    /// `fraction` of the packets since the last update were lost (0.0 to 1.0).
    pub fn update(&mut self, now: Instant, fraction: f64) {
        let step = self
            .last_update
            .map_or(Duration::ZERO, |at| now.saturating_duration_since(at))
            .min(MAX_STEP);
        self.last_update = Some(now);
        if fraction > HIGH_LOSS {
            let due = self
                .last_cut
                .is_none_or(|at| now.saturating_duration_since(at) >= CUT_INTERVAL);
            if due {
                self.rate_bps *= 1.0 - 0.5 * fraction.min(1.0);
                self.last_cut = Some(now);
            }
        } else if fraction < LOW_LOSS {
            self.rate_bps *= INCREASE_PER_SECOND.powf(step.as_secs_f64());
        }
    }

    /// Keeps the loss-based rate within reach of the final estimate, so a long clean spell
    /// cannot leave it far above what the path was ever shown to carry.
    pub fn limit(&mut self, ceiling_bps: f64) {
        self.rate_bps = self.rate_bps.min(ceiling_bps);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    #[test]
    fn heavy_loss_cuts_light_loss_grows_between_holds() {
        let start = Instant::now();
        let mut loss = LossControl::new(1e6);
        loss.update(start, 0.2);
        assert_eq!(loss.rate_bps(), 900_000.0);
        loss.update(start + ms(100), 0.5);
        assert_eq!(loss.rate_bps(), 900_000.0, "cut again too soon");
        loss.update(start + ms(1100), 0.05);
        assert_eq!(loss.rate_bps(), 900_000.0);
        loss.update(start + ms(2100), 0.0);
        assert!(
            (loss.rate_bps() - 972_000.0).abs() < 1e-6,
            "{}",
            loss.rate_bps()
        );
        loss.limit(500_000.0);
        assert_eq!(loss.rate_bps(), 500_000.0);
    }
}
