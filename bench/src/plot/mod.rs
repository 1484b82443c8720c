//! `--plot PATH`: line charts written as one SVG file, panels stacked top to bottom.
//!
//! A [`LineChart`] is plain data (named series of points, axis labels with units), built by
//! whoever measured the figures; `draw` turns charts into SVG text with plotters and
//! [`write_svg`] puts it in the file. SVG only: its text is written as `<text>` elements, so
//! no system fonts are needed to make a plot.

mod draw;
#[cfg(test)]
mod tests;

use std::io;
use std::path::{Path, PathBuf};

use crate::accounting::Summary;

/// One panel: lines of (x, y) points, drawn on axes from zero.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    pub title: String,
    /// Axis descriptions, with units.
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// Where the legend goes: the corner the lines are expected to leave empty.
    pub legend: LegendCorner,
    /// Draws a dot at each point: for a few measured points rather than a dense curve.
    pub mark_points: bool,
}

/// One named line; its points are drawn in the order given.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegendCorner {
    UpperLeft,
    LowerRight,
}

#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("{0}: only SVG plots can be written; give a path ending in .svg")]
    NotSvg(PathBuf),
    #[error("cannot draw the plot: {0}")]
    Draw(String),
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
}

impl LineChart {
    /// The end-to-end latency distribution of each named track: x in milliseconds, y the
    /// fraction of packets that arrived within that time.
    pub fn latency_cdf(title: &str, tracks: &[(String, &Summary)]) -> Self {
        let series = tracks
            .iter()
            .map(|(name, summary)| Series {
                name: name.clone(),
                points: summary
                    .latency_cdf()
                    .map(|(latency, fraction)| (latency.as_secs_f64() * 1000.0, fraction))
                    .collect(),
            })
            .collect();
        Self {
            title: title.to_owned(),
            x_label: "end-to-end latency (ms)".to_owned(),
            y_label: "fraction of packets".to_owned(),
            series,
            legend: LegendCorner::LowerRight,
            mark_points: false,
        }
    }
}

/// Refuses a path that would not get an SVG file, before any work is done for it.
pub fn check_svg_path(path: &Path) -> Result<(), PlotError> {
    let is_svg = path
        .extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("svg"));
    if is_svg {
        Ok(())
    } else {
        Err(PlotError::NotSvg(path.to_owned()))
    }
}

/// Draws `charts` one under the other as SVG text.
pub fn render_svg(charts: &[LineChart]) -> Result<String, PlotError> {
    draw::svg(charts)
}

/// Draws `charts` into the SVG file at `path`, replacing it.
pub fn write_svg(path: &Path, charts: &[LineChart]) -> Result<(), PlotError> {
    check_svg_path(path)?;
    let svg = render_svg(charts)?;
    std::fs::write(path, svg).map_err(|source| PlotError::Write {
        path: path.to_owned(),
        source,
    })
}
