//! The headline figures of a chat-fanout report, from its steps: the best step
//! (highest deliveries/s that kept up), latency at fixed rates (steady from run
//! to run where the best step is not), CPU per delivery, and for a mixed run
//! each variant's figures and the ratio the issue judges (mixed within 10 % of
//! alone).

use super::Variant;
use crate::{
    report::{Report, Step, Target},
    series::{FIXED_RATES, cpu_per_delivery, events_per_delivery, round2},
    targets,
};

/// Mixed deliveries/s at the knee must be at least this share of alone's. The
/// knee, not the best step: past the knee a step that keeps up is chance (mixed
/// kept up at 50,000/s after missing at 45,000 in `2026-12-08-0226.md`, a best
/// step 1.02 × alone's), and since the knee is refined to a fifth of a step
/// (`refine.rs`) it resolves the 10 % the issue asks for.
pub const MIXED_SHARE: Target = Target::at_least(0.9);

pub fn add(report: &mut Report, mixed: bool) {
    let steps = report.steps.clone();
    let variants: &[Option<Variant>] = if mixed {
        &[Some(Variant::Alone), Some(Variant::Mixed)]
    } else {
        &[None]
    };
    let mut best_rates = Vec::new();
    for variant in variants {
        let of: Vec<&Step> = steps
            .iter()
            .filter(|s| s.variant.as_deref() == variant.map(Variant::name))
            .collect();
        let suffix = variant
            .map(|v| format!(", {}", v.name()))
            .unwrap_or_default();
        best_rates.push(best(report, &of, &suffix));
    }
    if let [Some(alone), Some(mixed)] = best_rates[..] {
        report.figure(
            "mixed ÷ alone, deliveries/s at the best step",
            ratio(mixed, alone),
            "",
            None,
        );
    }
    if mixed {
        steadier_ratios(report, &steps);
    }
    for rate in FIXED_RATES {
        for variant in variants {
            let Some(step) = step_at(&steps, *variant, rate) else {
                continue;
            };
            let at = format!(
                "at {} deliveries/s{}",
                crate::report::number(rate),
                variant
                    .map(|v| format!(", {}", v.name()))
                    .unwrap_or_default()
            );
            if let Some(l) = step.latency.get("delivery") {
                report.figure(&format!("delivery p50 {at}"), l.p50_ms, "ms", None);
                report.figure(&format!("delivery p99 {at}"), l.p99_ms, "ms", None);
            }
            for (name, us) in cpu_per_delivery(step) {
                report.figure(&format!("{name} CPU per delivery {at}"), us, "µs", None);
            }
            if variant == &Some(Variant::Mixed) {
                report.figure(
                    &format!("read and typing frames per message delivery {at}"),
                    events_per_delivery(step),
                    "frames",
                    None,
                );
            }
        }
    }
    let missing: u64 = steps.iter().map(|s| count(s, "missing")).sum();
    let disorder: u64 = steps
        .iter()
        .map(|s| count(s, "id_repeats") + count(s, "id_gaps"))
        .sum();
    #[allow(clippy::cast_precision_loss)]
    {
        report.figure(
            "missing deliveries, all steps",
            missing as f64,
            "deliveries",
            None,
        );
        report.figure(
            "ids repeated or skipped on a socket, all steps",
            disorder as f64,
            "deliveries",
            Some(targets::NONE_MISSING),
        );
    }
}

/// Figures of the best step among `steps`; returns its deliveries/s (0 when
/// none kept up), or `None` when there were no steps at all.
fn best(report: &mut Report, steps: &[&Step], suffix: &str) -> Option<f64> {
    let best = steps
        .iter()
        .filter(|s| s.kept_up)
        .max_by(|a, b| a.achieved_per_sec.total_cmp(&b.achieved_per_sec));
    let shown = best.or_else(|| steps.first())?;
    let rate = if best.is_some() {
        shown.achieved_per_sec
    } else {
        0.0
    };
    report.figure(
        &format!("deliveries/s{suffix} (highest step with p99 < 50 ms, none missing)"),
        rate,
        "per s",
        Some(targets::FANOUT_DELIVERIES_PER_SEC),
    );
    if let Some(l) = shown.latency.get("delivery") {
        report.figure(
            &format!("delivery p50 at that step{suffix}"),
            l.p50_ms,
            "ms",
            None,
        );
        report.figure(
            &format!("delivery p99 at that step{suffix}"),
            l.p99_ms,
            "ms",
            Some(targets::FANOUT_P99_MS),
        );
        report.figure(
            &format!("delivery p99.9 at that step{suffix}"),
            l.p999_ms,
            "ms",
            None,
        );
    }
    #[allow(clippy::cast_precision_loss)]
    report.figure(
        &format!("missing deliveries at that step{suffix}"),
        count(shown, "missing") as f64,
        "deliveries",
        Some(targets::NONE_MISSING),
    );
    Some(rate)
}

/// Two figures beside the criterion that move less from run to run. Past the
/// knee the two cores are saturated and p99 rides a plateau near 50 ms, so which
/// side of it each step lands on is chance (alone passed 28 of 32 steps up to
/// 155,000/s in one run, mixed stopped at 75,000/s): the knee — the highest
/// rate below the first step that did not keep up — and the CPU all processes
/// spend per delivery at a fixed rate below it.
fn steadier_ratios(report: &mut Report, steps: &[Step]) {
    let knee = |variant: Variant| {
        let mut of: Vec<&Step> = steps
            .iter()
            .filter(|s| s.variant.as_deref() == Some(variant.name()))
            .collect();
        of.sort_by(|a, b| a.offered_per_sec.total_cmp(&b.offered_per_sec));
        of.iter()
            .take_while(|s| s.kept_up)
            .last()
            .map_or(0.0, |s| s.achieved_per_sec)
    };
    let (alone, mixed) = (knee(Variant::Alone), knee(Variant::Mixed));
    report.figure(
        "deliveries/s at the knee (below the first step that did not keep up), alone",
        alone,
        "per s",
        None,
    );
    report.figure("deliveries/s at the knee, mixed", mixed, "per s", None);
    report.figure(
        "mixed ÷ alone at the knee",
        ratio(mixed, alone),
        "",
        Some(MIXED_SHARE),
    );
    let rate = FIXED_RATES[FIXED_RATES.len() - 1];
    let cpu = |variant: Variant| {
        step_at(steps, Some(variant), rate)
            .map(|s| cpu_per_delivery(s).iter().map(|(_, us)| us).sum::<f64>())
    };
    if let (Some(alone), Some(mixed)) = (cpu(Variant::Alone), cpu(Variant::Mixed)) {
        report.figure(
            &format!(
                "CPU per delivery of all processes at {} deliveries/s, mixed ÷ alone",
                crate::report::number(rate)
            ),
            ratio(mixed, alone),
            "",
            None,
        );
    }
}

/// The step of `variant` offered at `rate` (within 1 %).
fn step_at(steps: &[Step], variant: Option<Variant>, rate: f64) -> Option<&Step> {
    steps.iter().find(|s| {
        s.variant.as_deref() == variant.map(Variant::name)
            && (s.offered_per_sec - rate).abs() < rate * 0.01
    })
}

fn ratio(of: f64, to: f64) -> f64 {
    if to > 0.0 { round2(of / to) } else { 0.0 }
}

fn count(step: &Step, name: &str) -> u64 {
    step.counts.get(name).copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::hist::LatencySummary;

    fn step(variant: Option<&str>, offered: f64, achieved: f64, p99: f64, kept_up: bool) -> Step {
        Step {
            label: "1".into(),
            variant: variant.map(str::to_owned),
            offered_per_sec: offered,
            achieved_per_sec: achieved,
            unit: "deliveries".into(),
            latency: BTreeMap::from([(
                "delivery".to_owned(),
                LatencySummary {
                    p50_ms: 2.0,
                    p99_ms: p99,
                    ..LatencySummary::default()
                },
            )]),
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

    /// The judged ratio, mixed ÷ alone at the knee, and whether it met its target.
    fn judged(report: &Report) -> Option<(f64, Option<bool>)> {
        report
            .figures
            .iter()
            .find(|f| f.name == "mixed ÷ alone at the knee")
            .map(|f| (f.value, f.met()))
    }

    fn value(report: &Report, name: &str) -> Option<f64> {
        report
            .figures
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value)
    }

    #[test]
    fn the_knee_ends_at_the_first_failure_and_cpu_is_compared_at_a_fixed_rate() {
        let mut report = Report::new("chat-fanout-mixed");
        let mut costly = step(Some("mixed"), 40_000.0, 39_900.0, 20.0, true);
        costly.counts.insert("cpu_ms:loadtest".to_owned(), 1_090);
        report.steps = vec![
            step(Some("alone"), 20_000.0, 19_990.0, 5.0, true),
            step(Some("mixed"), 20_000.0, 19_980.0, 9.0, true),
            costly,
            step(Some("alone"), 40_000.0, 39_950.0, 20.0, true),
            step(Some("alone"), 60_000.0, 59_000.0, 55.0, false),
            step(Some("mixed"), 60_000.0, 59_100.0, 45.0, true),
            step(Some("alone"), 80_000.0, 79_000.0, 45.0, true),
            step(Some("mixed"), 80_000.0, 70_000.0, 90.0, false),
        ];
        add(&mut report, true);
        // Alone's best step rode the plateau past a failure; its knee did not.
        assert_eq!(
            value(
                &report,
                "deliveries/s at the knee (below the first step that did not keep up), alone"
            ),
            Some(39_950.0)
        );
        assert_eq!(
            value(&report, "deliveries/s at the knee, mixed"),
            Some(59_100.0)
        );
        assert_eq!(value(&report, "mixed ÷ alone at the knee"), Some(1.48));
        assert_eq!(
            value(
                &report,
                "CPU per delivery of all processes at 40,000 deliveries/s, mixed ÷ alone"
            ),
            Some(1.1),
            "19 µs alone, 20.9 µs mixed"
        );
    }

    #[test]
    fn fine_steps_above_the_knee_move_it_and_are_judged() {
        let mut report = Report::new("chat-fanout-mixed");
        report.steps = vec![
            step(Some("alone"), 40_000.0, 40_000.0, 20.0, true),
            step(Some("mixed"), 40_000.0, 40_000.0, 30.0, true),
            step(Some("mixed"), 45_000.0, 45_000.0, 70.0, false),
            step(Some("alone"), 45_000.0, 45_000.0, 60.0, false),
            // The fine steps, run after the ramp.
            step(Some("alone"), 41_000.0, 41_000.0, 30.0, true),
            step(Some("mixed"), 41_000.0, 41_000.0, 40.0, true),
            step(Some("mixed"), 42_000.0, 42_000.0, 55.0, false),
            step(Some("alone"), 42_000.0, 42_000.0, 35.0, true),
            step(Some("alone"), 43_000.0, 43_000.0, 70.0, false),
        ];
        add(&mut report, true);
        assert_eq!(
            value(&report, "deliveries/s at the knee, mixed"),
            Some(41_000.0)
        );
        assert_eq!(judged(&report), Some((0.98, Some(true))), "41,000 ÷ 42,000");
    }

    #[test]
    fn a_mixed_run_is_judged_against_its_own_alone_steps() {
        let mut report = Report::new("chat-fanout-mixed");
        report.steps = vec![
            step(Some("alone"), 20_000.0, 19_990.0, 5.0, true),
            step(Some("mixed"), 20_000.0, 19_980.0, 9.0, true),
            step(Some("mixed"), 40_000.0, 39_900.0, 40.0, true),
            step(Some("alone"), 40_000.0, 39_950.0, 20.0, true),
            step(Some("alone"), 60_000.0, 59_000.0, 45.0, true),
            step(Some("mixed"), 60_000.0, 50_000.0, 90.0, false),
        ];
        add(&mut report, true);
        assert_eq!(
            value(
                &report,
                "deliveries/s, alone (highest step with p99 < 50 ms, none missing)"
            ),
            Some(59_000.0)
        );
        assert_eq!(
            value(
                &report,
                "deliveries/s, mixed (highest step with p99 < 50 ms, none missing)"
            ),
            Some(39_900.0)
        );
        assert_eq!(judged(&report), Some((0.68, Some(false))));
        assert_eq!(
            value(&report, "delivery p99 at 40,000 deliveries/s, mixed"),
            Some(40.0)
        );
        assert_eq!(
            value(
                &report,
                "chat CPU per delivery at 20,000 deliveries/s, alone"
            ),
            Some(10.0),
            "both replicas summed"
        );
        assert_eq!(
            value(
                &report,
                "read and typing frames per message delivery at 20,000 deliveries/s, mixed"
            ),
            Some(2.0)
        );
    }

    #[test]
    fn a_plain_run_keeps_its_figure_names() {
        let mut report = Report::new("chat-fanout");
        report.steps = vec![
            step(None, 20_000.0, 19_990.0, 5.0, true),
            step(None, 30_000.0, 29_000.0, 80.0, false),
        ];
        add(&mut report, false);
        assert_eq!(
            value(
                &report,
                "deliveries/s (highest step with p99 < 50 ms, none missing)"
            ),
            Some(19_990.0)
        );
        assert_eq!(value(&report, "delivery p99 at that step"), Some(5.0));
        assert!(value(&report, "delivery p50 at 20,000 deliveries/s").is_some());
        assert!(report.figures.iter().all(|f| !f.name.contains("÷")));
    }
}
