//! The plotters side of [`render_svg`](super::render_svg): each chart on its own strip of
//! one SVG canvas.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{LegendCorner, LineChart, PlotError};

const PANEL_WIDTH: u32 = 960;
const PANEL_HEIGHT: u32 = 480;
/// Room above the highest point, so it is not drawn on the frame.
const HEADROOM: f64 = 1.05;

type Panel<'a> = DrawingArea<SVGBackend<'a>, Shift>;

pub(super) fn svg(charts: &[LineChart]) -> Result<String, PlotError> {
    let rows = u32::try_from(charts.len().max(1))
        .map_err(|_| PlotError::Draw(format!("{} charts", charts.len())))?;
    let mut svg = String::new();
    {
        let size = (PANEL_WIDTH, PANEL_HEIGHT.saturating_mul(rows));
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let panels = root.split_evenly((charts.len().max(1), 1));
        for (chart, panel) in charts.iter().zip(&panels) {
            draw_chart(chart, panel)?;
        }
        // The backend writes into `svg` here; dropping it at the end of the block would
        // swallow any error.
        root.present().map_err(draw_error)?;
    }
    Ok(svg)
}

fn draw_chart(chart: &LineChart, panel: &Panel<'_>) -> Result<(), PlotError> {
    let (x_end, y_end) = axis_ends(chart);
    let mut context = ChartBuilder::on(panel)
        .caption(&chart.title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(0.0..x_end, 0.0..y_end)
        .map_err(draw_error)?;
    context
        .configure_mesh()
        .x_desc(chart.x_label.as_str())
        .y_desc(chart.y_label.as_str())
        .draw()
        .map_err(draw_error)?;
    let point_size = if chart.mark_points { 3 } else { 0 };
    let mut drawn = 0;
    for (index, series) in chart.series.iter().enumerate() {
        if series.points.is_empty() {
            continue;
        }
        let style = Palette99::pick(index).stroke_width(2);
        let line = LineSeries::new(series.points.iter().copied(), style).point_size(point_size);
        context
            .draw_series(line)
            .map_err(draw_error)?
            .label(series.name.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
        drawn += 1;
    }
    if drawn == 0 {
        return Ok(());
    }
    let position = match chart.legend {
        LegendCorner::UpperLeft => SeriesLabelPosition::UpperLeft,
        LegendCorner::LowerRight => SeriesLabelPosition::LowerRight,
    };
    context
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(draw_error)
}

/// The far ends of both axes: just past the largest value, or 1 when there is nothing to
/// show, so the range is never empty.
fn axis_ends(chart: &LineChart) -> (f64, f64) {
    let points = || chart.series.iter().flat_map(|series| &series.points);
    let end = |largest: f64| {
        if largest.is_finite() && largest > 0.0 {
            largest * HEADROOM
        } else {
            1.0
        }
    };
    (
        end(points().map(|&(x, _)| x).fold(0.0, f64::max)),
        end(points().map(|&(_, y)| y).fold(0.0, f64::max)),
    )
}

fn draw_error(error: impl std::fmt::Display) -> PlotError {
    PlotError::Draw(error.to_string())
}
