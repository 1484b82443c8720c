//! A timer that exists only to be measured.
//!
//! Session timers come and go with the sessions and their traffic, so their lateness mixes
//! how busy the shard is with how many timers there happen to be. The probe is one steady
//! periodic timer in every shard, whatever the load: its deadlines are fixed slots
//! (`start + n * period`, never drifting with when it actually fired), so its lateness is
//! exactly how long the loop went, past a deadline, without looking at the clock. That is
//! the delay every media timer of the shard suffers at that moment too.
//!
//! When the shard falls a period or more behind, the slots it missed are not fired in a
//! burst (that would record lateness nobody could act on, several times over): they are
//! counted as skipped and the probe moves on to the next slot still in the future.

use std::time::{Duration, Instant};

use super::{TickGrid, TimerLateness};

#[derive(Debug, Clone)]
pub struct TimerProbe {
    slots: TickGrid,
    deadline: Instant,
    lateness: TimerLateness,
    skipped: u64,
}

impl TimerProbe {
    /// A 20 ms media frame: the period the probe's lateness is judged against.
    pub const DEFAULT_PERIOD: Duration = Duration::from_millis(20);
    /// Shorter periods are raised to this, so a zero period cannot spin the shard.
    pub const MIN_PERIOD: Duration = TickGrid::MIN_PERIOD;

    /// A probe whose first deadline is one period after `now`.
    pub fn new(period: Duration, now: Instant) -> Self {
        let slots = TickGrid::new(now, period);
        Self {
            slots,
            deadline: now + slots.period(),
            lateness: TimerLateness::default(),
            skipped: 0,
        }
    }

    /// When the probe next wants `handle_timeout`.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Fires the probe if its deadline has come: records the lateness and moves to the next
    /// slot, skipping those already past.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(late) = now.checked_duration_since(self.deadline) else {
            return;
        };
        self.lateness.record(late);
        // Slots at deadline + k * period for k in 1..=missed are already at or before `now`.
        let missed = late.as_nanos() / self.slots.period().as_nanos();
        self.skipped = self
            .skipped
            .saturating_add(u64::try_from(missed).unwrap_or(u64::MAX));
        self.deadline = self.slots.after(now);
    }

    pub fn period(&self) -> Duration {
        self.slots.period()
    }

    /// The probe's slots, for timers that may wait to fire in the probe's wakes.
    pub fn slots(&self) -> TickGrid {
        self.slots
    }

    pub fn lateness(&self) -> &TimerLateness {
        &self.lateness
    }

    /// Slots passed over because the probe was a period or more late.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn probe() -> (TimerProbe, Instant) {
        let start = Instant::now();
        (TimerProbe::new(20 * MS, start), start)
    }

    #[test]
    fn on_time_firings_keep_to_their_slots() {
        let (mut probe, start) = probe();
        assert_eq!(probe.deadline(), start + 20 * MS);
        probe.handle_timeout(start + 19 * MS);
        assert_eq!(probe.lateness().snapshot().firings, 0, "not due yet");
        for slot in 1..=50 {
            probe.handle_timeout(start + slot * 20 * MS);
            assert_eq!(probe.deadline(), start + (slot + 1) * 20 * MS);
        }
        let lateness = probe.lateness().snapshot();
        assert_eq!(lateness.firings, 50);
        assert_eq!(lateness.buckets[0], 50);
        assert_eq!(lateness.max_us, 0);
        assert_eq!(probe.skipped(), 0);
    }

    #[test]
    fn a_late_firing_is_recorded_and_the_next_slot_does_not_drift() {
        let (mut probe, start) = probe();
        probe.handle_timeout(start + 20 * MS);
        // 7 ms late: the next deadline is still the 60 ms slot, 13 ms away.
        probe.handle_timeout(start + 47 * MS);
        assert_eq!(probe.deadline(), start + 60 * MS);
        probe.handle_timeout(start + 60 * MS + Duration::from_micros(1_500));
        assert_eq!(probe.deadline(), start + 80 * MS);
        let lateness = probe.lateness().snapshot();
        assert_eq!(lateness.buckets, [1, 1, 0, 1, 0, 0, 0, 0, 0]);
        assert_eq!(lateness.max_us, 7_000);
        assert_eq!(lateness.sum_us, 8_500);
        assert_eq!(probe.skipped(), 0);
    }

    #[test]
    fn far_behind_it_skips_to_the_next_future_slot_and_counts_the_rest() {
        let (mut probe, start) = probe();
        // Due at 20 ms, fired at 125 ms: the 40, 60, 80, 100 and 120 ms slots are gone.
        probe.handle_timeout(start + 125 * MS);
        assert_eq!(probe.deadline(), start + 140 * MS);
        assert_eq!(probe.skipped(), 5);
        let lateness = probe.lateness().snapshot();
        assert_eq!((lateness.firings, lateness.max_us), (1, 105_000));
        assert_eq!(lateness.buckets[7], 1, "105 ms is under 160 ms");

        // Exactly a period late: that slot is due now, not in the future, so it is skipped.
        probe.handle_timeout(start + 160 * MS);
        assert_eq!(probe.deadline(), start + 180 * MS);
        assert_eq!(probe.skipped(), 6);
    }

    #[test]
    fn a_zero_period_is_raised_to_the_minimum() {
        let start = Instant::now();
        let probe = TimerProbe::new(Duration::ZERO, start);
        assert_eq!(probe.period(), TimerProbe::MIN_PERIOD);
        assert_eq!(probe.deadline(), start + TimerProbe::MIN_PERIOD);
    }
}
