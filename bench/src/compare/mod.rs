//! `shardcast-bench compare`: the same workload against several servers in turn, at one or
//! more viewer counts, and one table (and plot) to set them side by side.
//!
//! Files in the order a comparison meets them: `spec` (the `--target` and `--sweep` flags),
//! this file's [`run_all`] (the order of the runs), `figures` (what each run is reduced to),
//! then `table`, `json` and `charts` (how the figures are shown).

mod charts;
mod figures;
mod json;
mod spec;
mod table;
#[cfg(test)]
mod tests;

use std::fmt::Display;

use crate::driver::RunReport;

pub use charts::charts;
pub use figures::Figures;
pub use json::{to_json, write_json};
pub use spec::{check_unique_names, default_name, parse_sweep, parse_target};
pub use table::table;

/// One server under test: where its publisher and viewers post, and which processes are it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// How the server is called in the table and the plot.
    pub name: String,
    pub whip_url: String,
    pub whep_url: String,
    pub token: Option<String>,
    /// Processes sampled for CPU and memory; none leaves those figures out.
    pub server_pids: Vec<u32>,
    /// The server's Prometheus page (shardcast-signaling's /metrics), scraped at both ends of
    /// the steady window for its timer probe; none leaves that figure out.
    pub metrics_url: Option<String>,
}

/// One run of the comparison: a report, or why the run failed.
#[derive(Debug, Clone)]
pub struct CompareRun {
    pub target: String,
    pub viewers: usize,
    pub result: Result<RunReport, String>,
}

/// Runs every target at every viewer count, each count's targets in turn, so each server
/// sees the machine in as similar a state as the others. A failed run is kept as its error
/// and the comparison goes on; `finished` is told of each run as it ends.
pub fn run_all<E: Display>(
    targets: &[Target],
    viewer_counts: &[usize],
    mut run: impl FnMut(&Target, usize) -> Result<RunReport, E>,
    mut finished: impl FnMut(&CompareRun),
) -> Vec<CompareRun> {
    let mut runs = Vec::with_capacity(targets.len() * viewer_counts.len());
    for &viewers in viewer_counts {
        for target in targets {
            let compare_run = CompareRun {
                target: target.name.clone(),
                viewers,
                result: run(target, viewers).map_err(|error| error.to_string()),
            };
            finished(&compare_run);
            runs.push(compare_run);
        }
    }
    runs
}
