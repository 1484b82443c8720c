//! Charts built from known figures, drawn to SVG text and to files.

use std::time::Duration;

use crate::accounting::{LatencyHistogram, Summary, ViewerStats};

use super::*;

fn summary_with_latencies(millis: &[u64]) -> Summary {
    let mut latency = LatencyHistogram::default();
    for &ms in millis {
        latency.record(Duration::from_millis(ms));
    }
    let mut summary = Summary::new();
    summary.add(&ViewerStats {
        counters: Default::default(),
        longest_freeze: Duration::ZERO,
        frozen_for: None,
        join_time: None,
        first_keyframe_time: None,
        latency,
        bitrate_bps: 0,
    });
    summary
}

fn sweep_chart() -> LineChart {
    LineChart {
        title: "server CPU".to_owned(),
        x_label: "viewers".to_owned(),
        y_label: "server CPU (% of one core)".to_owned(),
        series: vec![
            Series {
                name: "shardcast".to_owned(),
                points: vec![(100.0, 12.5), (250.0, 30.0), (500.0, 61.0)],
            },
            Series {
                name: "other <sfu>".to_owned(),
                points: vec![(100.0, 40.0), (250.0, 95.0)],
            },
        ],
        legend: LegendCorner::UpperLeft,
        mark_points: true,
    }
}

/// A file in the temporary directory that no other test, or other run of this one, uses.
fn temp_svg(test: &str) -> PathBuf {
    std::env::temp_dir().join(format!("shardcast-bench-{test}-{}.svg", std::process::id()))
}

#[test]
fn only_svg_paths_are_accepted() {
    assert!(check_svg_path(Path::new("out/plot.svg")).is_ok());
    assert!(check_svg_path(Path::new("PLOT.SVG")).is_ok());
    for bad in ["plot.png", "plot", "svg", "plot.svg.txt"] {
        let error = check_svg_path(Path::new(bad)).unwrap_err();
        assert!(error.to_string().contains(".svg"), "{bad}: {error}");
    }
    let error = write_svg(Path::new("plot.png"), &[sweep_chart()]).unwrap_err();
    assert!(matches!(error, PlotError::NotSvg(_)), "{error}");
}

#[test]
fn the_latency_cdf_is_in_milliseconds_and_ends_at_one() {
    let video = summary_with_latencies(&[10, 20, 20, 40]);
    let audio = Summary::new();
    let chart = LineChart::latency_cdf(
        "latency",
        &[("video".to_owned(), &video), ("audio".to_owned(), &audio)],
    );
    assert_eq!(chart.series.len(), 2);
    let points = &chart.series[0].points;
    assert_eq!(points.len(), 3, "{points:?}");
    assert_eq!(points.first().map(|&(_, y)| y), Some(0.25));
    assert_eq!(points.last().map(|&(_, y)| y), Some(1.0));
    for &(ms, _) in points {
        assert!((9.0..=41.0).contains(&ms), "{ms} ms");
    }
    assert!(chart.series[1].points.is_empty(), "no audio, no points");
}

#[test]
fn the_svg_names_every_series_with_points() {
    let video = summary_with_latencies(&[5, 8, 13]);
    let audio = Summary::new();
    let charts = [
        sweep_chart(),
        LineChart::latency_cdf(
            "latency at 500 viewers",
            &[("video".to_owned(), &video), ("audio".to_owned(), &audio)],
        ),
    ];
    let svg = render_svg(&charts).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
    for text in [
        "server CPU",
        "server CPU (% of one core)",
        "shardcast",
        "other &lt;sfu&gt;",
        "latency at 500 viewers",
        "end-to-end latency (ms)",
        "video",
    ] {
        assert!(svg.contains(text), "{text} is missing");
    }
    assert!(
        !svg.contains("audio"),
        "an empty series gets no legend entry"
    );
}

#[test]
fn the_plot_is_written_to_the_file() {
    let path = temp_svg("plot-written");
    write_svg(&path, &[sweep_chart()]).unwrap();
    let written = std::fs::read_to_string(&path);
    std::fs::remove_file(&path).unwrap();
    let written = written.unwrap();
    assert!(written.contains("shardcast") && written.contains("other &lt;sfu&gt;"));
    assert!(written.trim_end().ends_with("</svg>"));

    let nowhere = std::env::temp_dir()
        .join(format!("shardcast-bench-missing-{}", std::process::id()))
        .join("plot.svg");
    let error = write_svg(&nowhere, &[sweep_chart()]).unwrap_err();
    assert!(matches!(error, PlotError::Write { .. }), "{error}");
}
