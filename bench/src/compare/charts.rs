//! `compare --plot PATH`: server CPU and unrecovered loss against viewers, a line per
//! server, and each server's video latency distribution at the most viewers it was run with.

use crate::driver::RunReport;
use crate::plot::{LegendCorner, LineChart, Series};

use super::{CompareRun, Figures};

pub fn charts(runs: &[CompareRun]) -> Vec<LineChart> {
    let targets = target_names(runs);
    let against_viewers =
        |title: &str, y_label: &str, figure: fn(&Figures) -> Option<f64>| LineChart {
            title: title.to_owned(),
            x_label: "viewers".to_owned(),
            y_label: y_label.to_owned(),
            series: targets
                .iter()
                .map(|&target| Series {
                    name: target.to_owned(),
                    points: points_against_viewers(runs, target, figure),
                })
                .collect(),
            legend: LegendCorner::UpperLeft,
            mark_points: true,
        };
    let latency_tracks: Vec<_> = targets
        .iter()
        .filter_map(|&target| {
            let (viewers, report) = largest_run(runs, target)?;
            Some((format!("{target}, {viewers} viewers"), &report.video))
        })
        .collect();
    vec![
        against_viewers(
            "server CPU against viewers",
            "server CPU (% of one core)",
            |figures| figures.server_cpu_percent,
        ),
        against_viewers(
            "unrecovered loss against viewers",
            "unrecovered loss (% of packets sent)",
            |figures| figures.unrecovered_loss_percent,
        ),
        LineChart::latency_cdf(
            "video latency at each server's largest viewer count",
            &latency_tracks,
        ),
    ]
}

/// The targets in the order they first ran.
fn target_names(runs: &[CompareRun]) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for run in runs {
        if !names.contains(&run.target.as_str()) {
            names.push(&run.target);
        }
    }
    names
}

/// The target's successful runs that measured `figure`, by rising viewer count.
fn points_against_viewers(
    runs: &[CompareRun],
    target: &str,
    figure: fn(&Figures) -> Option<f64>,
) -> Vec<(f64, f64)> {
    let mut points: Vec<(f64, f64)> = runs
        .iter()
        .filter(|run| run.target == target)
        .filter_map(|run| {
            let report = run.result.as_ref().ok()?;
            Some((run.viewers as f64, figure(&Figures::of(report))?))
        })
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    points
}

/// The target's successful run with the most viewers.
fn largest_run<'a>(runs: &'a [CompareRun], target: &str) -> Option<(usize, &'a RunReport)> {
    runs.iter()
        .filter(|run| run.target == target)
        .filter_map(|run| Some((run.viewers, run.result.as_ref().ok()?)))
        .max_by_key(|&(viewers, _)| viewers)
}
