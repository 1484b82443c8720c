//! Consent freshness from the lite side (RFC 7675).
//!
//! A full agent re-checks its selected pair every few seconds and stops sending once 30 s
//! pass without a successful check. We are lite and send no checks, so we observe the
//! peer's: consent lasts until `timeout` after the last authentic check, or after creation
//! for a peer that never got one through.

use std::time::{Duration, Instant};

pub(super) struct Consent {
    timeout: Duration,
    /// `None` once consent has expired; it never comes back.
    expires_at: Option<Instant>,
}

impl Consent {
    pub(super) fn new(now: Instant, timeout: Duration) -> Self {
        Self {
            timeout,
            expires_at: Some(now + timeout),
        }
    }

    /// An authentic check arrived. Does nothing once expired.
    pub(super) fn refresh(&mut self, now: Instant) {
        if let Some(expires_at) = &mut self.expires_at {
            *expires_at = (*expires_at).max(now + self.timeout);
        }
    }

    /// True exactly once: on the first call at or after the deadline.
    pub(super) fn expire_if_due(&mut self, now: Instant) -> bool {
        match self.expires_at {
            Some(expires_at) if now >= expires_at => {
                self.expires_at = None;
                true
            }
            _ => false,
        }
    }

    pub(super) fn is_expired(&self) -> bool {
        self.expires_at.is_none()
    }

    pub(super) fn expires_at(&self) -> Option<Instant> {
        self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(30);

    #[test]
    fn expires_once_at_the_deadline() {
        let start = Instant::now();
        let mut consent = Consent::new(start, TIMEOUT);
        assert!(!consent.expire_if_due(start + TIMEOUT - Duration::from_millis(1)));
        assert!(consent.expire_if_due(start + TIMEOUT));
        assert!(!consent.expire_if_due(start + TIMEOUT * 2));
        assert!(consent.is_expired());
        assert_eq!(consent.expires_at(), None);
    }

    #[test]
    fn refresh_moves_the_deadline_but_never_back() {
        let start = Instant::now();
        let mut consent = Consent::new(start, TIMEOUT);
        consent.refresh(start + Duration::from_secs(10));
        assert_eq!(consent.expires_at(), Some(start + Duration::from_secs(40)));
        // A check stamped earlier than the last one (reordered input) must not shorten it.
        consent.refresh(start + Duration::from_secs(5));
        assert_eq!(consent.expires_at(), Some(start + Duration::from_secs(40)));
    }

    #[test]
    fn refresh_after_expiry_does_not_revive() {
        let start = Instant::now();
        let mut consent = Consent::new(start, TIMEOUT);
        assert!(consent.expire_if_due(start + TIMEOUT));
        consent.refresh(start + TIMEOUT);
        assert!(consent.is_expired());
    }
}
