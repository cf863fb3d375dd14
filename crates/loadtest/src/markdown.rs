//! The results Markdown that `loadtest summarize` writes: the machine, the
//! notes, every figure against its target, and each scenario's steps.

use std::fmt::Write as _;

use crate::report::{Report, Suite, number};

impl Suite {
    pub fn markdown(&self) -> String {
        let mut md = format!("# Benchmark results, {}\n\n", self.created_at);
        let _ = writeln!(md, "Reproduce with `{}`.\n", self.command);
        if !self.machine.is_empty() {
            md.push_str("Machine:\n\n");
            for line in &self.machine {
                let _ = writeln!(md, "- {line}");
            }
            md.push('\n');
        }
        for note in &self.notes {
            let _ = writeln!(md, "> {note}\n");
        }
        md.push_str(
            "## Summary\n\n| scenario | figure | measured | target | |\n|---|---|---:|---|---|\n",
        );
        for r in &self.scenarios {
            for f in &r.figures {
                let (target, verdict) = match (f.target, f.met()) {
                    (Some(t), Some(met)) => (
                        format!("{} {}", t.describe(), f.unit),
                        if met { "met" } else { "**missed**" },
                    ),
                    _ => (String::new(), ""),
                };
                let _ = writeln!(
                    md,
                    "| {} | {} | {} {} | {target} | {verdict} |",
                    r.scenario,
                    f.name,
                    number(f.value),
                    f.unit
                );
            }
        }
        if let Some(plot) = &self.plot {
            let _ = writeln!(md, "\n![chat-fanout latency against offered load]({plot})");
        }
        for r in &self.scenarios {
            md.push_str(&scenario_markdown(r));
        }
        md
    }
}

fn scenario_markdown(r: &Report) -> String {
    let mut md = format!("\n## {}\n\n", r.scenario);
    let load = r
        .loadavg_at_start
        .map(|l| format!(", load average {l:.2} at start"))
        .unwrap_or_default();
    let _ = writeln!(
        md,
        "Started {}, {:.0} s{load}.\n",
        r.started_at, r.elapsed_secs
    );
    if !r.settings.is_empty() {
        let settings: Vec<String> = r.settings.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(md, "Settings: `{}`\n", settings.join(" "));
    }
    if !r.steps.is_empty() {
        let names: Vec<&String> = r
            .steps
            .iter()
            .flat_map(|s| s.latency.keys())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        md.push_str("| step | offered /s | achieved /s |");
        for n in &names {
            let _ = write!(md, " {n} p50 | p99 | p99.9 ms |");
        }
        md.push_str(" counts | kept up |\n|---|---:|---:|");
        for _ in &names {
            md.push_str("---:|---:|---:|");
        }
        md.push_str("---|---|\n");
        for s in &r.steps {
            let _ = write!(
                md,
                "| {} | {} | {} |",
                s.label,
                number(s.offered_per_sec),
                number(s.achieved_per_sec)
            );
            for n in &names {
                match s.latency.get(*n) {
                    Some(l) => {
                        let _ = write!(
                            md,
                            " {} | {} | {} |",
                            number(l.p50_ms),
                            number(l.p99_ms),
                            number(l.p999_ms)
                        );
                    }
                    None => md.push_str(" | | |"),
                }
            }
            let counts: Vec<String> = s.counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let _ = writeln!(
                md,
                " {} | {} |",
                counts.join(", "),
                if s.kept_up { "yes" } else { "no" }
            );
        }
        md.push('\n');
    }
    for n in &r.notes {
        let _ = writeln!(md, "- {n}");
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::sample;

    fn suite(scenarios: Vec<Report>) -> Suite {
        Suite {
            created_at: "2026-11-23".into(),
            command: "make bench".into(),
            machine: vec!["2 cores".into()],
            notes: vec![],
            plot: Some("fanout.png".into()),
            scenarios,
        }
    }

    #[test]
    fn markdown_has_the_summary_and_step_tables() {
        let suite = suite(vec![sample()]);
        let md = suite.markdown();
        assert!(md.contains("| chat-fanout | deliveries/s | 151,235 deliveries/s | ≥ 150,000 deliveries/s | met |"), "{md}");
        assert!(md.contains("**missed**"));
        assert!(
            md.contains("| 1 | 100,000 | 99,870 | 1.2 | 3.4 | 9.9 |"),
            "{md}"
        );
        assert!(md.contains("![chat-fanout"));
        let json = serde_json::to_string(&suite).unwrap_or_else(|e| panic!("{e}"));
        let back: Suite = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, suite);
    }
}
