//! Freezes as a viewer sees them: no new complete frame for longer than a threshold.

use std::time::{Duration, Instant};

#[derive(Debug)]
pub(crate) struct FreezeDetector {
    threshold: Duration,
    last_frame: Option<Instant>,
}

impl FreezeDetector {
    pub fn new(threshold: Duration) -> Self {
        Self {
            threshold,
            last_frame: None,
        }
    }

    /// A new frame became complete; returns the freeze it ends, if the wait was one.
    pub fn on_frame(&mut self, now: Instant) -> Option<Duration> {
        let freeze = self.ongoing(now);
        self.last_frame = Some(now);
        freeze
    }

    /// The freeze in progress at `now`, if any (none before the first frame).
    pub fn ongoing(&self, now: Instant) -> Option<Duration> {
        let waited = now.saturating_duration_since(self.last_frame?);
        (waited > self.threshold).then_some(waited)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_waits_longer_than_the_threshold_are_freezes() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut detector = FreezeDetector::new(ms(200));
        assert_eq!(detector.on_frame(t0), None, "the first frame ends nothing");
        assert_eq!(
            detector.on_frame(t0 + ms(200)),
            None,
            "exactly the threshold"
        );
        assert_eq!(detector.ongoing(t0 + ms(450)), Some(ms(250)));
        assert_eq!(detector.on_frame(t0 + ms(450)), Some(ms(250)));
        assert_eq!(detector.ongoing(t0 + ms(460)), None);
    }
}
