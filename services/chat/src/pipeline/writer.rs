//! Sockets queue messages to one writer task per replica, which takes what is
//! queued (up to `CHAT_WRITE_BATCH`) into one transaction, then releases the
//! stored messages to this replica's sockets, queues them for publishing, and
//! answers each sender. One writer keeps each sender's messages in order from the
//! queue through the ids to the release.
//!
//! Failure is per message: contention and lost connections are retried (a few
//! tries, with jitter); any other error splits the batch in halves until only the
//! message that fails is left, and only its sender hears `unavailable`.

use std::{sync::Arc, time::Duration};

use rand::RngExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::{
    domain::{FrameError, NewMessage, ServerFrame},
    fanout::{Delivery, Hub, announce::Announcer, publisher::PublishQueue},
    metrics::Metrics,
    store::{Outcome, StoreError, WriteConnection},
};

/// The store's answer to one sender: what happened, or `Unavailable`.
pub type WriteReply = Result<Outcome, FrameError>;

type Stored = (Vec<Option<Outcome>>, Vec<(uuid::Uuid, String)>);

/// Tries of one batch when the database is busy or the connection was lost.
const TRIES: usize = 4;
/// Base wait between tries; each is doubled, with up to as much again in jitter.
const RETRY_BASE: Duration = Duration::from_millis(20);
/// What a queued message costs beyond its text, in the byte bound of the queue.
const REQUEST_OVERHEAD: usize = 256;

struct WriteRequest {
    message: NewMessage,
    reply: oneshot::Sender<WriteReply>,
    _bytes: OwnedSemaphorePermit,
}

/// The sockets' end of the write queue, bounded in messages and in bytes.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<WriteRequest>,
    bytes: Arc<Semaphore>,
}

impl Writer {
    /// Queues a message without waiting; a full queue means the database is not
    /// keeping up, and the sender hears `unavailable` at once.
    pub fn submit(&self, message: NewMessage) -> Result<oneshot::Receiver<WriteReply>, FrameError> {
        let size = message.body.len()
            + message.user_name.len()
            + message.client_id.as_ref().map_or(0, String::len)
            + REQUEST_OVERHEAD;
        let permit = u32::try_from(size)
            .ok()
            .and_then(|n| Arc::clone(&self.bytes).try_acquire_many_owned(n).ok())
            .ok_or(FrameError::Unavailable)?;
        let (reply, answer) = oneshot::channel();
        self.tx
            .try_send(WriteRequest {
                message,
                reply,
                _bytes: permit,
            })
            .map_err(|_| FrameError::Unavailable)?;
        Ok(answer)
    }
}

pub struct WriterTask {
    rx: mpsc::Receiver<WriteRequest>,
    conn: WriteConnection,
    hub: Arc<Hub>,
    publish: Arc<PublishQueue>,
    announce: Announcer,
    metrics: Metrics,
    batch_max: usize,
    /// Cancelled when the replica starts shutting down: the queue is closed,
    /// what is in it is stored, and the task returns.
    draining: CancellationToken,
}

/// The queue's bounds and the batch size.
#[derive(Debug, Clone, Copy)]
pub struct QueueLimits {
    pub items: usize,
    pub bytes: usize,
    pub batch: usize,
}

impl WriterTask {
    pub fn new(
        limits: QueueLimits,
        conn: WriteConnection,
        hub: Arc<Hub>,
        publish: Arc<PublishQueue>,
        announce: Announcer,
        metrics: Metrics,
        draining: CancellationToken,
    ) -> (Writer, Self) {
        let (tx, rx) = mpsc::channel(limits.items.max(1));
        let bytes = u32::try_from(limits.bytes).unwrap_or(u32::MAX) as usize;
        let task = Self {
            rx,
            conn,
            hub,
            publish,
            announce,
            metrics,
            batch_max: limits.batch.max(1),
            draining,
        };
        let writer = Writer {
            tx,
            bytes: Arc::new(Semaphore::new(bytes)),
        };
        (writer, task)
    }

    /// Runs until the replica drains, then stores what is already queued and returns.
    pub async fn run(mut self) {
        let mut batch = Vec::with_capacity(self.batch_max);
        let mut closing = false;
        loop {
            let received = tokio::select! {
                n = self.rx.recv_many(&mut batch, self.batch_max) => n,
                () = self.draining.cancelled(), if !closing => {
                    self.rx.close();
                    closing = true;
                    continue;
                }
            };
            if received == 0 {
                return;
            }
            self.write(std::mem::take(&mut batch)).await;
        }
    }

    async fn write(&mut self, batch: Vec<WriteRequest>) {
        let (messages, replies): (Vec<NewMessage>, Vec<_>) =
            batch.into_iter().map(|r| (r.message, r.reply)).unzip();
        #[allow(clippy::cast_precision_loss)] // a batch size, for a histogram
        self.metrics.store_batch_size.observe(messages.len() as f64);
        self.metrics
            .messages_in
            .inc_by(u64::try_from(messages.len()).unwrap_or(0));
        let timer = self.metrics.store_batch_seconds.start_timer();
        let (outcomes, new_members) = self.store(&messages).await;
        timer.observe_duration();

        let deliveries: Vec<Arc<Delivery>> = outcomes
            .iter()
            .filter_map(|o| match o {
                Some(Outcome::Stored(m)) => Some(Arc::new(Delivery::of(m))),
                _ => None,
            })
            .collect();
        // This replica's sockets, the senders' among them, get the messages now
        // (in id order, through the hub); other replicas through Redis.
        self.hub.offer(&deliveries);
        self.publish.push(&deliveries);
        // The recipient of a first direct message finds it in their room list,
        // and every socket of theirs hears of it.
        for (user, room) in &new_members {
            let sent_it = messages
                .iter()
                .any(|m| m.user_id == *user && m.room.as_str() == room);
            if !sent_it {
                self.announce
                    .to_user(*user, &ServerFrame::Member { room }, None);
            }
        }
        for (reply, outcome) in replies.into_iter().zip(outcomes) {
            let _ = reply.send(outcome.ok_or(FrameError::Unavailable));
        }
    }

    /// One outcome per message (`None`: it could not be stored), and the
    /// memberships the stored ones created.
    async fn store(&mut self, batch: &[NewMessage]) -> Stored {
        let mut tries = 0;
        loop {
            tries += 1;
            match self.conn.insert_batch(batch).await {
                Ok(written) => {
                    return (
                        written.outcomes.into_iter().map(Some).collect(),
                        written.new_members,
                    );
                }
                Err(StoreError::Contention(e) | StoreError::Connection(e)) if tries < TRIES => {
                    tracing::debug!(error = %e, tries, "storing a batch; trying again");
                    self.metrics.store_retries.inc();
                    tokio::time::sleep(backoff(tries)).await;
                }
                Err(StoreError::Query(e)) if batch.len() > 1 => {
                    tracing::debug!(error = %e, batch = batch.len(), "a batch was refused; splitting it");
                    let (left, right) = batch.split_at(batch.len() / 2);
                    let (mut outcomes, mut members) = Box::pin(self.store(left)).await;
                    let (more, more_members) = Box::pin(self.store(right)).await;
                    outcomes.extend(more);
                    members.extend(more_members);
                    return (outcomes, members);
                }
                Err(e) => {
                    tracing::warn!(error = %e, batch = batch.len(), "storing messages failed");
                    return (vec![None; batch.len()], Vec::new());
                }
            }
        }
    }
}

fn backoff(tries: usize) -> Duration {
    let base = RETRY_BASE * (1 << tries.min(6));
    let jitter = rand::rng().random_range(0..=base.as_millis());
    base + Duration::from_millis(u64::try_from(jitter).unwrap_or(0))
}
