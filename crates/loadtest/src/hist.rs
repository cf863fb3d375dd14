//! Latency histograms: HDR, microsecond resolution, three significant figures.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Highest recordable latency: five minutes, in microseconds. Larger values are
/// clamped (a run is bounded well below that anyway).
const MAX_MICROS: u64 = 300_000_000;

/// A latency histogram in microseconds.
#[derive(Clone)]
pub struct Latency {
    hist: Histogram<u64>,
}

impl Default for Latency {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Latency")
            .field("count", &self.hist.len())
            .finish()
    }
}

impl Latency {
    pub fn new() -> Self {
        let Ok(hist) = Histogram::new_with_bounds(1, MAX_MICROS, 3) else {
            unreachable!("constant histogram bounds are valid")
        };
        Self { hist }
    }

    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(MAX_MICROS);
        self.hist.saturating_record(micros.clamp(1, MAX_MICROS));
    }

    /// Adds another histogram's samples to this one.
    pub fn merge(&mut self, other: &Self) {
        // Same bounds on both sides, so adding cannot go out of range.
        if self.hist.add(&other.hist).is_err() {
            for v in other.hist.iter_recorded() {
                self.hist
                    .saturating_record_n(v.value_iterated_to(), v.count_at_value());
            }
        }
    }

    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    /// The value at `quantile` (0..=1), in milliseconds.
    pub fn quantile_ms(&self, quantile: f64) -> f64 {
        micros_to_ms(self.hist.value_at_quantile(quantile))
    }

    pub fn summary(&self) -> LatencySummary {
        LatencySummary {
            count: self.hist.len(),
            mean_ms: round3(self.hist.mean() / 1000.0),
            p50_ms: self.quantile_ms(0.50),
            p90_ms: self.quantile_ms(0.90),
            p99_ms: self.quantile_ms(0.99),
            p999_ms: self.quantile_ms(0.999),
            max_ms: micros_to_ms(self.hist.max()),
        }
    }
}

/// What a report keeps of a histogram.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

#[allow(clippy::cast_precision_loss)] // microseconds well below 2^52
fn micros_to_ms(micros: u64) -> f64 {
    round3(micros as f64 / 1000.0)
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn within(actual: f64, expected: f64, relative: f64) -> bool {
        (actual - expected).abs() <= expected * relative
    }

    #[test]
    fn percentiles_of_a_uniform_run_are_where_expected() {
        let mut h = Latency::new();
        for us in 1..=10_000u64 {
            h.record(Duration::from_micros(us));
        }
        let s = h.summary();
        assert_eq!(s.count, 10_000);
        assert!(within(s.p50_ms, 5.0, 0.002), "{s:?}");
        assert!(within(s.p99_ms, 9.9, 0.002), "{s:?}");
        assert!(within(s.p999_ms, 9.99, 0.002), "{s:?}");
        assert!(within(s.max_ms, 10.0, 0.002), "{s:?}");
        assert!(within(s.mean_ms, 5.0, 0.002), "{s:?}");
    }

    #[test]
    fn a_slow_tail_shows_in_p99_not_p50() {
        let mut h = Latency::new();
        for _ in 0..980 {
            h.record(Duration::from_millis(1));
        }
        for _ in 0..20 {
            h.record(Duration::from_millis(200));
        }
        let s = h.summary();
        assert!(within(s.p50_ms, 1.0, 0.002), "{s:?}");
        assert!(within(s.p99_ms, 200.0, 0.002), "{s:?}");
    }

    #[test]
    fn zero_and_huge_values_are_clamped_not_lost() {
        let mut h = Latency::new();
        h.record(Duration::ZERO);
        h.record(Duration::from_secs(3600));
        assert_eq!(h.count(), 2);
        assert!(h.summary().max_ms <= 300_000.0 * 1.001);
    }

    #[test]
    fn merging_adds_the_samples() {
        let mut a = Latency::new();
        let mut b = Latency::new();
        for _ in 0..100 {
            a.record(Duration::from_millis(1));
            b.record(Duration::from_millis(3));
        }
        a.merge(&b);
        assert_eq!(a.count(), 200);
        assert!(within(a.summary().mean_ms, 2.0, 0.002));
    }
}
