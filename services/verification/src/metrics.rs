//! Prometheus metrics beyond the per-route request counters and latency histograms
//! that actix-web-prom records.

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};

pub struct Metrics {
    pub registry: Registry,
    pub codes_sent: IntCounter,
    pub confirms: IntCounterVec,
    pub mail_queue_depth: IntGauge,
    pub mail_sent: IntCounter,
    pub mail_failures: IntCounterVec,
    /// Statements that wrote sign-ins' users, and the sign-ins they wrote.
    pub user_upsert_statements: IntCounter,
    pub user_upserts: IntCounter,
}

impl Metrics {
    pub fn new() -> anyhow::Result<Self> {
        let registry = Registry::new();
        let codes_sent = IntCounter::new(
            "verification_codes_sent_total",
            "Codes generated and queued for mailing",
        )?;
        let confirms = IntCounterVec::new(
            Opts::new(
                "verification_confirms_total",
                "Code confirmations by outcome",
            ),
            &["outcome"],
        )?;
        let mail_queue_depth = IntGauge::new(
            "verification_mail_queue_depth",
            "Mails accepted and not yet delivered or dropped",
        )?;
        let mail_sent = IntCounter::new("verification_mail_sent_total", "Mails delivered")?;
        let mail_failures = IntCounterVec::new(
            Opts::new(
                "verification_mail_failures_total",
                "Failed mail attempts: retried, or dropped after the last attempt",
            ),
            &["result"],
        )?;
        let user_upsert_statements = IntCounter::new(
            "verification_user_upsert_statements_total",
            "Statements that created or re-verified the users of sign-ins",
        )?;
        let user_upserts = IntCounter::new(
            "verification_user_upserts_total",
            "Sign-ins whose user was created or re-verified (several per statement under load)",
        )?;
        registry.register(Box::new(user_upsert_statements.clone()))?;
        registry.register(Box::new(user_upserts.clone()))?;
        registry.register(Box::new(codes_sent.clone()))?;
        registry.register(Box::new(confirms.clone()))?;
        registry.register(Box::new(mail_queue_depth.clone()))?;
        registry.register(Box::new(mail_sent.clone()))?;
        registry.register(Box::new(mail_failures.clone()))?;
        Ok(Self {
            registry,
            codes_sent,
            confirms,
            mail_queue_depth,
            mail_sent,
            mail_failures,
            user_upsert_statements,
            user_upserts,
        })
    }
}
