//! At most one keyframe request to a publisher per interval, however many viewers ask.
//!
//! Every request made during the quiet period is folded into one that goes out when the
//! period ends, so a viewer asking just after a keyframe was requested still gets one
//! within the interval, and a thousand joining viewers cost the encoder one keyframe.

use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct KeyframeThrottle {
    interval: Duration,
    last_sent: Option<Instant>,
    pending: bool,
    coalesced: u64,
}

impl KeyframeThrottle {
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            last_sent: None,
            pending: false,
            coalesced: 0,
        }
    }

    /// A viewer wants a keyframe; true when the request should go to the publisher now.
    pub fn request(&mut self, now: Instant) -> bool {
        if self.is_quiet(now) {
            self.coalesced += self.pending as u64;
            self.pending = true;
            return false;
        }
        self.last_sent = Some(now);
        self.pending = false;
        true
    }

    /// True when a folded request is due now.
    pub fn handle_timeout(&mut self, now: Instant) -> bool {
        if self.pending && !self.is_quiet(now) {
            self.pending = false;
            self.last_sent = Some(now);
            return true;
        }
        false
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let last = self.last_sent?;
        self.pending.then(|| last + self.interval)
    }

    /// Requests absorbed without reaching the publisher.
    pub fn coalesced(&self) -> u64 {
        self.coalesced
    }

    fn is_quiet(&self, now: Instant) -> bool {
        self.last_sent
            .is_some_and(|last| now.saturating_duration_since(last) < self.interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_requests_in_one_interval_become_two_sends() {
        let t0 = Instant::now();
        let mut throttle = KeyframeThrottle::new(Duration::from_secs(1));
        let mut sent = 0;
        for i in 0..500u64 {
            let now = t0 + Duration::from_millis(i);
            if let Some(due) = throttle.poll_timeout()
                && due <= now
            {
                sent += throttle.handle_timeout(now) as u32;
            }
            sent += throttle.request(now) as u32;
        }
        assert_eq!(sent, 1);
        assert_eq!(throttle.poll_timeout(), Some(t0 + Duration::from_secs(1)));
        assert!(!throttle.handle_timeout(t0 + Duration::from_millis(999)));
        assert!(throttle.handle_timeout(t0 + Duration::from_secs(1)));
        assert_eq!(throttle.poll_timeout(), None);
        assert_eq!(throttle.coalesced(), 498);
    }

    #[test]
    fn requests_after_the_interval_go_straight_out() {
        let t0 = Instant::now();
        let mut throttle = KeyframeThrottle::new(Duration::from_secs(1));
        assert!(throttle.request(t0));
        assert!(throttle.request(t0 + Duration::from_millis(1000)));
        assert!(!throttle.request(t0 + Duration::from_millis(1500)));
        assert!(throttle.request(t0 + Duration::from_millis(2000)));
        assert_eq!(throttle.poll_timeout(), None);
    }
}
