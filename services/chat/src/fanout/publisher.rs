//! Publishing stored messages on their rooms' channels, off the write path: the
//! writer queues each stored batch here and goes on storing the next while this
//! task publishes (batch N is published while N+1 is stored), in order, one
//! pipeline per turn. A failed publish is retried a few times; what still cannot
//! be published, or what a full queue lets go, is not lost: it is in
//! PostgreSQL, and every receiving replica fills the gap from there.
//!
//! Events (read receipts, typing, presence, `member`) take the same queue, so a
//! receipt never overtakes the message it marks; they are not stored, and one a
//! full queue lets go is simply not seen.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::Duration,
};

use deadpool_redis::redis;
use platform::redis::{pubsub, slots};
use rand::RngExt;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{Channels, Delivery, wire};
use crate::metrics::Metrics;

const PUBLISH_TIMEOUT: Duration = Duration::from_secs(2);
/// Waits before the retries of a failed publish (each with up to 50 % jitter).
const RETRY_DELAYS: [Duration; 3] = [
    Duration::from_millis(50),
    Duration::from_millis(250),
    Duration::from_secs(1),
];
/// Most messages sent in one pipeline.
const PIPELINE_MAX: usize = 1024;

/// Stored batches waiting to be published, bounded in messages and bytes.
pub struct PublishQueue {
    inner: Mutex<Queued>,
    ready: Notify,
    max_items: usize,
    max_bytes: usize,
    metrics: Metrics,
}

/// One thing to publish.
pub enum Outgoing {
    Message(Arc<Delivery>),
    /// An event's encoded payload (see [`wire`]) and its channel.
    Event {
        channel: String,
        payload: Vec<u8>,
    },
}

impl Outgoing {
    fn bytes(&self) -> usize {
        match self {
            Self::Message(d) => d.frame.len(),
            Self::Event { channel, payload } => channel.len() + payload.len(),
        }
    }
}

#[derive(Default)]
struct Queued {
    items: VecDeque<Outgoing>,
    bytes: usize,
}

impl PublishQueue {
    pub fn new(max_items: usize, max_bytes: usize, metrics: Metrics) -> Self {
        Self {
            inner: Mutex::new(Queued::default()),
            ready: Notify::new(),
            max_items: max_items.max(1),
            max_bytes,
            metrics,
        }
    }

    fn queued(&self) -> std::sync::MutexGuard<'_, Queued> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Never waits: a full queue (Redis down for a while) lets its oldest go.
    pub fn push(&self, batch: &[Arc<Delivery>]) {
        self.push_all(batch.iter().map(|d| Outgoing::Message(Arc::clone(d))));
    }

    pub fn push_event(&self, channel: String, payload: Vec<u8>) {
        self.push_all(std::iter::once(Outgoing::Event { channel, payload }));
    }

    fn push_all(&self, items: impl Iterator<Item = Outgoing>) {
        let mut dropped = 0u64;
        let mut any = false;
        {
            let mut q = self.queued();
            for item in items {
                any = true;
                q.bytes += item.bytes();
                q.items.push_back(item);
            }
            while q.items.len() > self.max_items || q.bytes > self.max_bytes {
                let Some(old) = q.items.pop_front() else {
                    break;
                };
                q.bytes -= old.bytes();
                if matches!(old, Outgoing::Message(_)) {
                    dropped += 1;
                }
            }
        }
        if dropped > 0 {
            self.metrics.publish_dropped.inc_by(dropped);
        }
        if any {
            self.ready.notify_one();
        }
    }

    fn take(&self, max: usize) -> Vec<Outgoing> {
        let mut q = self.queued();
        let n = q.items.len().min(max);
        let taken: Vec<Outgoing> = q.items.drain(..n).collect();
        q.bytes -= taken.iter().map(Outgoing::bytes).sum::<usize>();
        taken
    }

    fn is_empty(&self) -> bool {
        self.queued().items.is_empty()
    }
}

pub struct Publisher {
    pub queue: Arc<PublishQueue>,
    pub redis: platform::redis::Shared,
    pub channels: Channels,
    pub metrics: Metrics,
    /// Cancelled once nothing more will be queued (the writer has finished).
    pub done: CancellationToken,
}

impl Publisher {
    /// Publishes until `done` is cancelled and the queue is empty.
    pub async fn run(self) {
        loop {
            let batch = self.queue.take(PIPELINE_MAX);
            if batch.is_empty() {
                if self.done.is_cancelled() && self.queue.is_empty() {
                    return;
                }
                tokio::select! {
                    () = self.queue.ready.notified() => {}
                    () = self.done.cancelled() => {}
                }
                continue;
            }
            self.publish_with_retries(&batch).await;
        }
    }

    async fn publish_with_retries(&self, batch: &[Outgoing]) {
        let mut attempt = 0;
        loop {
            match self.publish(batch).await {
                Ok(()) => return,
                Err(e) => {
                    let Some(delay) = RETRY_DELAYS.get(attempt) else {
                        tracing::warn!(
                            error = %e,
                            messages = batch.len(),
                            "publishing failed; receivers will read these from PostgreSQL"
                        );
                        let messages = batch
                            .iter()
                            .filter(|o| matches!(o, Outgoing::Message(_)))
                            .count();
                        self.metrics
                            .publish_dropped
                            .inc_by(u64::try_from(messages).unwrap_or(0));
                        return;
                    };
                    tracing::debug!(error = %e, attempt, "publishing failed; retrying");
                    let jitter = rand::rng().random_range(0..=delay.as_millis() / 2);
                    let wait = *delay + Duration::from_millis(u64::try_from(jitter).unwrap_or(0));
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
            }
        }
    }

    /// One pipeline on one connection, so a batch reaches every subscriber in
    /// the order it was stored. On a cluster (sharded channels, `SPUBLISH`) a
    /// pipeline must keep to one slot: one per slot, in order within each —
    /// which keeps each room's order, as a room is one channel — sent at once.
    async fn publish(&self, batch: &[Outgoing]) -> anyhow::Result<()> {
        let now = wire::now_micros();
        let cluster = self.redis.is_cluster();
        let command = pubsub::publish_command(cluster);
        let mut pipes: HashMap<u16, redis::Pipeline> = HashMap::new();
        for item in batch {
            let (channel, payload) = match item {
                Outgoing::Message(d) => (self.channels.room(&d.room), wire::encode(d, now)),
                Outgoing::Event { channel, payload } => (channel.clone(), payload.clone()),
            };
            let slot = if cluster { slots::slot(&channel) } else { 0 };
            pipes
                .entry(slot)
                .or_default()
                .cmd(command)
                .arg(channel)
                .arg(payload)
                .ignore();
        }
        let send = futures_util::future::try_join_all(pipes.into_values().map(|pipe| {
            let mut conn = self.redis.clone();
            async move { pipe.query_async::<()>(&mut conn).await }
        }));
        let send = async {
            send.await?;
            anyhow::Ok(())
        };
        tokio::time::timeout(PUBLISH_TIMEOUT, send)
            .await
            .map_err(|_| anyhow::anyhow!("publish timed out"))?
    }
}
