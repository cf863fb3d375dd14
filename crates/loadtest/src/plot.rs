//! The chat-fanout plot: delivery latency percentiles against offered load.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use plotters::prelude::*;

use crate::{report::Report, targets};

/// (offered thousand deliveries/s, p50, p99, p99.9 in ms) per step.
pub fn points(report: &Report) -> Vec<(f64, f64, f64, f64)> {
    report
        .steps
        .iter()
        .filter_map(|s| {
            let l = s.latency.get("delivery")?;
            Some((s.offered_per_sec / 1000.0, l.p50_ms, l.p99_ms, l.p999_ms))
        })
        .collect()
}

/// Writes the PNG. The font is `font`, or what `fc-match` finds for sans-serif.
pub fn fanout(report: &Report, path: &Path, font: Option<&Path>) -> anyhow::Result<()> {
    let points = points(report);
    if points.is_empty() {
        bail!("the chat-fanout report has no steps to plot");
    }
    register_font(font)?;
    let x_max = points.iter().map(|p| p.0).fold(0.0, f64::max) * 1.1;
    let y_min = points
        .iter()
        .map(|p| p.1)
        .fold(f64::INFINITY, f64::min)
        .clamp(0.01, 1.0)
        / 2.0;
    let y_max = points
        .iter()
        .map(|p| p.3)
        .fold(targets::FANOUT_P99_MS.value, f64::max)
        * 2.0;

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
    let series = [
        (
            "p50",
            BLUE,
            points.iter().map(|p| (p.0, p.1)).collect::<Vec<_>>(),
        ),
        ("p99", RED, points.iter().map(|p| (p.0, p.2)).collect()),
        (
            "p99.9",
            MAGENTA,
            points.iter().map(|p| (p.0, p.3)).collect(),
        ),
    ];
    for (name, color, data) in series {
        chart
            .draw_series(LineSeries::new(data.clone(), color.stroke_width(2)))
            .map_err(draw)?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart
            .draw_series(data.into_iter().map(|p| Circle::new(p, 4, color.filled())))
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
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
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
