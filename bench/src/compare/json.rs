//! `compare --json PATH`: the table's figures as an array, one object per run, each with
//! the run's full report so nothing measured is lost.

use std::io;
use std::path::Path;

use serde::Serialize;

use crate::report::ReportJson;

use super::{CompareRun, Figures};

#[derive(Debug, Clone, PartialEq, Serialize)]
struct RunJson<'a> {
    target: &'a str,
    viewers: usize,
    /// Why the run failed; every figure is then `null`.
    error: Option<&'a str>,
    #[serde(flatten)]
    figures: Figures,
    report: Option<ReportJson>,
}

impl<'a> RunJson<'a> {
    fn of(run: &'a CompareRun) -> Self {
        let (figures, report, error) = match &run.result {
            Ok(report) => (
                Figures::of(report),
                Some(ReportJson::from_report(report)),
                None,
            ),
            Err(error) => (Figures::default(), None, Some(error.as_str())),
        };
        Self {
            target: &run.target,
            viewers: run.viewers,
            error,
            figures,
            report,
        }
    }
}

/// The runs as pretty JSON.
pub fn to_json(runs: &[CompareRun]) -> serde_json::Result<String> {
    let runs: Vec<RunJson<'_>> = runs.iter().map(RunJson::of).collect();
    serde_json::to_string_pretty(&runs)
}

/// Writes the runs as pretty JSON to `path`.
pub fn write_json(runs: &[CompareRun], path: &Path) -> io::Result<()> {
    std::fs::write(path, to_json(runs)? + "\n")
}
