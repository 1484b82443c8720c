//! The sequence numbers a receiver is waiting for: found when a gap opens, a loss once the
//! reorder window has passed, NACKed a few times, and given up at the recovery deadline.
//!
//! Invariant, checked by the tests: every loss ends as exactly one of recovered (arrived
//! before the deadline) or unrecovered (deadline passed), or is still pending. A packet that
//! arrives after its deadline stays unrecovered and is also counted late.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::config::ReceiveConfig;

/// How many given-up sequence numbers are remembered to recognise late arrivals.
const GIVEN_UP_MEMORY: usize = 4096;

/// How many sequence numbers are awaited at most. A jump beyond it (a restarted sender, or a
/// hostile one) would otherwise cost memory and time per packet; the oldest excess is
/// counted lost and unrecovered at once, as a browser drops its NACK list and asks for a
/// keyframe.
const MAX_AWAITED: usize = 8192;

/// What an arriving sequence number turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// Newer than everything before it, possibly opening a gap.
    Newest,
    /// Filled a gap before the reorder window ran out: reordering, not loss.
    Reordered,
    /// Filled a loss before its deadline, by retransmission or late delivery.
    Recovered,
    /// A loss whose deadline had already passed.
    Late,
    /// Older than the newest, but neither awaited nor given up: a duplicate whose first copy
    /// is no longer remembered, or a packet from before the first one.
    Unknown,
}

/// What passing time did to the awaited sequence numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Expiry {
    /// Gaps that outlived the reorder window.
    pub lost: u64,
    /// Losses whose recovery deadline passed.
    pub unrecovered: u64,
    /// The highest sequence number whose NACK chances ran out (or whose deadline passed):
    /// the frame it belongs to cannot be completed in time.
    pub abandoned: Option<u64>,
}

#[derive(Debug, Clone, Copy)]
struct Awaited {
    found_at: Instant,
    lost: bool,
    abandoned: bool,
    nacks: u8,
    last_nack: Option<Instant>,
}

#[derive(Debug)]
pub(crate) struct MissingRegister {
    reorder_window: Duration,
    nack_interval: Duration,
    max_nacks: u8,
    recovery_window: Duration,
    highest: Option<u64>,
    awaited: BTreeMap<u64, Awaited>,
    given_up: BTreeSet<u64>,
    /// Counts of sequence numbers dropped for [`MAX_AWAITED`], reported by the next expiry.
    overflow: Expiry,
}

impl MissingRegister {
    pub fn new(config: &ReceiveConfig) -> Self {
        Self {
            reorder_window: config.reorder_window,
            nack_interval: config.nack_interval,
            max_nacks: config.max_nacks,
            recovery_window: config.recovery_window.max(config.reorder_window),
            highest: None,
            awaited: BTreeMap::new(),
            given_up: BTreeSet::new(),
            overflow: Expiry::default(),
        }
    }

    /// Classifies a sequence number that was not received before (the caller filters
    /// duplicates it still remembers). Call [`Self::expire`] first with the same `now`.
    pub fn on_arrival(&mut self, now: Instant, sequence: u64) -> Arrival {
        let Some(highest) = self.highest else {
            self.highest = Some(sequence);
            return Arrival::Newest;
        };
        if sequence > highest {
            let first_awaited = (highest + 1).max(sequence.saturating_sub(MAX_AWAITED as u64));
            let skipped = first_awaited - (highest + 1);
            if skipped > 0 {
                self.overflow.lost += skipped;
                self.overflow.unrecovered += skipped;
                self.overflow.abandoned = Some(first_awaited - 1);
            }
            for gap in first_awaited..sequence {
                self.awaited.insert(gap, Awaited::found(now));
            }
            while self.awaited.len() > MAX_AWAITED {
                if let Some((oldest, awaited)) = self.awaited.pop_first() {
                    self.overflow.lost += u64::from(!awaited.lost);
                    self.overflow.unrecovered += 1;
                    self.overflow.abandoned = self.overflow.abandoned.max(Some(oldest));
                    self.given_up.insert(oldest);
                }
            }
            self.highest = Some(sequence);
            return Arrival::Newest;
        }
        if let Some(awaited) = self.awaited.remove(&sequence) {
            return if awaited.lost {
                Arrival::Recovered
            } else {
                Arrival::Reordered
            };
        }
        if self.given_up.remove(&sequence) {
            return Arrival::Late;
        }
        Arrival::Unknown
    }

    /// Turns overdue gaps into losses, gives up on losses past their chances or deadline.
    pub fn expire(&mut self, now: Instant) -> Expiry {
        let mut expiry = std::mem::take(&mut self.overflow);
        let mut unrecovered = Vec::new();
        for (&sequence, awaited) in &mut self.awaited {
            if !awaited.lost && now >= awaited.found_at + self.reorder_window {
                awaited.lost = true;
                expiry.lost += 1;
            }
            let deadline_passed = now >= awaited.found_at + self.recovery_window;
            let chances_spent = awaited.lost
                && awaited.nacks >= self.max_nacks
                && now >= awaited.last_chance_ends(self.reorder_window, self.nack_interval);
            if !awaited.abandoned && (deadline_passed || chances_spent) {
                awaited.abandoned = true;
                expiry.abandoned = Some(sequence);
            }
            if deadline_passed {
                unrecovered.push(sequence);
            }
        }
        for sequence in unrecovered {
            self.awaited.remove(&sequence);
            self.given_up.insert(sequence);
            expiry.unrecovered += 1;
        }
        while self.given_up.len() > GIVEN_UP_MEMORY {
            self.given_up.pop_first();
        }
        expiry
    }

    /// The losses due for a NACK at `now`, oldest first; each is counted as NACKed.
    pub fn poll_nack(&mut self, now: Instant) -> Vec<u64> {
        let mut due = Vec::new();
        for (&sequence, awaited) in &mut self.awaited {
            let spaced = awaited
                .last_nack
                .is_none_or(|last| now >= last + self.nack_interval);
            if awaited.lost && !awaited.abandoned && awaited.nacks < self.max_nacks && spaced {
                awaited.nacks += 1;
                awaited.last_nack = Some(now);
                due.push(sequence);
            }
        }
        due
    }

    /// The next moment at which [`Self::expire`] or [`Self::poll_nack`] has work.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.awaited
            .values()
            .map(|awaited| {
                let deadline = awaited.found_at + self.recovery_window;
                let step = if !awaited.lost {
                    awaited.found_at + self.reorder_window
                } else if awaited.nacks < self.max_nacks {
                    awaited
                        .last_nack
                        .map_or(awaited.found_at, |last| last + self.nack_interval)
                } else if !awaited.abandoned {
                    awaited.last_chance_ends(self.reorder_window, self.nack_interval)
                } else {
                    deadline
                };
                step.min(deadline)
            })
            .min()
    }
}

impl Awaited {
    /// When the last NACK's answer should have come back; without NACKs, the moment the
    /// gap became a loss.
    fn last_chance_ends(&self, reorder_window: Duration, nack_interval: Duration) -> Instant {
        match self.last_nack {
            Some(last) => last + nack_interval,
            None => self.found_at + reorder_window,
        }
    }

    fn found(now: Instant) -> Self {
        Self {
            found_at: now,
            lost: false,
            abandoned: false,
            nacks: 0,
            last_nack: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn register() -> MissingRegister {
        MissingRegister::new(&ReceiveConfig {
            max_nacks: 2,
            ..ReceiveConfig::video()
        })
    }

    #[test]
    fn a_gap_is_a_loss_only_after_the_reorder_window() {
        let t0 = Instant::now();
        let mut missing = register();
        assert_eq!(missing.on_arrival(t0, 100_000), Arrival::Newest);
        assert_eq!(missing.on_arrival(t0, 100_002), Arrival::Newest);
        assert_eq!(missing.expire(t0 + ms(19)).lost, 0);
        assert!(missing.poll_nack(t0 + ms(19)).is_empty());
        assert_eq!(missing.next_timeout(), Some(t0 + ms(20)));
        assert_eq!(missing.expire(t0 + ms(20)).lost, 1);
        assert_eq!(missing.poll_nack(t0 + ms(20)), vec![100_001]);
        assert_eq!(missing.on_arrival(t0 + ms(30), 100_001), Arrival::Recovered);
        assert_eq!(missing.next_timeout(), None);
    }

    #[test]
    fn nacks_are_spaced_and_limited_then_the_loss_is_abandoned_and_given_up() {
        let t0 = Instant::now();
        let mut missing = register();
        missing.on_arrival(t0, 100_000);
        missing.on_arrival(t0, 100_002);
        missing.expire(t0 + ms(20));
        assert_eq!(missing.poll_nack(t0 + ms(20)), vec![100_001]);
        assert!(missing.poll_nack(t0 + ms(119)).is_empty(), "too soon");
        assert_eq!(missing.next_timeout(), Some(t0 + ms(120)));
        assert_eq!(missing.poll_nack(t0 + ms(120)), vec![100_001]);
        assert!(missing.poll_nack(t0 + ms(500)).is_empty(), "out of NACKs");
        assert_eq!(missing.expire(t0 + ms(219)).abandoned, None);
        assert_eq!(missing.expire(t0 + ms(220)).abandoned, Some(100_001));
        assert_eq!(missing.expire(t0 + ms(999)), Expiry::default());
        let expiry = missing.expire(t0 + ms(1000));
        assert_eq!(expiry.unrecovered, 1);
        assert_eq!(expiry.abandoned, None, "abandoned once only");
        assert_eq!(missing.on_arrival(t0 + ms(1001), 100_001), Arrival::Late);
        assert_eq!(missing.on_arrival(t0 + ms(1002), 100_001), Arrival::Unknown);
    }

    #[test]
    fn a_filled_gap_inside_the_reorder_window_is_reordering() {
        let t0 = Instant::now();
        let mut missing = register();
        missing.on_arrival(t0, 100_000);
        missing.on_arrival(t0, 100_003);
        assert_eq!(missing.on_arrival(t0 + ms(5), 100_002), Arrival::Reordered);
        assert_eq!(missing.on_arrival(t0 + ms(5), 100_001), Arrival::Reordered);
        assert_eq!(missing.expire(t0 + ms(2000)), Expiry::default());
        assert_eq!(missing.on_arrival(t0, 99_000), Arrival::Unknown);
    }
}
