//! Mail leaves off the request path: `/send` puts the message on a bounded queue and
//! returns; it is delivered with retries and backoff. A slow or dead SMTP server
//! therefore never slows a request, and a full queue is an honest 503.
//!
//! The first attempt runs on the HTTP worker that queued the mail, over that
//! worker's own connections (`courier.rs`); retries, and mails that find every
//! `MAIL_CONCURRENCY` slot taken, go to the process's delivery task.
//!
//! A queued mail carries the moment its code dies: one still waiting (or still
//! being retried) after that is dropped, not delivered. A backlog after an SMTP
//! outage would otherwise mail a burst of dead codes, and users would try them.

mod attempt;
mod courier;
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

use self::attempt::{Next, Queued, attempt_once};
use crate::metrics::Metrics;
use settings::{MailSettings, TransportKind};
use transport::Transport;

#[derive(Debug, thiserror::Error)]
#[error("the mail queue is full")]
pub struct QueueFull;

/// What delivering needs, shared by the delivery task and every worker.
struct Delivery {
    kind: TransportKind,
    /// `MAIL_CONCURRENCY` over the whole process: deliveries on the workers
    /// and on the delivery task each hold one.
    slots: Arc<Semaphore>,
    concurrency: usize,
    max_attempts: u32,
    metrics: Arc<Metrics>,
    /// First attempts under way on the workers.
    here: Arc<courier::Attempts>,
}

/// The sending side; each HTTP worker takes its own with [`MailQueue::for_this_worker`].
#[derive(Clone)]
pub struct MailQueue {
    tx: mpsc::Sender<Queued>,
    delivery: Arc<Delivery>,
    /// This worker's own transport; `None` hands every mail to the delivery task.
    here: Option<Arc<Transport>>,
}

/// A reserved place in the queue: taken before any state changes, so a full queue
/// refuses the request before a code is stored or a rate limit is spent. A mail
/// delivered on its worker keeps the place until it is done, so the queue's
/// capacity bounds the mails in delivery too.
pub struct Slot {
    permit: mpsc::OwnedPermit<Queued>,
    delivery: Arc<Delivery>,
    here: Option<Arc<Transport>>,
}

impl MailQueue {
    /// The queue for the HTTP worker this runs on, with a transport (and so
    /// connections) of its own. A delivery on the thread that queued it wakes
    /// no other thread: handing each mail to the delivery task woke the main
    /// thread twice per mail (the hand-over and the SMTP reply), about 68 µs
    /// of CPU per login at 1,373 logins/s (`scripts/login-cpu.sh`).
    ///
    /// A worker may hold every `MAIL_CONCURRENCY` slot at once, so its pool
    /// keeps that many connections: with its share of them (8 of 16 on two
    /// workers) a busy moment's extra connections were closed and opened again,
    /// 48 new SMTP sessions in 3 s at 1,000 logins/s (strace).
    pub fn for_this_worker(&self) -> Self {
        let pool = u32::try_from(self.delivery.concurrency).unwrap_or(u32::MAX);
        let here = Transport::build(&self.delivery.kind, pool)
            .map_err(
                |e| tracing::warn!(error = %e, "worker mail transport; using the delivery task"),
            )
            .ok()
            .map(Arc::new);
        Self {
            tx: self.tx.clone(),
            delivery: Arc::clone(&self.delivery),
            here,
        }
    }

    pub fn reserve(&self) -> Result<Slot, QueueFull> {
        let permit = self.tx.clone().try_reserve_owned().map_err(|_| QueueFull)?;
        Ok(Slot {
            permit,
            delivery: Arc::clone(&self.delivery),
            here: self.here.clone(),
        })
    }
}

impl Slot {
    /// Queues `message`, to be delivered within `lifetime` (its code's) or not at all.
    pub fn send(self, message: Message, lifetime: Duration) {
        let Self {
            permit,
            delivery,
            here,
        } = self;
        delivery.metrics.mail_queue_depth.inc();
        let queued = Queued {
            message,
            expires_at: Instant::now() + lifetime,
            failed_attempts: 0,
        };
        let slot = here.and_then(|transport| {
            let slot = Arc::clone(&delivery.slots).try_acquire_owned().ok()?;
            Some((transport, (slot, delivery.here.begin()?)))
        });
        match slot {
            Some((transport, slot)) => {
                let rules = (delivery.max_attempts, Arc::clone(&delivery.metrics));
                courier::deliver_here(transport, rules, permit, queued, slot);
            }
            None => {
                permit.send(queued);
            }
        }
    }
}

/// The delivery task; `drain` waits for everything queued to be attempted.
pub struct MailWorker {
    handle: JoinHandle<()>,
    here: Arc<courier::Attempts>,
}

pub fn start(
    config: &MailSettings,
    metrics: Arc<Metrics>,
) -> anyhow::Result<(MailQueue, MailWorker)> {
    let transport = Arc::new(Transport::build(
        &config.transport,
        u32::try_from(config.concurrency).unwrap_or(u32::MAX),
    )?);
    let delivery = Arc::new(Delivery {
        kind: config.transport.clone(),
        slots: Arc::new(Semaphore::new(config.concurrency)),
        concurrency: config.concurrency,
        max_attempts: config.max_attempts,
        metrics,
        here: Arc::default(),
    });
    let (tx, rx) = mpsc::channel(config.queue_capacity);
    let handle = tokio::spawn(deliver_all(rx, transport, Arc::clone(&delivery)));
    let queue = MailQueue {
        tx,
        delivery,
        here: None,
    };
    let here = Arc::clone(&queue.delivery.here);
    Ok((queue, MailWorker { handle, here }))
}

impl MailWorker {
    /// Call when shutting down, before the HTTP workers stop: mails queued from
    /// now on go to the delivery task, and first attempts under way on the
    /// workers get up to `timeout` to finish.
    pub async fn stop_attempts_on_workers(&self, timeout: Duration) {
        self.here.stop(timeout).await;
    }

    /// Call after every `MailQueue` is dropped (the HTTP server has stopped).
    /// A mail still on a worker when the worker stops is handed to this task
    /// (`courier.rs`), which waits for it: the queue closes only once the last
    /// place in it is given back.
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
    delivery: Arc<Delivery>,
) {
    // The mail first, then the slot: a task that held a slot while it waited
    // for mail would keep it from the workers.
    while let Some(queued) = rx.recv().await {
        let Ok(slot) = Arc::clone(&delivery.slots).acquire_owned().await else {
            break;
        };
        let transport = Arc::clone(&transport);
        let delivery = Arc::clone(&delivery);
        tokio::spawn(async move {
            deliver(&transport, queued, &delivery).await;
            delivery.metrics.mail_queue_depth.dec();
            drop(slot);
        });
    }
    // The queue is closed: wait for the deliveries still in flight.
    let all = u32::try_from(delivery.concurrency).unwrap_or(u32::MAX);
    let _ = delivery.slots.acquire_many(all).await;
}

/// The attempts left at a mail, with backoff between them.
async fn deliver(transport: &Transport, queued: Queued, delivery: &Delivery) {
    for attempt in queued.failed_attempts + 1..=delivery.max_attempts {
        if attempt > 1 {
            tokio::time::sleep(backoff(attempt - 1)).await;
        }
        let next = attempt_once(
            transport,
            &queued,
            attempt,
            delivery.max_attempts,
            &delivery.metrics,
        )
        .await;
        if next == Next::Done {
            return;
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
