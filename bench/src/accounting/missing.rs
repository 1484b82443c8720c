//! The sequence numbers a receiver is waiting for: found when a gap opens, a loss once the
//! reorder window has passed, NACKed a few times, and given up at the recovery deadline.
//!
//! Invariant, checked by the tests: every loss ends as exactly one of recovered (arrived
//! before the deadline) or unrecovered (deadline passed), or is still pending. A packet that
//! arrives after its deadline stays unrecovered and is also counted late.
//!
//! A missing packet's whole story is counted by the moment its gap was found: if that was
//! inside the measurement window, its loss, recovery, giving up and late arrival all count,
//! even the ones that come after the window's end; if it was not, none of them do. So in any
//! window `recovered + unrecovered <= lost` and `late <= unrecovered`, and a loss that is
//! still pending when the window ends is lost but neither recovered nor unrecovered.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::config::{MeasurementWindow, ReceiveConfig};

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

/// What became of the gaps found inside the measurement window (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LossCounts {
    /// Gaps that outlived the reorder window.
    pub lost: u64,
    /// Losses filled before their recovery deadline.
    pub recovered: u64,
    /// Losses whose recovery deadline passed.
    pub unrecovered: u64,
    /// Unrecovered losses that arrived after all.
    pub late: u64,
}

#[derive(Debug, Clone, Copy)]
struct Awaited {
    found_at: Instant,
    /// The gap was found inside the measurement window, so its story is counted.
    counted: bool,
    lost: bool,
    abandoned: bool,
    nacks: u8,
    last_nack: Option<Instant>,
}

#[derive(Debug)]
pub(crate) struct MissingRegister {
    window: MeasurementWindow,
    reorder_window: Duration,
    nack_interval: Duration,
    max_nacks: u8,
    recovery_window: Duration,
    highest: Option<u64>,
    awaited: BTreeMap<u64, Awaited>,
    /// Given-up sequence numbers, and whether each one's story is counted.
    given_up: BTreeMap<u64, bool>,
    counts: LossCounts,
    /// The newest sequence number dropped for [`MAX_AWAITED`], reported by the next expiry.
    overflow_abandoned: Option<u64>,
}

impl MissingRegister {
    pub fn new(config: &ReceiveConfig) -> Self {
        Self {
            window: config.window,
            reorder_window: config.reorder_window,
            nack_interval: config.nack_interval,
            max_nacks: config.max_nacks,
            recovery_window: config.recovery_window.max(config.reorder_window),
            highest: None,
            awaited: BTreeMap::new(),
            given_up: BTreeMap::new(),
            counts: LossCounts::default(),
            overflow_abandoned: None,
        }
    }

    pub fn counts(&self) -> LossCounts {
        self.counts
    }

    /// Classifies a sequence number that was not received before (the caller filters
    /// duplicates it still remembers). Call [`Self::expire`] first with the same `now`.
    pub fn on_arrival(&mut self, now: Instant, sequence: u64) -> Arrival {
        let Some(highest) = self.highest else {
            self.highest = Some(sequence);
            return Arrival::Newest;
        };
        if sequence > highest {
            let counted = self.window.contains(now);
            let first_awaited = (highest + 1).max(sequence.saturating_sub(MAX_AWAITED as u64));
            let skipped = first_awaited - (highest + 1);
            if skipped > 0 {
                if counted {
                    self.counts.lost += skipped;
                    self.counts.unrecovered += skipped;
                }
                self.overflow_abandoned = Some(first_awaited - 1);
            }
            for gap in first_awaited..sequence {
                self.awaited.insert(gap, Awaited::found(now, counted));
            }
            while self.awaited.len() > MAX_AWAITED {
                if let Some((oldest, awaited)) = self.awaited.pop_first() {
                    self.give_up(oldest, awaited);
                    self.overflow_abandoned = self.overflow_abandoned.max(Some(oldest));
                }
            }
            self.highest = Some(sequence);
            return Arrival::Newest;
        }
        if let Some(awaited) = self.awaited.remove(&sequence) {
            if !awaited.lost {
                return Arrival::Reordered;
            }
            self.counts.recovered += u64::from(awaited.counted);
            return Arrival::Recovered;
        }
        if let Some(counted) = self.given_up.remove(&sequence) {
            self.counts.late += u64::from(counted);
            return Arrival::Late;
        }
        Arrival::Unknown
    }

    /// Turns overdue gaps into losses, gives up on losses past their chances or deadline.
    /// Returns the highest sequence number newly abandoned (NACK chances spent, deadline
    /// passed, or dropped for [`MAX_AWAITED`]): the frame it belongs to cannot be completed
    /// in time.
    pub fn expire(&mut self, now: Instant) -> Option<u64> {
        let mut abandoned = self.overflow_abandoned.take();
        let mut unrecovered = Vec::new();
        for (&sequence, awaited) in &mut self.awaited {
            if !awaited.lost && now >= awaited.found_at + self.reorder_window {
                awaited.lost = true;
                self.counts.lost += u64::from(awaited.counted);
            }
            let deadline_passed = now >= awaited.found_at + self.recovery_window;
            let chances_spent = awaited.lost
                && awaited.nacks >= self.max_nacks
                && now >= awaited.last_chance_ends(self.reorder_window, self.nack_interval);
            if !awaited.abandoned && (deadline_passed || chances_spent) {
                awaited.abandoned = true;
                abandoned = abandoned.max(Some(sequence));
            }
            if deadline_passed {
                unrecovered.push(sequence);
            }
        }
        for sequence in unrecovered {
            if let Some(awaited) = self.awaited.remove(&sequence) {
                self.give_up(sequence, awaited);
            }
        }
        while self.given_up.len() > GIVEN_UP_MEMORY {
            self.given_up.pop_first();
        }
        abandoned
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

    /// Stops waiting for `sequence`: unrecovered, and lost too if its reorder window had not
    /// run out yet (a gap dropped for [`MAX_AWAITED`]).
    fn give_up(&mut self, sequence: u64, awaited: Awaited) {
        if awaited.counted {
            self.counts.lost += u64::from(!awaited.lost);
            self.counts.unrecovered += 1;
        }
        self.given_up.insert(sequence, awaited.counted);
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

    fn found(now: Instant, counted: bool) -> Self {
        Self {
            found_at: now,
            counted,
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

    fn register(window: MeasurementWindow) -> MissingRegister {
        MissingRegister::new(&ReceiveConfig {
            max_nacks: 2,
            window,
            ..ReceiveConfig::video()
        })
    }

    fn counts(lost: u64, recovered: u64, unrecovered: u64, late: u64) -> LossCounts {
        LossCounts {
            lost,
            recovered,
            unrecovered,
            late,
        }
    }

    #[test]
    fn a_gap_is_a_loss_only_after_the_reorder_window() {
        let t0 = Instant::now();
        let mut missing = register(MeasurementWindow::always());
        assert_eq!(missing.on_arrival(t0, 100_000), Arrival::Newest);
        assert_eq!(missing.on_arrival(t0, 100_002), Arrival::Newest);
        assert_eq!(missing.expire(t0 + ms(19)), None);
        assert_eq!(missing.counts().lost, 0);
        assert!(missing.poll_nack(t0 + ms(19)).is_empty());
        assert_eq!(missing.next_timeout(), Some(t0 + ms(20)));
        missing.expire(t0 + ms(20));
        assert_eq!(missing.counts().lost, 1);
        assert_eq!(missing.poll_nack(t0 + ms(20)), vec![100_001]);
        assert_eq!(missing.on_arrival(t0 + ms(30), 100_001), Arrival::Recovered);
        assert_eq!(missing.next_timeout(), None);
        assert_eq!(missing.counts(), counts(1, 1, 0, 0));
    }

    #[test]
    fn nacks_are_spaced_and_limited_then_the_loss_is_abandoned_and_given_up() {
        let t0 = Instant::now();
        let mut missing = register(MeasurementWindow::always());
        missing.on_arrival(t0, 100_000);
        missing.on_arrival(t0, 100_002);
        missing.expire(t0 + ms(20));
        assert_eq!(missing.poll_nack(t0 + ms(20)), vec![100_001]);
        assert!(missing.poll_nack(t0 + ms(119)).is_empty(), "too soon");
        assert_eq!(missing.next_timeout(), Some(t0 + ms(120)));
        assert_eq!(missing.poll_nack(t0 + ms(120)), vec![100_001]);
        assert!(missing.poll_nack(t0 + ms(500)).is_empty(), "out of NACKs");
        assert_eq!(missing.expire(t0 + ms(219)), None);
        assert_eq!(missing.expire(t0 + ms(220)), Some(100_001));
        assert_eq!(missing.expire(t0 + ms(999)), None);
        assert_eq!(missing.counts(), counts(1, 0, 0, 0));
        assert_eq!(missing.expire(t0 + ms(1000)), None, "abandoned once only");
        assert_eq!(missing.counts(), counts(1, 0, 1, 0));
        assert_eq!(missing.on_arrival(t0 + ms(1001), 100_001), Arrival::Late);
        assert_eq!(missing.on_arrival(t0 + ms(1002), 100_001), Arrival::Unknown);
        assert_eq!(missing.counts(), counts(1, 0, 1, 1));
    }

    #[test]
    fn a_filled_gap_inside_the_reorder_window_is_reordering() {
        let t0 = Instant::now();
        let mut missing = register(MeasurementWindow::always());
        missing.on_arrival(t0, 100_000);
        missing.on_arrival(t0, 100_003);
        assert_eq!(missing.on_arrival(t0 + ms(5), 100_002), Arrival::Reordered);
        assert_eq!(missing.on_arrival(t0 + ms(5), 100_001), Arrival::Reordered);
        assert_eq!(missing.expire(t0 + ms(2000)), None);
        assert_eq!(missing.on_arrival(t0, 99_000), Arrival::Unknown);
        assert_eq!(missing.counts(), LossCounts::default());
    }

    #[test]
    fn a_gap_found_before_the_window_counts_nothing_inside_it() {
        let t0 = Instant::now();
        let window = MeasurementWindow::between(t0 + ms(500), t0 + ms(5000));
        let mut missing = register(window);
        // Two gaps found at t0, lost at 20 ms: one recovered, one given up, both inside.
        missing.on_arrival(t0, 100_000);
        missing.on_arrival(t0, 100_003);
        missing.expire(t0 + ms(20));
        assert_eq!(
            missing.on_arrival(t0 + ms(600), 100_001),
            Arrival::Recovered
        );
        missing.expire(t0 + ms(1000));
        assert_eq!(missing.on_arrival(t0 + ms(1100), 100_002), Arrival::Late);
        assert_eq!(missing.counts(), LossCounts::default());
    }

    #[test]
    fn a_gap_found_inside_the_window_is_counted_to_its_end_after_the_window() {
        let t0 = Instant::now();
        let window = MeasurementWindow::between(t0, t0 + ms(1000));
        let mut missing = register(window);
        missing.on_arrival(t0, 100_000);
        // Found 10 ms before the window ends, lost 10 ms after it, given up at 1990 ms.
        missing.on_arrival(t0 + ms(990), 100_002);
        missing.expire(t0 + ms(1000));
        assert_eq!(missing.counts(), LossCounts::default(), "not lost yet");
        missing.expire(t0 + ms(1010));
        assert_eq!(missing.counts(), counts(1, 0, 0, 0), "pending");
        missing.expire(t0 + ms(1990));
        assert_eq!(missing.counts(), counts(1, 0, 1, 0));
        missing.on_arrival(t0 + ms(2500), 100_001);
        assert_eq!(missing.counts(), counts(1, 0, 1, 1));
        // A gap found after the end is not counted at all.
        missing.on_arrival(t0 + ms(2600), 100_004);
        missing.expire(t0 + ms(4000));
        assert_eq!(missing.counts(), counts(1, 0, 1, 1));
    }

    #[test]
    fn a_jump_past_the_awaited_limit_counts_by_when_each_gap_was_found() {
        let t0 = Instant::now();
        let window = MeasurementWindow::between(t0 + ms(100), t0 + ms(5000));
        let mut missing = register(window);
        missing.on_arrival(t0, 0);
        // Found before the window: 10 awaited, none counted.
        missing.on_arrival(t0, 11);
        let jump = 11 + MAX_AWAITED as u64 + 6;
        missing.on_arrival(t0 + ms(200), jump);
        // Inside: 5 skipped at once and the 10 oldest pushed out uncounted; MAX_AWAITED are
        // still awaited.
        assert_eq!(missing.counts(), counts(5, 0, 5, 0));
        assert_eq!(missing.expire(t0 + ms(200)), Some(16));
        missing.expire(t0 + ms(1200));
        let all = MAX_AWAITED as u64 + 5;
        assert_eq!(missing.counts(), counts(all, 0, all, 0));
    }
}
