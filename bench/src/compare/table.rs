//! The comparison as one plain-text table, a row per run in the order they ran.

use super::{CompareRun, Figures};

const HEADER: [&str; 8] = [
    "server",
    "viewers",
    "server CPU %",
    "RSS MiB",
    "Mbps out",
    "unrecovered loss %",
    "p99 latency ms",
    "CPU us per viewer-packet",
];

/// A run's cells; a failed run has only its name and count, then the error after them.
struct Row {
    cells: Vec<String>,
    error: Option<String>,
}

pub fn table(runs: &[CompareRun]) -> String {
    let mut rows = vec![Row {
        cells: HEADER.iter().map(|&title| title.to_owned()).collect(),
        error: None,
    }];
    rows.extend(runs.iter().map(row));
    align(&rows)
}

fn row(run: &CompareRun) -> Row {
    let report = match &run.result {
        Ok(report) => report,
        Err(error) => {
            return Row {
                cells: vec![run.target.clone(), run.viewers.to_string()],
                error: Some(format!("failed: {error}")),
            };
        }
    };
    let figures = Figures::of(report);
    // Viewers that never connected are shown, since the other figures cover fewer viewers.
    let viewers = if report.viewers_failed == 0 {
        run.viewers.to_string()
    } else {
        format!("{}/{}", report.viewers_connected, run.viewers)
    };
    let mib = |bytes: u64| bytes as f64 / f64::from(1 << 20);
    Row {
        cells: vec![
            run.target.clone(),
            viewers,
            decimal(figures.server_cpu_percent, 1),
            decimal(figures.server_rss_bytes.map(mib), 1),
            decimal(figures.mbps_out, 1),
            decimal(figures.unrecovered_loss_percent, 3),
            decimal(figures.p99_latency_ms, 1),
            decimal(figures.server_cpu_us_per_viewer_packet, 2),
        ],
        error: None,
    }
}

fn decimal(figure: Option<f64>, places: usize) -> String {
    figure.map_or_else(|| "-".to_owned(), |value| format!("{value:.places$}"))
}

/// The first column left-aligned, the others right-aligned, two spaces apart; an error
/// follows its row's cells without widening any column.
fn align(rows: &[Row]) -> String {
    let mut widths = Vec::new();
    for row in rows {
        for (column, cell) in row.cells.iter().enumerate() {
            let width = cell.chars().count();
            match widths.get_mut(column) {
                Some(widest) => *widest = width.max(*widest),
                None => widths.push(width),
            }
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (column, (cell, width)) in row.cells.iter().zip(&widths).enumerate() {
            if column == 0 {
                line.push_str(&format!("{cell:<width$}"));
            } else {
                line.push_str(&format!("  {cell:>width$}"));
            }
        }
        if let Some(error) = &row.error {
            line.push_str("  ");
            line.push_str(error);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
