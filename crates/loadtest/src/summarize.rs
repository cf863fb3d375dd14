//! `loadtest summarize`: scenario reports in, results Markdown, JSON and plot out.

use std::path::Path;

use anyhow::Context;

use crate::{
    cli::SummarizeArgs,
    plot,
    report::{Report, Suite},
    series,
};

pub fn run(args: &SummarizeArgs) -> anyhow::Result<Suite> {
    let mut scenarios = Vec::new();
    for path in &args.reports {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        scenarios
            .push(Report::from_json(&text).with_context(|| format!("parsing {}", path.display()))?);
    }
    let machine = match &args.machine {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading {}", path.display()))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        None => Vec::new(),
    };
    let mut suite = Suite {
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        command: args.command.clone(),
        machine,
        notes: args.note.clone(),
        plot: None,
        scenarios,
    };
    // Only a chat-fanout run has a plot: asked for one without such a run (a
    // `make bench` of other scenarios), there is simply none, and no note.
    if let Some(path) = &args.plot
        && suite.scenarios.iter().any(series::is_fanout)
    {
        match plot::fanout(&suite.scenarios, path, args.font.as_deref()) {
            Ok(()) => suite.plot = file_name(path),
            Err(e) => suite.notes.push(format!("plot not drawn: {e:#}")),
        }
    }
    if let Some(path) = &args.markdown {
        std::fs::write(path, suite.markdown())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.json_out {
        let json = serde_json::to_string_pretty(&suite)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(suite)
}

/// The plot is linked relative to the Markdown beside it.
fn file_name(path: &Path) -> Option<String> {
    path.file_name().map(|n| n.to_string_lossy().into_owned())
}
