//! The chat-fanout runs of a suite as series, one per report and variant
//! (chat-fanout, chat-fanout-cluster, chat-fanout-mixed's alone and mixed
//! steps), and what is read off a series' steps: its best step, its step at a
//! fixed rate, CPU and event frames per delivery. The side-by-side table, the
//! plot and the reports' own figures all read them the same way.

use crate::{
    cpu,
    report::{Report, Step},
};

/// Offered rates (deliveries/s) whose latency is always reported: well inside
/// what this machine sustains (the best step has ranged from 30,000 to
/// 80,000 deliveries/s), so every variant reaches them in every run.
pub const FIXED_RATES: [f64; 2] = [20_000.0, 40_000.0];

/// One report's steps of one variant.
#[derive(Debug)]
pub struct Series<'a> {
    /// `chat-fanout`, `chat-fanout-mixed (mixed)`, …
    pub name: String,
    pub report: &'a Report,
    pub steps: Vec<&'a Step>,
}

impl Series<'_> {
    /// The highest step that kept up.
    pub fn best(&self) -> Option<&Step> {
        self.steps
            .iter()
            .copied()
            .filter(|s| s.kept_up)
            .max_by(|a, b| a.achieved_per_sec.total_cmp(&b.achieved_per_sec))
    }

    /// The step offered at `rate` deliveries/s (within 1 %).
    pub fn at(&self, rate: f64) -> Option<&Step> {
        self.steps
            .iter()
            .copied()
            .find(|s| (s.offered_per_sec - rate).abs() < rate * 0.01)
    }
}

/// Whether a report is one of chat-fanout's runs.
pub fn is_fanout(report: &Report) -> bool {
    report.scenario.starts_with("chat-fanout")
}

/// Every chat-fanout series of `reports`, in report order, variants in the
/// order they first ran.
pub fn fanout(reports: &[Report]) -> Vec<Series<'_>> {
    let mut out = Vec::new();
    for report in reports.iter().filter(|r| is_fanout(r)) {
        let mut variants: Vec<Option<&str>> = Vec::new();
        for s in &report.steps {
            if !variants.contains(&s.variant.as_deref()) {
                variants.push(s.variant.as_deref());
            }
        }
        for variant in variants {
            out.push(Series {
                name: variant.map_or_else(
                    || report.scenario.clone(),
                    |v| format!("{} ({v})", report.scenario),
                ),
                report,
                steps: report
                    .steps
                    .iter()
                    .filter(|s| s.variant.as_deref() == variant)
                    .collect(),
            });
        }
    }
    out
}

fn count(step: &Step, name: &str) -> u64 {
    step.counts.get(name).copied().unwrap_or(0)
}

/// CPU µs per message delivered during a step, per watched process (the chat
/// replicas summed as `chat`), in the order the counts sort.
pub fn cpu_per_delivery(step: &Step) -> Vec<(String, f64)> {
    let received = count(step, "received").max(1);
    let mut out: Vec<(String, f64)> = Vec::new();
    for (key, ms) in &step.counts {
        let Some(name) = key.strip_prefix(cpu::STEP_PREFIX) else {
            continue;
        };
        let name = if name.starts_with("chat") {
            "chat"
        } else {
            name
        };
        #[allow(clippy::cast_precision_loss)]
        let us = (*ms * 1000) as f64 / received as f64;
        match out.iter_mut().find(|(n, _)| n == name) {
            Some((_, total)) => *total += us,
            None => out.push((name.to_owned(), us)),
        }
    }
    for (_, us) in &mut out {
        *us = round2(*us);
    }
    out
}

/// `read` and `typing` frames received per message delivered during a step.
pub fn events_per_delivery(step: &Step) -> f64 {
    let events = count(step, "read_received") + count(step, "typing_received");
    #[allow(clippy::cast_precision_loss)]
    round2(events as f64 / count(step, "received").max(1) as f64)
}

pub fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn step(variant: Option<&str>, offered: f64, achieved: f64, kept_up: bool) -> Step {
        Step {
            label: "1".into(),
            variant: variant.map(str::to_owned),
            offered_per_sec: offered,
            achieved_per_sec: achieved,
            unit: "deliveries".into(),
            latency: BTreeMap::new(),
            counts: BTreeMap::from([
                ("received".to_owned(), 100_000),
                ("read_received".to_owned(), 150_000),
                ("typing_received".to_owned(), 50_000),
                ("cpu_ms:chat-a".to_owned(), 600),
                ("cpu_ms:chat-b".to_owned(), 400),
                ("cpu_ms:loadtest".to_owned(), 900),
            ]),
            kept_up,
        }
    }

    #[test]
    fn reports_split_into_one_series_per_variant() {
        let mut plain = Report::new("chat-fanout");
        plain.steps = vec![step(None, 10_000.0, 9_990.0, true)];
        let mut mixed = Report::new("chat-fanout-mixed");
        mixed.steps = vec![
            step(Some("alone"), 10_000.0, 9_990.0, true),
            step(Some("mixed"), 10_000.0, 9_980.0, true),
            step(Some("mixed"), 20_000.0, 19_900.0, true),
            step(Some("alone"), 20_000.0, 19_950.0, false),
        ];
        let other = Report::new("chat-store");
        let reports = [plain, other, mixed];
        let series = fanout(&reports);
        let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "chat-fanout",
                "chat-fanout-mixed (alone)",
                "chat-fanout-mixed (mixed)"
            ]
        );
        assert_eq!(series[1].best().map(|s| s.achieved_per_sec), Some(9_990.0));
        assert_eq!(series[2].best().map(|s| s.achieved_per_sec), Some(19_900.0));
        assert_eq!(
            series[2].at(20_100.0).map(|s| s.achieved_per_sec),
            Some(19_900.0)
        );
        assert!(series[2].at(30_000.0).is_none());
    }

    #[test]
    fn cpu_and_event_frames_are_counted_per_message_delivery() {
        let s = step(None, 10_000.0, 9_990.0, true);
        assert_eq!(
            cpu_per_delivery(&s),
            vec![("chat".to_owned(), 10.0), ("loadtest".to_owned(), 9.0)]
        );
        assert_eq!(events_per_delivery(&s), 2.0);
    }
}
