//! One delivery attempt at a queued mail, counted and logged: what the
//! delivery task (`mod.rs`) and a worker's first attempt (`courier.rs`) share.

use lettre::Message;
use tokio::time::Instant;

use super::transport::Transport;
use crate::metrics::Metrics;

/// A mail, the moment it is no longer worth delivering, and the attempts
/// already made at it.
pub(super) struct Queued {
    pub message: Message,
    pub expires_at: Instant,
    pub failed_attempts: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Next {
    /// Delivered, dropped as expired, or failed for good.
    Done,
    /// Failed for now: worth another attempt after a backoff.
    Retry,
}

/// Attempt number `attempt` (of `max_attempts`) at `queued`.
pub(super) async fn attempt_once(
    transport: &Transport,
    queued: &Queued,
    attempt: u32,
    max_attempts: u32,
    metrics: &Metrics,
) -> Next {
    if Instant::now() >= queued.expires_at {
        metrics.mail_failures.with_label_values(&["expired"]).inc();
        tracing::warn!(
            attempt,
            "mail dropped: its code expired before it could be sent"
        );
        return Next::Done;
    }
    match transport.send(queued.message.clone()).await {
        Ok(()) => {
            metrics.mail_sent.inc();
            Next::Done
        }
        Err(failure) if failure.transient && attempt < max_attempts => {
            metrics.mail_failures.with_label_values(&["retried"]).inc();
            tracing::warn!(attempt, reason = %failure.reason, "mail send failed; retrying");
            Next::Retry
        }
        Err(failure) => {
            metrics.mail_failures.with_label_values(&["dropped"]).inc();
            tracing::error!(attempt, reason = %failure.reason, "mail send failed; giving up");
            Next::Done
        }
    }
}
