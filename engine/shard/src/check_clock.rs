//! The shard loop's clocks at its timer checks: wall time, the thread's CPU time, and how
//! long it slept on request in between, for the core's [`TimerCheckGaps`] to split each gap.

use std::time::{Duration, Instant};

use shardcast_proto::timer::TimerCheckGaps;

use crate::thread_clock;

pub struct CheckClock {
    gaps: TimerCheckGaps,
    at: Instant,
    cpu_time: Duration,
    asleep: Duration,
}

impl CheckClock {
    /// Starts the first gap now, on the calling thread (the shard's).
    pub fn start() -> Self {
        Self {
            gaps: TimerCheckGaps::default(),
            at: Instant::now(),
            cpu_time: thread_clock::cpu_time(),
            asleep: Duration::ZERO,
        }
    }

    /// Begins a new gap now, without recording the time since the last check (the loop was
    /// not running it).
    pub fn restart(&mut self) {
        self.at = Instant::now();
        self.cpu_time = thread_clock::cpu_time();
        self.asleep = Duration::ZERO;
    }

    /// A timer check at `now`: records the gap since the last one and starts the next.
    pub fn check(&mut self, now: Instant) {
        let cpu_time = thread_clock::cpu_time();
        self.gaps.record(
            now.saturating_duration_since(self.at),
            cpu_time.saturating_sub(self.cpu_time),
            self.asleep,
        );
        self.at = now;
        self.cpu_time = cpu_time;
        self.asleep = Duration::ZERO;
    }

    /// The loop slept on request for `slept` since the last check.
    pub fn slept(&mut self, slept: Duration) {
        self.asleep += slept;
    }

    pub fn gaps(&self) -> &TimerCheckGaps {
        &self.gaps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Long beside any preemption a busy test machine gives the few instructions around it.
    const SLEEP: Duration = Duration::from_millis(20);

    #[test]
    fn each_check_records_one_gap_and_a_requested_sleep_is_not_time_away() {
        let mut clock = CheckClock::start();
        // The sleep is the input here: a wait the loop asked for, as it asks io_uring.
        let from = Instant::now();
        std::thread::sleep(SLEEP);
        clock.slept(from.elapsed());
        clock.check(Instant::now());
        clock.check(Instant::now());
        let on_cpu = clock.gaps().on_cpu().snapshot();
        let off_cpu = clock.gaps().off_cpu().snapshot();
        assert_eq!((on_cpu.firings, off_cpu.firings), (2, 2));
        // Only what surrounds the sleep can be time away, not the sleep.
        assert!(
            u128::from(off_cpu.max_us) < SLEEP.as_micros(),
            "{off_cpu:?}"
        );
    }

    #[test]
    fn an_unreported_sleep_is_time_away() {
        let mut clock = CheckClock::start();
        // Off the CPU without having asked the loop's way: what a preemption looks like.
        std::thread::sleep(SLEEP);
        clock.check(Instant::now());
        let off_cpu = clock.gaps().off_cpu().snapshot();
        assert!(
            u128::from(off_cpu.max_us) >= SLEEP.as_micros(),
            "{off_cpu:?}"
        );
        let on_cpu = clock.gaps().on_cpu().snapshot();
        assert!(
            u128::from(on_cpu.max_us) < SLEEP.as_micros(),
            "sleeping is not CPU time: {on_cpu:?}"
        );
    }
}
