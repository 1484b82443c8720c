//! A shard-wide grid of instants for timers that can fire a little late: put on the grid,
//! the timers of many sessions fall due together and one wake of the shard serves them all,
//! where each on its own instant would wake it once (going to sleep and waking costs a
//! shard about as much CPU as sending a few packets). The shard's probe fires on such a
//! grid, so timers put on its slots ride its wakes too.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TickGrid {
    start: Instant,
    period: Duration,
}

impl TickGrid {
    /// Shorter periods are raised to this: a grid of nothing would be no grid.
    pub const MIN_PERIOD: Duration = Duration::from_millis(1);

    /// Slots at `start + n * period`.
    pub fn new(start: Instant, period: Duration) -> Self {
        Self {
            start,
            period: period.max(Self::MIN_PERIOD),
        }
    }

    pub fn period(&self) -> Duration {
        self.period
    }

    /// The first slot strictly after `at`.
    pub fn after(&self, at: Instant) -> Instant {
        self.at_or_after(at + Duration::from_nanos(1))
    }

    /// The first slot at or after `at`; the grid's start for anything before it.
    pub fn at_or_after(&self, at: Instant) -> Instant {
        let since = at.saturating_duration_since(self.start).as_nanos();
        let period = self.period.as_nanos();
        let slots = since.div_ceil(period);
        // A slot past what a Duration holds is centuries away: `at` itself will do.
        u64::try_from(slots * period)
            .ok()
            .and_then(|nanos| self.start.checked_add(Duration::from_nanos(nanos)))
            .unwrap_or(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn an_instant_moves_up_to_the_next_slot_and_a_slot_stays() {
        let start = Instant::now();
        let grid = TickGrid::new(start, 20 * MS);
        assert_eq!(grid.at_or_after(start), start);
        assert_eq!(grid.at_or_after(start + MS), start + 20 * MS);
        assert_eq!(grid.at_or_after(start + 20 * MS), start + 20 * MS);
        assert_eq!(
            grid.at_or_after(start + 1_000 * MS + Duration::from_nanos(1)),
            start + 1_020 * MS
        );
    }

    #[test]
    fn before_the_start_is_the_start_and_no_period_is_the_minimum() {
        let start = Instant::now() + 50 * MS;
        let grid = TickGrid::new(start, 20 * MS);
        assert_eq!(grid.at_or_after(start - 30 * MS), start);

        let fine = TickGrid::new(start, Duration::ZERO);
        assert_eq!(fine.at_or_after(start + MS / 2), start + MS);
    }
}
