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
//!
//! The thread's CPU clock is a system call that takes the run queue's lock, and a busy loop
//! checks its timers tens of thousands of times a second (1% of a shard, read at every
//! check). So it is read at most once per [`CPU_READ_INTERVAL`]. A gap that begins between
//! two reads is measured from the read before it: its CPU time may count up to one interval
//! of the work before it, and its time away is short by as much, both on the side the split
//! already errs. A gap ending before the next read is due is shorter than the interval, so
//! it falls in the histograms' first bucket however it splits.

use std::time::{Duration, Instant};

use super::TimerLateness;

/// The least time between two reads of the thread's CPU clock; under the histograms'
/// first bucket (1 ms), so a gap that ends unread still lands in the right one.
pub const CPU_READ_INTERVAL: Duration = Duration::from_micros(500);

#[derive(Debug, Clone, Default)]
pub struct TimerCheckGaps {
    on_cpu: TimerLateness,
    off_cpu: TimerLateness,
    /// When the last check was, once the loop has begun.
    last_check: Option<Instant>,
    /// The clocks at the last read of the CPU clock (wall, the thread's CPU time).
    last_read: Option<(Instant, Duration)>,
    /// Slept on request since the last check.
    asleep: Duration,
}

impl TimerCheckGaps {
    /// Begins a gap at `now`, the thread having run for `cpu_time`, without recording the
    /// time before it (the loop was not running).
    pub fn begin(&mut self, now: Instant, cpu_time: Duration) {
        self.last_check = Some(now);
        self.last_read = Some((now, cpu_time));
        self.asleep = Duration::ZERO;
    }

    /// Whether the check at `now` should be given the thread's CPU time: the first one, and
    /// any at least [`CPU_READ_INTERVAL`] after the last read.
    pub fn wants_cpu_time(&self, now: Instant) -> bool {
        self.last_read
            .is_none_or(|(at, _)| now.saturating_duration_since(at) >= CPU_READ_INTERVAL)
    }

    /// A timer check at `now`, with the thread's CPU time in all when
    /// [`Self::wants_cpu_time`] asked for it: records the gap since the last check, if the
    /// loop has begun, and starts the next.
    pub fn check(&mut self, now: Instant, cpu_time: Option<Duration>) {
        if let Some(at) = self.last_check {
            let wall = now.saturating_duration_since(at);
            let awake = wall.saturating_sub(self.asleep);
            // Unread, the gap is shorter than an interval: all of it may have been work.
            let on_cpu = match (cpu_time, self.last_read) {
                (Some(cpu), Some((_, cpu_at))) => cpu.saturating_sub(cpu_at).min(awake),
                _ => awake,
            };
            self.record(wall, on_cpu, self.asleep);
        }
        self.last_check = Some(now);
        if let Some(cpu) = cpu_time {
            self.last_read = Some((now, cpu));
        }
        self.asleep = Duration::ZERO;
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
        gaps.check(start, Some(MS));
        assert_eq!(
            gaps.on_cpu().snapshot().firings,
            0,
            "the first check only begins"
        );
        // 20 ms asleep on request, between 0.1 ms of work either side.
        gaps.slept(20 * MS);
        gaps.check(start + 20 * MS + MS / 5, Some(MS + MS / 5));
        gaps.check(start + 21 * MS, Some(2 * MS));
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
        gaps.check(start + 20 * MS, Some(MS));
        let off_cpu = gaps.off_cpu().snapshot();
        assert!(off_cpu.max_us >= 20_000, "{off_cpu:?}");
        let on_cpu = gaps.on_cpu().snapshot();
        assert!(on_cpu.max_us < 20_000, "not CPU time: {on_cpu:?}");
    }

    #[test]
    fn the_clock_is_wanted_once_per_interval() {
        let start = Instant::now();
        let mut gaps = TimerCheckGaps::default();
        assert!(gaps.wants_cpu_time(start), "the first check");
        gaps.begin(start, MS);
        assert!(!gaps.wants_cpu_time(start + CPU_READ_INTERVAL / 2));
        gaps.check(start + CPU_READ_INTERVAL / 2, None);
        assert!(gaps.wants_cpu_time(start + CPU_READ_INTERVAL));
    }

    #[test]
    fn an_unread_gap_lands_in_the_first_bucket_both_ways() {
        let start = Instant::now();
        let mut gaps = TimerCheckGaps::default();
        gaps.begin(start, MS);
        gaps.check(start + CPU_READ_INTERVAL / 2, None);
        let (on_cpu, off_cpu) = (gaps.on_cpu().snapshot(), gaps.off_cpu().snapshot());
        assert_eq!((on_cpu.buckets[0], off_cpu.buckets[0]), (1, 1));
        assert_eq!(on_cpu.max_us, 250, "all of it may have been work");
    }

    #[test]
    fn a_gap_begun_between_reads_errs_by_at_most_an_interval_on_the_safe_side() {
        let start = Instant::now();
        let mut gaps = TimerCheckGaps::default();
        gaps.begin(start, 10 * MS);
        // 0.3 ms of work, a check without a read, then 1 ms of work and 5 ms preempted.
        let unread = start + 3 * MS / 10;
        gaps.check(unread, None);
        let end = unread + 6 * MS;
        assert!(gaps.wants_cpu_time(end));
        gaps.check(end, Some(10 * MS + 13 * MS / 10));
        let on_cpu = gaps.on_cpu().snapshot();
        let off_cpu = gaps.off_cpu().snapshot();
        // The truth is 1 ms of work and 5 ms away; the read before the gap adds the 0.3 ms.
        assert_eq!(on_cpu.max_us, 1_300, "{on_cpu:?}");
        assert_eq!(off_cpu.max_us, 4_700, "{off_cpu:?}");
    }
}
