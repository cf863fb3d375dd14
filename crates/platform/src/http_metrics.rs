//! Per-route request counters and latency histograms, served at `/metrics` with
//! the service's own metrics from the same registry.

use actix_web::{HttpResponse, get, http::StatusCode, web};
use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};
use prometheus::{Encoder, TextEncoder};

use crate::http_error::JsonError;

/// Counts requests. It serves no endpoint itself: [`metrics`] is a route like
/// any other, so the API description lists it.
pub fn middleware(
    namespace: &str,
    registry: prometheus::Registry,
) -> anyhow::Result<PrometheusMetrics> {
    PrometheusMetricsBuilder::new(namespace)
        .registry(registry)
        // Paths that match no route share one label: a scanner requesting random
        // URLs must not grow the metric set without bound.
        .mask_unmatched_patterns("UNMATCHED")
        .build()
        .map_err(|e| anyhow::anyhow!("building the metrics middleware: {e}"))
}

/// The registry `/metrics` reads, registered as app data.
#[derive(Clone)]
pub struct MetricsRegistry(pub prometheus::Registry);

/// Prometheus' text format: the HTTP metrics and the service's own.
#[utoipa::path(
    tag = "operations",
    responses((
        status = 200,
        description = "Every metric, in Prometheus' text exposition format",
        body = String,
        content_type = "text/plain; version=0.0.4"
    ))
)]
#[get("/metrics")]
pub async fn metrics(registry: web::Data<MetricsRegistry>) -> HttpResponse {
    let encoder = TextEncoder::new();
    let mut text = Vec::new();
    match encoder.encode(&registry.0.gather(), &mut text) {
        Ok(()) => HttpResponse::Ok()
            .content_type(encoder.format_type())
            .body(text),
        Err(e) => {
            tracing::error!(error = %e, "encoding metrics");
            JsonError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "metrics could not be encoded",
            )
            .response()
        }
    }
}
