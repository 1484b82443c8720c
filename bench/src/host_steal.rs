//! How much time the hypervisor took from each of this host's CPUs ("steal", the 8th value
//! of the `cpuN` lines of `/proc/stat`, see proc(5)). On a cloud VM a noisy neighbour's steal
//! silently changes every CPU figure of the run, so the report shows it beside them. Steal is
//! host-wide: it is sampled whether or not a server process is.

use std::io;
use std::time::Instant;

use crate::server_usage::clock_ticks_per_second;

/// Every CPU's steal counter at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StealSample {
    pub at: Instant,
    cpus: Vec<CpuTicks>,
}

/// One CPU's steal counter, in clock ticks (`_SC_CLK_TCK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CpuTicks {
    cpu: u32,
    steal: u64,
}

/// What the hypervisor took from one CPU between two samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuSteal {
    /// The `N` of `cpuN`.
    pub cpu: u32,
    pub ms: f64,
    /// Of the wall time between the samples: 100.0 is the whole of it.
    pub percent: f64,
}

/// Reads every CPU's steal counter, timestamped `now`.
pub fn sample(now: Instant) -> io::Result<StealSample> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let cpus = parse_steal_ticks(&stat).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "no steal counters in /proc/stat",
        )
    })?;
    Ok(StealSample { at: now, cpus })
}

/// The steal of each CPU found in both samples, in CPU order; `None` when no CPU is in both.
pub fn steal_between(first: &StealSample, last: &StealSample) -> Option<Vec<CpuSteal>> {
    steal_with_clock(first, last, clock_ticks_per_second())
}

fn steal_with_clock(
    first: &StealSample,
    last: &StealSample,
    ticks_per_second: u64,
) -> Option<Vec<CpuSteal>> {
    let wall = last.at.saturating_duration_since(first.at).as_secs_f64();
    let ticks_per_second = ticks_per_second as f64;
    let steal: Vec<CpuSteal> = last
        .cpus
        .iter()
        .filter_map(|end| {
            let start = first.cpus.iter().find(|start| start.cpu == end.cpu)?;
            // Some hypervisors' steal counters step backwards: no steal, not an error.
            let ticks = end.steal.saturating_sub(start.steal) as f64;
            Some(CpuSteal {
                cpu: end.cpu,
                ms: ticks * 1000.0 / ticks_per_second,
                percent: if wall > 0.0 {
                    ticks * 100.0 / (ticks_per_second * wall)
                } else {
                    0.0
                },
            })
        })
        .collect();
    (!steal.is_empty()).then_some(steal)
}

/// The steal ticks of every `cpuN` line, sorted by CPU. The aggregate `cpu` line and the
/// other lines (`intr`, `ctxt`, ...) are skipped; a `cpuN` line with fewer than 8 values or
/// with anything but numbers makes the whole text unusable (`None`), as does having no
/// `cpuN` line at all.
fn parse_steal_ticks(stat: &str) -> Option<Vec<CpuTicks>> {
    let mut cpus = Vec::new();
    for line in stat.lines() {
        let mut fields = line.split_whitespace();
        let Some(index) = fields.next().and_then(|name| name.strip_prefix("cpu")) else {
            continue;
        };
        if index.is_empty() {
            continue;
        }
        let values = fields
            .map(|value| value.parse::<u64>().ok())
            .collect::<Option<Vec<u64>>>()?;
        cpus.push(CpuTicks {
            cpu: index.parse().ok()?,
            steal: *values.get(7)?,
        });
    }
    cpus.sort_by_key(|ticks| ticks.cpu);
    (!cpus.is_empty()).then_some(cpus)
}

#[cfg(test)]
mod tests;
