//! Mail leaves off the request path: `/send` puts the message on a bounded queue and
//! returns; workers deliver with retries and backoff. A slow or dead SMTP server
//! therefore never slows a request, and a full queue is an honest 503.
//!
//! A queued mail carries the moment its code dies: one still waiting (or still
//! being retried) after that is dropped, not delivered. A backlog after an SMTP
//! outage would otherwise mail a burst of dead codes, and users would try them.

mod direct;
mod failure;
pub mod message;
pub mod settings;
mod smtp_client;
pub mod transport;

use std::{sync::Arc, time::Duration};

use lettre::Message;
use rand::RngExt;
use tokio::{
    sync::{Semaphore, mpsc},
    task::JoinHandle,
    time::Instant,
};

use crate::metrics::Metrics;
use settings::MailSettings;
use transport::Transport;

#[derive(Debug, thiserror::Error)]
#[error("the mail queue is full")]
pub struct QueueFull;

/// A mail and the moment it is no longer worth delivering.
struct Queued {
    message: Message,
    expires_at: Instant,
}

/// The sending side; cheap to clone into every HTTP worker.
#[derive(Clone)]
pub struct MailQueue {
    tx: mpsc::Sender<Queued>,
    metrics: Arc<Metrics>,
}

/// A reserved place in the queue: taken before any state changes, so a full queue
/// refuses the request before a code is stored or a rate limit is spent.
pub struct Slot {
    permit: mpsc::OwnedPermit<Queued>,
    metrics: Arc<Metrics>,
}

impl MailQueue {
    pub fn reserve(&self) -> Result<Slot, QueueFull> {
        let permit = self.tx.clone().try_reserve_owned().map_err(|_| QueueFull)?;
        Ok(Slot {
            permit,
            metrics: Arc::clone(&self.metrics),
        })
    }
}

impl Slot {
    /// Queues `message`, to be delivered within `lifetime` (its code's) or not at all.
    pub fn send(self, message: Message, lifetime: Duration) {
        self.metrics.mail_queue_depth.inc();
        self.permit.send(Queued {
            message,
            expires_at: Instant::now() + lifetime,
        });
    }
}

/// The delivering side; `drain` waits for everything queued to be attempted.
pub struct MailWorker {
    handle: JoinHandle<()>,
}

pub fn start(
    config: &MailSettings,
    metrics: Arc<Metrics>,
) -> anyhow::Result<(MailQueue, MailWorker)> {
    let transport = Arc::new(Transport::build(
        &config.transport,
        u32::try_from(config.concurrency).unwrap_or(u32::MAX),
    )?);
    let (tx, rx) = mpsc::channel(config.queue_capacity);
    let handle = tokio::spawn(deliver_all(
        rx,
        transport,
        config.concurrency,
        config.max_attempts,
        Arc::clone(&metrics),
    ));
    Ok((MailQueue { tx, metrics }, MailWorker { handle }))
}

impl MailWorker {
    /// Call after every `MailQueue` is dropped (the HTTP server has stopped).
    pub async fn drain(self, timeout: Duration) {
        if tokio::time::timeout(timeout, self.handle).await.is_err() {
            tracing::warn!(
                ?timeout,
                "mail queue not drained in time; unsent mail is lost"
            );
        }
    }
}

async fn deliver_all(
    mut rx: mpsc::Receiver<Queued>,
    transport: Arc<Transport>,
    concurrency: usize,
    max_attempts: u32,
    metrics: Arc<Metrics>,
) {
    let slots = Arc::new(Semaphore::new(concurrency));
    loop {
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            break;
        };
        let Some(queued) = rx.recv().await else {
            break;
        };
        let transport = Arc::clone(&transport);
        let metrics = Arc::clone(&metrics);
        tokio::spawn(async move {
            deliver(&transport, queued, max_attempts, &metrics).await;
            metrics.mail_queue_depth.dec();
            drop(slot);
        });
    }
    // The queue is closed: wait for the deliveries still in flight.
    let all = u32::try_from(concurrency).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
}

async fn deliver(transport: &Transport, queued: Queued, max_attempts: u32, metrics: &Metrics) {
    for attempt in 1..=max_attempts {
        if Instant::now() >= queued.expires_at {
            metrics.mail_failures.with_label_values(&["expired"]).inc();
            tracing::warn!(
                attempt,
                "mail dropped: its code expired before it could be sent"
            );
            return;
        }
        match transport.send(queued.message.clone()).await {
            Ok(()) => {
                metrics.mail_sent.inc();
                return;
            }
            Err(failure) if failure.transient && attempt < max_attempts => {
                metrics.mail_failures.with_label_values(&["retried"]).inc();
                let wait = backoff(attempt);
                tracing::warn!(attempt, ?wait, reason = %failure.reason, "mail send failed; retrying");
                tokio::time::sleep(wait).await;
            }
            Err(failure) => {
                metrics.mail_failures.with_label_values(&["dropped"]).inc();
                tracing::error!(attempt, reason = %failure.reason, "mail send failed; giving up");
                return;
            }
        }
    }
}

/// 250 ms doubling per attempt, capped at 30 s, with ±25 % jitter so a recovering
/// SMTP server is not hit by every retry at once.
fn backoff(attempt: u32) -> Duration {
    let base_ms = 250u64
        .saturating_mul(1 << attempt.saturating_sub(1).min(7))
        .min(30_000);
    let jitter = rand::rng().random_range(0.75..1.25);
    Duration::from_millis((base_ms as f64 * jitter) as u64)
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(1).as_millis() <= 313);
        assert!(backoff(3).as_millis() >= 750);
        assert!(backoff(30).as_millis() <= 37_500);
    }
}
