//! Where the time between two of a shard's timer checks went: its own work, or away from
//! its CPU.
//!
//! A timer can be no later than the gap between the check that last saw it not yet due and
//! the check that fired it. The shard's thread spends that gap working (its CPU time),
//! asleep because it asked to be (waiting for completions until the next deadline), or
//! neither: preempted by another task on its core, or its virtual CPU not run by the
//! hypervisor. Only the first is the shard's to shorten, so each gap is split, and a late
//! firing whose gaps all held under 2 ms of CPU is shown to be the host's doing.
//!
//! The split is conservative both ways: the CPU time is the thread's (steal is not in it
//! when the kernel accounts paravirtual steal time), so it bounds the lateness the work can
//! cause from above; the time off the CPU counts the whole of a requested sleep as asleep,
//! so it is a lower bound.

use std::time::{Duration, Instant};

use super::TimerLateness;

#[derive(Debug, Clone, Default)]
pub struct TimerCheckGaps {
    on_cpu: TimerLateness,
    off_cpu: TimerLateness,
    /// The clocks at the last check (wall, the thread's CPU time), once the loop has begun.
    last: Option<(Instant, Duration)>,
    /// Slept on request since the last check.
    asleep: Duration,
}

impl TimerCheckGaps {
    /// Begins a gap at `now`, the thread having run for `cpu_time`, without recording the
    /// time before it (the loop was not running).
    pub fn begin(&mut self, now: Instant, cpu_time: Duration) {
        self.last = Some((now, cpu_time));
        self.asleep = Duration::ZERO;
    }

    /// A timer check at `now`, the thread having run for `cpu_time` in all: records the gap
    /// since the last check, if the loop has begun, and starts the next.
    pub fn check(&mut self, now: Instant, cpu_time: Duration) {
        if let Some((at, cpu_at)) = self.last {
            self.record(
                now.saturating_duration_since(at),
                cpu_time.saturating_sub(cpu_at),
                self.asleep,
            );
        }
        self.begin(now, cpu_time);
    }

    /// The loop slept on request for `slept` since the last check.
    pub fn slept(&mut self, slept: Duration) {
        self.asleep += slept;
    }

    /// Records one gap between checks: `wall` of clock time, of which the thread ran for
    /// `on_cpu` and slept on request for `asleep`.
    fn record(&mut self, wall: Duration, on_cpu: Duration, asleep: Duration) {
        self.on_cpu.record(on_cpu);
        self.off_cpu
            .record(wall.saturating_sub(on_cpu.saturating_add(asleep)));
    }

    /// The thread's own CPU time per gap.
    pub fn on_cpu(&self) -> &TimerLateness {
        &self.on_cpu
    }

    /// Time per gap the thread neither ran nor slept on request.
    pub fn off_cpu(&self) -> &TimerLateness {
        &self.off_cpu
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_busy_gap_splits_into_work_and_time_away() {
        let mut gaps = TimerCheckGaps::default();
        gaps.record(6 * MS, MS / 2, Duration::ZERO);
        let on_cpu = gaps.on_cpu().snapshot();
        let off_cpu = gaps.off_cpu().snapshot();
        assert_eq!(on_cpu.buckets[0], 1, "half a millisecond of work");
        assert_eq!(
            off_cpu.buckets[3], 1,
            "5.5 ms away is in the 5-10 ms bucket"
        );
        assert_eq!(off_cpu.max_us, 5_500);
    }

    #[test]
    fn a_requested_sleep_is_not_time_away() {
        let mut gaps = TimerCheckGaps::default();
        gaps.record(20 * MS, 300 * Duration::from_micros(1), 19 * MS);
        assert_eq!(gaps.off_cpu().snapshot().max_us, 700);
        assert_eq!(gaps.on_cpu().snapshot().max_us, 300);
    }

    #[test]
    fn clocks_that_disagree_never_go_below_zero() {
        let mut gaps = TimerCheckGaps::default();
        // The sleep's own measurement includes the submit's CPU time, which the thread's
        // CPU time counts too.
        gaps.record(10 * MS, 2 * MS, 9 * MS);
        let off_cpu = gaps.off_cpu().snapshot();
        assert_eq!(off_cpu.buckets[0], 1);
        assert_eq!(off_cpu.max_us, 0);
        assert_eq!(
            gaps.on_cpu().snapshot().buckets[2],
            1,
            "2 ms is in the 2-5 ms bucket"
        );
    }

    #[test]
    fn each_check_records_one_gap_and_a_requested_sleep_is_not_time_away() {
        let start = Instant::now();
        let mut gaps = TimerCheckGaps::default();
        gaps.check(start, MS);
        assert_eq!(
            gaps.on_cpu().snapshot().firings,
            0,
            "the first check only begins"
        );
        // 20 ms asleep on request, between 0.1 ms of work either side.
        gaps.slept(20 * MS);
        gaps.check(start + 20 * MS + MS / 5, MS + MS / 5);
        gaps.check(start + 21 * MS, 2 * MS);
        let on_cpu = gaps.on_cpu().snapshot();
        let off_cpu = gaps.off_cpu().snapshot();
        assert_eq!((on_cpu.firings, off_cpu.firings), (2, 2));
        // Only what surrounds the sleep can be time away, not the sleep.
        assert!(off_cpu.max_us < 20_000, "{off_cpu:?}");
    }

    #[test]
    fn an_unreported_sleep_is_time_away() {
        let start = Instant::now();
        let mut gaps = TimerCheckGaps::default();
        gaps.begin(start, MS);
        // Off the CPU without having asked the loop's way: what a preemption looks like.
        gaps.check(start + 20 * MS, MS);
        let off_cpu = gaps.off_cpu().snapshot();
        assert!(off_cpu.max_us >= 20_000, "{off_cpu:?}");
        let on_cpu = gaps.on_cpu().snapshot();
        assert!(on_cpu.max_us < 20_000, "not CPU time: {on_cpu:?}");
    }
}
