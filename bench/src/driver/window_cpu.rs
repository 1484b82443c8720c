//! A worker thread's own CPU time over the steady window, to set the bench's cost per
//! received packet beside the server's.
//!
//! The worker reads `clock_gettime(CLOCK_THREAD_CPUTIME_ID)`, the kernel's nanosecond count
//! of the thread's run time (`/proc/<pid>/task/<tid>/stat` only has 10 ms ticks), at the top
//! of its first turn inside the window and of its first turn past it. The viewers account
//! packets by the same turn clock, so the CPU time and the packets cover the same turns.

use std::io;
use std::time::{Duration, Instant};

use crate::accounting::MeasurementWindow;

/// The calling thread's CPU time (user plus system) since it started.
pub fn this_thread_cpu_time() -> io::Result<Duration> {
    let mut time = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes one timespec into a live local; the result is checked.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut time) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let seconds = u64::try_from(time.tv_sec).map_err(io::Error::other)?;
    let nanos = u32::try_from(time.tv_nsec).map_err(io::Error::other)?;
    Ok(Duration::new(seconds, nanos))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    Before,
    /// The CPU time read at the first turn inside the window.
    Started(Duration),
    /// The CPU time spent in the window; `None` when it could not be measured.
    Done(Option<Duration>),
}

/// Reads a thread's CPU clock at the two ends of a window, from the thread's own turns.
#[derive(Debug, Clone, Copy)]
pub struct WindowCpu {
    window: MeasurementWindow,
    reading: Reading,
}

impl WindowCpu {
    pub fn new(window: MeasurementWindow) -> Self {
        Self {
            window,
            reading: Reading::Before,
        }
    }

    /// Called at the top of every turn; `read` runs (a syscall) only at the two ends.
    pub fn on_turn(&mut self, now: Instant, read: impl FnOnce() -> io::Result<Duration>) {
        let past_end = self.window.end.is_some_and(|end| now >= end);
        self.reading = match self.reading {
            Reading::Before if past_end => {
                // No turn started inside the window: one turn spanned all of it, so its cost
                // cannot be told apart from what came before and after.
                Reading::Done(None)
            }
            Reading::Before if self.window.contains(now) => {
                read().map_or(Reading::Done(None), Reading::Started)
            }
            Reading::Started(start) if past_end => {
                Reading::Done(read().ok().map(|end| end.saturating_sub(start)))
            }
            unchanged => unchanged,
        };
    }

    /// The CPU time spent in the window, once the window is over and both ends were read.
    pub fn spent(&self) -> Option<Duration> {
        match self.reading {
            Reading::Done(spent) => spent,
            Reading::Before | Reading::Started(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    /// A CPU clock that reads `value` and counts its reads.
    fn clock(value: Duration, reads: &Cell<u32>) -> impl FnOnce() -> io::Result<Duration> + '_ {
        move || {
            reads.set(reads.get() + 1);
            Ok(value)
        }
    }

    #[test]
    fn reads_the_clock_at_the_first_turn_inside_and_the_first_turn_past_the_window() {
        let start = Instant::now();
        let window = MeasurementWindow::between(start + SECOND, start + SECOND * 11);
        let reads = Cell::new(0);
        let mut cpu = WindowCpu::new(window);
        cpu.on_turn(start, clock(SECOND * 100, &reads));
        assert_eq!(reads.get(), 0, "before the window, no syscall");
        cpu.on_turn(start + SECOND * 2, clock(SECOND * 3, &reads));
        cpu.on_turn(start + SECOND * 5, clock(SECOND * 100, &reads));
        assert_eq!(
            reads.get(),
            1,
            "inside the window, only its first turn reads"
        );
        assert_eq!(cpu.spent(), None, "not over yet");
        cpu.on_turn(start + SECOND * 11, clock(SECOND * 7, &reads));
        assert_eq!(cpu.spent(), Some(SECOND * 4));
        cpu.on_turn(start + SECOND * 12, clock(SECOND * 100, &reads));
        assert_eq!(reads.get(), 2, "after the window, no syscall");
        assert_eq!(cpu.spent(), Some(SECOND * 4));
    }

    #[test]
    fn a_window_with_no_turn_inside_or_a_failed_read_is_not_measured() {
        let start = Instant::now();
        let window = MeasurementWindow::between(start, start + SECOND);
        let reads = Cell::new(0);
        let mut skipped = WindowCpu::new(window);
        skipped.on_turn(start + SECOND * 2, clock(SECOND, &reads));
        assert_eq!(skipped.spent(), None);
        assert_eq!(reads.get(), 0);

        let mut failed_start = WindowCpu::new(window);
        failed_start.on_turn(start, || Err(io::Error::other("no clock")));
        failed_start.on_turn(start + SECOND, clock(SECOND, &reads));
        assert_eq!(failed_start.spent(), None);

        let mut failed_end = WindowCpu::new(window);
        failed_end.on_turn(start, clock(SECOND, &reads));
        failed_end.on_turn(start + SECOND, || Err(io::Error::other("no clock")));
        assert_eq!(failed_end.spent(), None);
    }

    #[test]
    fn reads_this_threads_cpu_clock() {
        let first = this_thread_cpu_time().unwrap();
        // Busy work the optimizer cannot drop, so the clock has something to count.
        let mut sum = 0u64;
        for value in 0..2_000_000u64 {
            sum = std::hint::black_box(sum.wrapping_add(value * value));
        }
        std::hint::black_box(sum);
        let second = this_thread_cpu_time().unwrap();
        assert!(second > first, "{first:?} then {second:?}");
    }
}
