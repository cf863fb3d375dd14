//! The results Markdown that `loadtest summarize` writes: the machine, the
//! notes, every figure against its target, the chat-fanout runs side by side
//! (one Redis against a cluster, alone against mixed), and each scenario's
//! steps.

use std::fmt::Write as _;

use crate::{
    report::{Report, Suite, number},
    series::{self, FIXED_RATES},
};

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
        md.push_str(&side_by_side(&self.scenarios));
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
        let variants = r.steps.iter().any(|s| s.variant.is_some());
        md.push_str(if variants {
            "| step | variant | offered /s | achieved /s |"
        } else {
            "| step | offered /s | achieved /s |"
        });
        for n in &names {
            let _ = write!(md, " {n} p50 | p99 | p99.9 ms |");
        }
        md.push_str(if variants {
            " counts | kept up |\n|---|---|---:|---:|"
        } else {
            " counts | kept up |\n|---|---:|---:|"
        });
        for _ in &names {
            md.push_str("---:|---:|---:|");
        }
        md.push_str("---|---|\n");
        for s in &r.steps {
            let _ = write!(md, "| {} |", s.label);
            if variants {
                let _ = write!(md, " {} |", s.variant.as_deref().unwrap_or(""));
            }
            let _ = write!(
                md,
                " {} | {} |",
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

/// One row per chat-fanout series: the best step, latency and CPU at the fixed
/// rates, and the load average when the run began (other work on the machine).
fn side_by_side(reports: &[Report]) -> String {
    let all = series::fanout(reports);
    if all.len() < 2 {
        return String::new();
    }
    let mut md = String::from(
        "\n## chat-fanout side by side\n\n| run | Redis | deliveries/s, highest step with p99 < 50 ms | p50 / p99 there, ms |",
    );
    for rate in FIXED_RATES {
        let _ = write!(md, " p50 / p99 at {} /s, ms |", number(rate));
    }
    let _ = writeln!(
        md,
        " chat CPU per delivery at {} /s | read + typing frames per delivery there | load average at start |",
        number(FIXED_RATES[0])
    );
    md.push_str("|---|---|---:|---:|");
    for _ in FIXED_RATES {
        md.push_str("---:|");
    }
    md.push_str("---:|---:|---:|\n");
    for s in &all {
        let redis = s.report.settings.get("redis").map_or("", String::as_str);
        let (best, there) = match s.best() {
            Some(b) => (number(b.achieved_per_sec), p50_p99(b)),
            None => ("none kept up".to_owned(), String::new()),
        };
        let _ = write!(md, "| {} | {redis} | {best} | {there} |", s.name);
        for rate in FIXED_RATES {
            let _ = write!(md, " {} |", s.at(rate).map(p50_p99).unwrap_or_default());
        }
        let first = s.at(FIXED_RATES[0]);
        let cpu = first
            .and_then(|step| {
                series::cpu_per_delivery(step)
                    .into_iter()
                    .find(|(name, _)| name == "chat")
            })
            .map(|(_, us)| format!("{} µs", number(us)))
            .unwrap_or_default();
        let events = first
            .map(series::events_per_delivery)
            .filter(|e| *e > 0.0)
            .map(number)
            .unwrap_or_default();
        let load = s
            .report
            .loadavg_at_start
            .map(|l| format!("{l:.2}"))
            .unwrap_or_default();
        let _ = writeln!(md, " {cpu} | {events} | {load} |");
    }
    md
}

fn p50_p99(step: &crate::report::Step) -> String {
    step.latency
        .get("delivery")
        .map(|l| format!("{} / {}", number(l.p50_ms), number(l.p99_ms)))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Step, tests::sample};

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

    #[test]
    fn fanout_runs_are_shown_side_by_side_and_variants_get_a_column() {
        let plain = sample();
        let mut cluster = sample();
        cluster.scenario = "chat-fanout-cluster".into();
        cluster.setting("redis", "cluster");
        let mut mixed = sample();
        mixed.scenario = "chat-fanout-mixed".into();
        let alone = mixed.steps[0].clone();
        mixed.steps = vec![
            Step {
                variant: Some("alone".into()),
                ..alone.clone()
            },
            Step {
                variant: Some("mixed".into()),
                achieved_per_sec: 90_000.0,
                ..alone
            },
        ];
        let md = suite(vec![plain, cluster, mixed]).markdown();
        assert!(md.contains("## chat-fanout side by side"), "{md}");
        assert!(
            md.contains("| chat-fanout-cluster | cluster | 99,870 | 1.2 / 3.4 |"),
            "{md}"
        );
        assert!(
            md.contains("| chat-fanout-mixed (mixed) |  | 90,000 |"),
            "{md}"
        );
        assert!(md.contains("| 1 | mixed | 100,000 | 90,000 |"), "{md}");
        let single = suite(vec![sample()]).markdown();
        assert!(
            !single.contains("side by side"),
            "one run has nothing beside it"
        );
    }
}
