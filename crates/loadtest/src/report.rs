//! What a run produces: a JSON report per scenario, and the suite that
//! `loadtest summarize` assembles from them into Markdown.

use std::{collections::BTreeMap, fmt::Write as _};

use serde::{Deserialize, Serialize};

use crate::{hist::LatencySummary, procfs};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    AtLeast,
    AtMost,
    Below,
}

/// A figure's target, e.g. "at least 15 000".
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub op: Op,
    pub value: f64,
}

impl Target {
    pub const fn at_least(value: f64) -> Self {
        Self {
            op: Op::AtLeast,
            value,
        }
    }

    pub const fn at_most(value: f64) -> Self {
        Self {
            op: Op::AtMost,
            value,
        }
    }

    pub const fn below(value: f64) -> Self {
        Self {
            op: Op::Below,
            value,
        }
    }

    pub fn met(&self, value: f64) -> bool {
        match self.op {
            Op::AtLeast => value >= self.value,
            Op::AtMost => value <= self.value,
            Op::Below => value < self.value,
        }
    }

    pub fn describe(&self) -> String {
        let sign = match self.op {
            Op::AtLeast => "≥",
            Op::AtMost => "≤",
            Op::Below => "<",
        };
        format!("{sign} {}", number(self.value))
    }
}

/// One headline number of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    pub name: String,
    pub value: f64,
    pub unit: String,
    #[serde(default)]
    pub target: Option<Target>,
}

impl Figure {
    pub fn new(name: &str, value: f64, unit: &str, target: Option<Target>) -> Self {
        Self {
            name: name.to_owned(),
            value,
            unit: unit.to_owned(),
            target,
        }
    }

    pub fn met(&self) -> Option<bool> {
        self.target.map(|t| t.met(self.value))
    }
}

/// One load level of a stepped run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub label: String,
    /// Which variant of the scenario ran this step, when a report interleaves
    /// several (chat-fanout-mixed: `alone`, `mixed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// What was offered, per second, in `unit`.
    pub offered_per_sec: f64,
    /// What completed, per second, in `unit`.
    pub achieved_per_sec: f64,
    pub unit: String,
    #[serde(default)]
    pub latency: BTreeMap<String, LatencySummary>,
    #[serde(default)]
    pub counts: BTreeMap<String, u64>,
    /// Whether this level kept up (the scenario's criterion).
    pub kept_up: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub scenario: String,
    pub started_at: String,
    pub elapsed_secs: f64,
    /// The one-minute load average when the run began (other work on the machine).
    #[serde(default)]
    pub loadavg_at_start: Option<f64>,
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    pub figures: Vec<Figure>,
    #[serde(default)]
    pub steps: Vec<Step>,
    #[serde(default)]
    pub notes: Vec<String>,
}

impl Report {
    pub fn new(scenario: &str) -> Self {
        Self {
            scenario: scenario.to_owned(),
            started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            elapsed_secs: 0.0,
            loadavg_at_start: procfs::loadavg(),
            settings: BTreeMap::new(),
            figures: Vec::new(),
            steps: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn setting(&mut self, name: &str, value: impl ToString) {
        self.settings.insert(name.to_owned(), value.to_string());
    }

    pub fn figure(&mut self, name: &str, value: f64, unit: &str, target: Option<Target>) {
        self.figures.push(Figure::new(name, value, unit, target));
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    pub fn to_json(&self) -> serde_json::Result<String> {
        serde_json::to_string_pretty(self)
    }

    pub fn from_json(text: &str) -> serde_json::Result<Self> {
        serde_json::from_str(text)
    }

    /// The human summary: one line per figure.
    pub fn text(&self) -> String {
        let mut out = format!("{} ({:.0} s)\n", self.scenario, self.elapsed_secs);
        for f in &self.figures {
            let _ = writeln!(out, "  {}", figure_line(f));
        }
        for n in &self.notes {
            let _ = writeln!(out, "  note: {n}");
        }
        out
    }
}

fn figure_line(f: &Figure) -> String {
    let verdict = match (f.target, f.met()) {
        (Some(t), Some(true)) => format!("target {} {}: met", t.describe(), f.unit),
        (Some(t), Some(false)) => format!("target {} {}: MISSED", t.describe(), f.unit),
        _ => String::new(),
    };
    format!(
        "{:<44} {:>14} {:<12} {verdict}",
        f.name,
        number(f.value),
        f.unit
    )
}

/// Every scenario of one `make bench`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suite {
    pub created_at: String,
    pub command: String,
    #[serde(default)]
    pub machine: Vec<String>,
    #[serde(default)]
    pub notes: Vec<String>,
    #[serde(default)]
    pub plot: Option<String>,
    pub scenarios: Vec<Report>,
}

impl Suite {
    /// Every figure against its target, for the terminal.
    pub fn verdicts(&self) -> String {
        let mut out = String::new();
        for r in &self.scenarios {
            let _ = write!(out, "{}", r.text());
        }
        out
    }
}

/// 15000 → "15,000"; 1.2345 → "1.23"; small values keep three decimals.
pub fn number(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    if v.abs() >= 100.0 {
        #[allow(clippy::cast_possible_truncation)] // display only
        let n = v.round() as i64;
        let digits = n.unsigned_abs().to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        if n < 0 {
            out.insert(0, '-');
        }
        out
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample() -> Report {
        let mut r = Report::new("chat-fanout");
        r.setting("sockets", 1000);
        r.figure(
            "deliveries/s",
            151_234.5,
            "deliveries/s",
            Some(Target::at_least(150_000.0)),
        );
        r.figure("p99", 61.0, "ms", Some(Target::below(50.0)));
        r.figure("mean INSERT batch", 12.5, "messages", None);
        r.steps.push(Step {
            label: "1".into(),
            variant: None,
            offered_per_sec: 100_000.0,
            achieved_per_sec: 99_870.0,
            unit: "deliveries".into(),
            latency: BTreeMap::from([(
                "delivery".to_owned(),
                LatencySummary {
                    count: 10,
                    mean_ms: 1.5,
                    p50_ms: 1.2,
                    p90_ms: 2.0,
                    p99_ms: 3.4,
                    p999_ms: 9.9,
                    max_ms: 12.0,
                },
            )]),
            counts: BTreeMap::from([("missing".to_owned(), 0)]),
            kept_up: true,
        });
        r.note("contended");
        r
    }

    #[test]
    fn a_report_survives_a_json_round_trip() {
        let r = sample();
        let json = r.to_json().unwrap_or_else(|e| panic!("{e}"));
        let back = Report::from_json(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, r);
    }

    #[test]
    fn optional_parts_may_be_absent_in_json() {
        let r = Report::from_json(
            r#"{"scenario":"x","started_at":"t","elapsed_secs":1.0,"figures":[{"name":"n","value":1.0,"unit":"u"}]}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(r.steps.is_empty());
        assert_eq!(r.figures[0].met(), None);
    }

    #[test]
    fn targets_judge_figures() {
        let r = sample();
        assert_eq!(r.figures[0].met(), Some(true));
        assert_eq!(r.figures[1].met(), Some(false));
        assert!(Target::at_most(16.0).met(16.0));
        assert!(!Target::below(10.0).met(10.0));
        assert!(r.text().contains("MISSED"));
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(number(15_000.0), "15,000");
        assert_eq!(number(1_234_567.4), "1,234,567");
        assert_eq!(number(9.95), "9.95");
        assert_eq!(number(12.25), "12.2");
        assert_eq!(number(0.0), "0");
        assert_eq!(number(3.0), "3");
    }
}
