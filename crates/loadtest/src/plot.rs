//! The chat-fanout plot: delivery latency percentiles against offered load.
//! One run: its p50, p99 and p99.9. Several (one Redis and a cluster, alone and
//! mixed): each run's p99 as a solid line and its p50 dashed, in one colour.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use plotters::prelude::*;

use crate::{
    report::Report,
    series::{self, Series},
    targets,
};

/// Offered thousand deliveries/s, then p50, p99 and p99.9 in ms, of one step.
pub type Point = (f64, f64, f64, f64);

/// A line to draw: its legend, colour, whether dashed, its points.
struct Line {
    name: String,
    colour: RGBColor,
    dashed: bool,
    data: Vec<(f64, f64)>,
}

/// One point per step of a series.
pub fn points(series: &Series<'_>) -> Vec<Point> {
    series
        .steps
        .iter()
        .filter_map(|s| {
            let l = s.latency.get("delivery")?;
            Some((s.offered_per_sec / 1000.0, l.p50_ms, l.p99_ms, l.p999_ms))
        })
        .collect()
}

const COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
];

/// Writes the PNG of every chat-fanout run among `reports`. The font is
/// `font`, or what `fc-match` finds for sans-serif.
pub fn fanout(reports: &[Report], path: &Path, font: Option<&Path>) -> anyhow::Result<()> {
    let all: Vec<(String, Vec<Point>)> = series::fanout(reports)
        .iter()
        .map(|s| (s.name.clone(), points(s)))
        .filter(|(_, p)| !p.is_empty())
        .collect();
    if all.is_empty() {
        bail!("no chat-fanout report has steps to plot");
    }
    register_font(font)?;
    let every = || all.iter().flat_map(|(_, p)| p.iter());
    let x_max = every().map(|p| p.0).fold(0.0, f64::max) * 1.1;
    let y_min = every()
        .map(|p| p.1)
        .fold(f64::INFINITY, f64::min)
        .clamp(0.01, 1.0)
        / 2.0;
    let top = if all.len() == 1 {
        every().map(|p| p.3).fold(0.0, f64::max)
    } else {
        every().map(|p| p.2).fold(0.0, f64::max)
    };
    let y_max = top.max(targets::FANOUT_P99_MS.value) * 2.0;

    let root = BitMapBackend::new(path, (1000, 620)).into_drawing_area();
    root.fill(&WHITE).map_err(draw)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "chat-fanout: delivery latency against offered load",
            ("sans-serif", 26),
        )
        .margin(20)
        .x_label_area_size(55)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..x_max, (y_min..y_max).log_scale())
        .map_err(draw)?;
    chart
        .configure_mesh()
        .x_desc("offered load (thousand deliveries/s)")
        .y_desc("latency, ms (log scale)")
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 18))
        .draw()
        .map_err(draw)?;
    let line =
        |name: String, colour: RGBColor, dashed: bool, p: &[Point], y: fn(&Point) -> f64| Line {
            name,
            colour,
            dashed,
            data: p.iter().map(|p| (p.0, y(p))).collect(),
        };
    let lines: Vec<Line> = if let [(_, p)] = &all[..] {
        vec![
            line("p50".into(), BLUE, false, p, |p| p.1),
            line("p99".into(), RED, false, p, |p| p.2),
            line("p99.9".into(), MAGENTA, false, p, |p| p.3),
        ]
    } else {
        all.iter()
            .zip(COLOURS.iter().cycle())
            .flat_map(|((name, p), colour)| {
                [
                    line(format!("{name} p99"), *colour, false, p, |p| p.2),
                    line(format!("{name} p50"), *colour, true, p, |p| p.1),
                ]
            })
            .collect()
    };
    for Line {
        name,
        colour,
        dashed,
        data,
    } in lines
    {
        let style = colour.stroke_width(if dashed { 1 } else { 2 });
        let drawn = if dashed {
            chart.draw_series(DashedLineSeries::new(data.clone(), 6, 4, style))
        } else {
            chart.draw_series(LineSeries::new(data.clone(), style))
        };
        drawn.map_err(draw)?.label(name).legend(move |(x, y)| {
            PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
        });
        chart
            .draw_series(data.into_iter().map(|p| Circle::new(p, 3, colour.filled())))
            .map_err(draw)?;
    }
    let limit = targets::FANOUT_P99_MS.value;
    chart
        .draw_series(LineSeries::new(
            vec![(0.0, limit), (x_max, limit)],
            BLACK.mix(0.5),
        ))
        .map_err(draw)?
        .label("p99 limit, 50 ms")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.mix(0.5)));
    // One run: its curves rise to the right, the upper left is free. Several:
    // the fastest reach far right at low latency only at their p50s, so the
    // lower right is where the legend covers least.
    chart
        .configure_series_labels()
        .position(if all.len() == 1 {
            SeriesLabelPosition::UpperLeft
        } else {
            SeriesLabelPosition::LowerRight
        })
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(draw)?;
    root.present().map_err(draw)?;
    Ok(())
}

fn draw<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow::anyhow!("drawing the plot: {e:?}")
}

fn register_font(font: Option<&Path>) -> anyhow::Result<()> {
    let path = match font {
        Some(p) => p.to_path_buf(),
        None => find_font()
            .context("no font for the plot: install fonts-dejavu-core (or pass --font)")?,
    };
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    // plotters keeps registered fonts for the life of the process.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| anyhow::anyhow!("{} is not a usable TrueType font", path.display()))
}

fn find_font() -> Option<PathBuf> {
    let out = std::process::Command::new("fc-match")
        .args(["--format=%{file}", "sans-serif:style=Book"])
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    path.is_file().then_some(path)
}
