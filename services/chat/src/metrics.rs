//! The chat's own Prometheus metrics, registered next to actix-web-prom's HTTP
//! metrics in one registry per application (tests run several in one process).

use prometheus::{Histogram, HistogramOpts, IntCounter, IntGauge, Registry};

#[derive(Clone)]
pub struct Metrics {
    pub open_sockets: IntGauge,
    pub rooms_subscribed: IntGauge,
    pub messages_in: IntCounter,
    pub messages_delivered: IntCounter,
    pub store_batch_size: Histogram,
    pub store_batch_seconds: Histogram,
    pub fanout_latency_seconds: Histogram,
    pub slow_consumer_closes: IntCounter,
    pub redis_reconnects: IntCounter,
    pub gap_fills: IntCounter,
    pub store_retries: IntCounter,
    pub publish_dropped: IntCounter,
    pub relay_overflows: IntCounter,
}

impl Metrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let metrics = Self {
            open_sockets: IntGauge::new("chat_open_sockets", "Open WebSocket connections")?,
            rooms_subscribed: IntGauge::new(
                "chat_rooms_subscribed",
                "Room channels this replica is subscribed to in Redis",
            )?,
            messages_in: IntCounter::new(
                "chat_messages_in_total",
                "Messages accepted from clients for storage",
            )?,
            messages_delivered: IntCounter::new(
                "chat_messages_delivered_total",
                "Message frames queued to local sockets",
            )?,
            store_batch_size: Histogram::with_opts(
                HistogramOpts::new("chat_store_batch_size", "Messages per INSERT batch").buckets(
                    vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0],
                ),
            )?,
            store_batch_seconds: Histogram::with_opts(HistogramOpts::new(
                "chat_store_batch_seconds",
                "Time to store one batch, transaction included",
            ))?,
            fanout_latency_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "chat_fanout_latency_seconds",
                    "From publish to hand-off to local sockets",
                )
                .buckets(vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                ]),
            )?,
            slow_consumer_closes: IntCounter::new(
                "chat_slow_consumer_closes_total",
                "Sockets closed with 1013 for falling too far behind",
            )?,
            redis_reconnects: IntCounter::new(
                "chat_redis_reconnects_total",
                "Times the Redis subscriber connection was re-established",
            )?,
            gap_fills: IntCounter::new(
                "chat_gap_filled_messages_total",
                "Messages this replica read from PostgreSQL because Redis did not bring them in time",
            )?,
            store_retries: IntCounter::new(
                "chat_store_retries_total",
                "Batches tried again after contention or a lost database connection",
            )?,
            publish_dropped: IntCounter::new(
                "chat_publish_dropped_total",
                "Stored messages not published (Redis failing or the queue full); receivers read them from PostgreSQL",
            )?,
            relay_overflows: IntCounter::new(
                "chat_relay_overflows_total",
                "Sockets closed with 1013 because their worker thread's relay queue was full",
            )?,
        };
        registry.register(Box::new(metrics.open_sockets.clone()))?;
        registry.register(Box::new(metrics.rooms_subscribed.clone()))?;
        registry.register(Box::new(metrics.messages_in.clone()))?;
        registry.register(Box::new(metrics.messages_delivered.clone()))?;
        registry.register(Box::new(metrics.store_batch_size.clone()))?;
        registry.register(Box::new(metrics.store_batch_seconds.clone()))?;
        registry.register(Box::new(metrics.fanout_latency_seconds.clone()))?;
        registry.register(Box::new(metrics.slow_consumer_closes.clone()))?;
        registry.register(Box::new(metrics.redis_reconnects.clone()))?;
        registry.register(Box::new(metrics.gap_fills.clone()))?;
        registry.register(Box::new(metrics.store_retries.clone()))?;
        registry.register(Box::new(metrics.publish_dropped.clone()))?;
        registry.register(Box::new(metrics.relay_overflows.clone()))?;
        Ok(metrics)
    }
}
