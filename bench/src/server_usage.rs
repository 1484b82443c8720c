//! What the server under test costs, read from /proc the way `top` reads it: CPU time as
//! `utime + stime` from `/proc/<pid>/stat` (proc(5)), resident memory as `VmRSS` from
//! `/proc/<pid>/status`. Two samples bracket the steady window; [`usage_between`] turns
//! them into a CPU percentage (100% is one core busy).

use std::io;
use std::time::Instant;

/// The process's counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageSample {
    pub at: Instant,
    /// User plus system CPU time of all its threads, in clock ticks (`_SC_CLK_TCK`).
    pub cpu_ticks: u64,
    pub rss_bytes: u64,
}

/// One server process over the steady window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServerUsage {
    pub pid: u32,
    /// CPU time over wall time, in percent of one core: 250.0 is two and a half cores.
    pub cpu_percent: f64,
    /// Resident memory at the end of the window.
    pub rss_bytes: u64,
}

/// Reads process `pid`'s CPU time and resident memory, timestamped `now`.
pub fn sample(pid: u32, now: Instant) -> io::Result<UsageSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let invalid =
        |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("{what} of {pid}"));
    Ok(UsageSample {
        at: now,
        cpu_ticks: parse_cpu_ticks(&stat).ok_or_else(|| invalid("cannot read /proc/PID/stat"))?,
        rss_bytes: parse_rss_bytes(&status)
            .ok_or_else(|| invalid("no VmRSS (a zombie or kernel thread?) in /proc/PID/status"))?,
    })
}

/// The usage of `pid` between two of its samples.
pub fn usage_between(first: &UsageSample, last: &UsageSample, pid: u32) -> ServerUsage {
    usage_with_clock(first, last, pid, clock_ticks_per_second())
}

fn usage_with_clock(
    first: &UsageSample,
    last: &UsageSample,
    pid: u32,
    ticks_per_second: u64,
) -> ServerUsage {
    let wall = last.at.saturating_duration_since(first.at).as_secs_f64();
    let cpu = last.cpu_ticks.saturating_sub(first.cpu_ticks) as f64 / ticks_per_second as f64;
    ServerUsage {
        pid,
        cpu_percent: if wall > 0.0 { cpu / wall * 100.0 } else { 0.0 },
        rss_bytes: last.rss_bytes,
    }
}

/// `sysconf(_SC_CLK_TCK)`, the unit of /proc CPU times; 100 on every Linux in practice.
pub(crate) fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf reads a constant and has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks)
        .ok()
        .filter(|&ticks| ticks > 0)
        .unwrap_or(100)
}

/// `utime + stime` from a `/proc/<pid>/stat` line. The command name (field 2) is in
/// parentheses and may itself hold spaces and parentheses, so fields are counted from the
/// last `)`: state is field 3, utime field 14, stime field 15.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_comm.split_whitespace().skip(14 - 3);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    utime.checked_add(stime)
}

/// `VmRSS` from `/proc/<pid>/status`, which the kernel writes in kB (KiB).
fn parse_rss_bytes(status: &str) -> Option<u64> {
    let value = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?;
    let kib = value.trim().strip_suffix("kB")?.trim();
    kib.parse::<u64>().ok()?.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A real stat line (proc(5) field order), with a command name built to trip naive
    /// parsers: spaces, a `)` followed by a space and more fields.
    const STAT: &str = "4242 (shard ) 1 (x) R) S 1 4242 4242 0 -1 4194560 12345 0 3 0 \
                        1500 250 0 0 20 0 3 0 98765 1234567890 3000 18446744073709551615 \
                        1 1 0 0 0 0 0 4096 17663 0 0 0 17 1 0 0 0 0 0\n";

    const STATUS: &str = "Name:\tshardcast\nUmask:\t0022\nState:\tS (sleeping)\n\
                          VmPeak:\t  300000 kB\nVmSize:\t  290000 kB\nVmHWM:\t   51200 kB\n\
                          VmRSS:\t   40960 kB\nRssAnon:\t   30000 kB\nThreads:\t3\n";

    #[test]
    fn parses_proc_text() {
        assert_eq!(parse_cpu_ticks(STAT), Some(1500 + 250));
        assert_eq!(parse_rss_bytes(STATUS), Some(40960 * 1024));
    }

    #[test]
    fn refuses_truncated_or_odd_proc_text() {
        assert_eq!(parse_cpu_ticks("4242 (shard) S 1 2 3"), None);
        assert_eq!(parse_cpu_ticks("4242 shard S"), None);
        assert_eq!(parse_cpu_ticks(""), None);
        let negative = STAT.replace(" 1500 ", " -1 ");
        assert_eq!(parse_cpu_ticks(&negative), None);
        // Kernel threads and zombies have no VmRSS line.
        assert_eq!(
            parse_rss_bytes("Name:\tkworker/0:1\nState:\tI (idle)\n"),
            None
        );
        assert_eq!(parse_rss_bytes("VmRSS:\t 12 MB\n"), None);
    }

    #[test]
    fn cpu_percent_is_cpu_time_over_wall_time() {
        let start = Instant::now();
        let first = UsageSample {
            at: start,
            cpu_ticks: 1_000,
            rss_bytes: 10 << 20,
        };
        let last = UsageSample {
            at: start + Duration::from_secs(4),
            cpu_ticks: 1_600,
            rss_bytes: 12 << 20,
        };
        let usage = usage_with_clock(&first, &last, 7, 100);
        assert_eq!(usage.pid, 7);
        assert!((usage.cpu_percent - 150.0).abs() < 1e-9, "{usage:?}");
        assert_eq!(usage.rss_bytes, 12 << 20);

        let same = usage_with_clock(&first, &first, 7, 100);
        assert_eq!(same.cpu_percent, 0.0, "no time passed, no division by zero");
    }

    #[test]
    fn samples_this_process() {
        let pid = std::process::id();
        let first = sample(pid, Instant::now()).unwrap();
        let last = sample(pid, Instant::now()).unwrap();
        assert!(
            first.rss_bytes > 1 << 20,
            "a test binary holds more than 1 MiB"
        );
        assert!(last.cpu_ticks >= first.cpu_ticks);
        let usage = usage_between(&first, &last, pid);
        assert!(usage.cpu_percent >= 0.0 && usage.cpu_percent.is_finite());
        assert_eq!(clock_ticks_per_second(), 100, "Linux's USER_HZ");

        let missing = sample(u32::MAX, Instant::now()).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    }
}
