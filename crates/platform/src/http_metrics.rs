//! Per-route request counters and latency histograms, served at `/metrics` with
//! the service's own metrics from the same registry.

use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};

pub fn middleware(
    namespace: &str,
    registry: prometheus::Registry,
) -> anyhow::Result<PrometheusMetrics> {
    PrometheusMetricsBuilder::new(namespace)
        .registry(registry)
        .endpoint("/metrics")
        // Paths that match no route share one label: a scanner requesting random
        // URLs must not grow the metric set without bound.
        .mask_unmatched_patterns("UNMATCHED")
        .build()
        .map_err(|e| anyhow::anyhow!("building the metrics middleware: {e}"))
}
