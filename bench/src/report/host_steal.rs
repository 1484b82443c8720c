//! What the hypervisor took from each CPU in the steady window ("steal"): as a JSON list
//! and as one line of the table, set under the server's CPU figures that it skews.

use serde::Serialize;

use crate::host_steal::CpuSteal;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(super) struct CpuStealJson {
    cpu: u32,
    ms: f64,
    /// Of the steady window's wall time.
    percent: f64,
}

impl From<&CpuSteal> for CpuStealJson {
    fn from(steal: &CpuSteal) -> Self {
        Self {
            cpu: steal.cpu,
            ms: steal.ms,
            percent: steal.percent,
        }
    }
}

/// `host steal over the window (...): cpu0 40 ms (0.4%), cpu1 ...`, one line for all CPUs.
pub(super) fn line(steal: Option<&[CpuStealJson]>) -> String {
    let Some(cpus) = steal else {
        return "host steal: not measured\n".to_owned();
    };
    let cpus: Vec<String> = cpus
        .iter()
        .map(|cpu| format!("cpu{} {:.0} ms ({:.1}%)", cpu.cpu, cpu.ms, cpu.percent))
        .collect();
    format!(
        "host steal over the window (time the hypervisor took from each CPU): {}\n",
        cpus.join(", ")
    )
}
