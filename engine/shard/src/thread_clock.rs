//! The calling thread's own clocks, which the kernel keeps per thread: how long it has run,
//! and how often another task took its core. A shard reads them for itself, so what it
//! reports is the shard's and not the process's.

use std::time::Duration;

/// The CPU time the calling thread has run (user and system), or zero where the clock is
/// missing. With paravirtual steal time accounted, time the hypervisor took is not in it.
pub fn cpu_time() -> Duration {
    let mut time = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `time` is a valid timespec for the call to write.
    let result = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut time) };
    if result != 0 {
        return Duration::ZERO;
    }
    let seconds = u64::try_from(time.tv_sec).unwrap_or(0);
    let nanos = u32::try_from(time.tv_nsec).unwrap_or(0);
    Duration::new(seconds, nanos)
}

/// The calling thread's involuntary context switches since it started: times it was still
/// runnable when another task took its core. Zero where the kernel does not say.
pub fn preemptions() -> u64 {
    // SAFETY: rusage is plain integers; zeroed is valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid rusage for the call to write.
    let result = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    if result != 0 {
        return 0;
    }
    u64::try_from(usage.ru_nivcsw).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_counts_this_threads_work_only() {
        let before = cpu_time();
        let mut sum = 0u64;
        // Enough work to pass any clock's resolution.
        for i in 0..5_000_000u64 {
            sum = std::hint::black_box(sum.wrapping_add(i * i));
        }
        let worked = cpu_time() - before;
        assert!(worked > Duration::ZERO, "{sum}");
        let other = std::thread::spawn(cpu_time)
            .join()
            .expect("the thread returns");
        assert!(
            other < worked + before,
            "a new thread has run less than this one: {other:?}"
        );
    }

    #[test]
    fn preemptions_never_go_backwards() {
        let first = preemptions();
        std::thread::yield_now();
        assert!(preemptions() >= first);
    }
}
