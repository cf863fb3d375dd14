//! The write path. Sockets queue messages to one writer task per replica, which
//! takes everything queued (up to `CHAT_WRITE_BATCH`) into one transaction with
//! one multi-row INSERT, publishes the stored messages only after the commit, and
//! answers each sender. One writer keeps each sender's messages in order from the
//! queue through the ids to the publish.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::{Outcome, Store};
use crate::{
    domain::{FrameError, NewMessage},
    fanout::{Delivery, Hub, publish::Publisher},
    metrics::Metrics,
};

/// The store's answer to one sender: what happened, or `Unavailable`.
pub type WriteReply = Result<Outcome, FrameError>;

struct WriteRequest {
    message: NewMessage,
    reply: oneshot::Sender<WriteReply>,
}

/// The sockets' end of the write queue.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<WriteRequest>,
}

impl Writer {
    /// Queues a message without waiting; a full queue means the database is not
    /// keeping up, and the sender hears `unavailable` at once.
    pub fn submit(&self, message: NewMessage) -> Result<oneshot::Receiver<WriteReply>, FrameError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .try_send(WriteRequest { message, reply })
            .map_err(|_| FrameError::Unavailable)?;
        Ok(answer)
    }
}

pub struct WriterTask {
    rx: mpsc::Receiver<WriteRequest>,
    store: Store,
    publisher: Publisher,
    hub: Arc<Hub>,
    metrics: Metrics,
    batch_max: usize,
    shutdown: CancellationToken,
}

impl WriterTask {
    pub fn new(
        queue: usize,
        batch_max: usize,
        store: Store,
        publisher: Publisher,
        hub: Arc<Hub>,
        metrics: Metrics,
        shutdown: CancellationToken,
    ) -> (Writer, Self) {
        let (tx, rx) = mpsc::channel(queue);
        let task = Self {
            rx,
            store,
            publisher,
            hub,
            metrics,
            batch_max,
            shutdown,
        };
        (Writer { tx }, task)
    }

    /// Runs until shutdown, then stores what is already queued and returns.
    pub async fn run(mut self) {
        let mut batch = Vec::with_capacity(self.batch_max);
        let mut closing = false;
        loop {
            let received = tokio::select! {
                n = self.rx.recv_many(&mut batch, self.batch_max) => n,
                () = self.shutdown.cancelled(), if !closing => {
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

    async fn write(&self, batch: Vec<WriteRequest>) {
        let (messages, replies): (Vec<NewMessage>, Vec<_>) =
            batch.into_iter().map(|r| (r.message, r.reply)).unzip();
        #[allow(clippy::cast_precision_loss)] // a batch size, for a histogram
        self.metrics.store_batch_size.observe(messages.len() as f64);
        self.metrics
            .messages_in
            .inc_by(u64::try_from(messages.len()).unwrap_or(0));
        let timer = self.metrics.store_batch_seconds.start_timer();
        let stored = self.store.insert_batch(&messages).await;
        timer.observe_duration();
        let outcomes = match stored {
            Ok(outcomes) => outcomes,
            Err(e) => {
                tracing::warn!(error = %e, batch = messages.len(), "storing messages failed");
                for reply in replies {
                    let _ = reply.send(Err(FrameError::Unavailable));
                }
                return;
            }
        };
        let deliveries: Vec<Arc<Delivery>> = outcomes
            .iter()
            .filter_map(|o| match o {
                Outcome::Stored(m) => Some(Arc::new(Delivery::of(m))),
                Outcome::Duplicate(_) => None,
            })
            .collect();
        if let Err(e) = self.publisher.publish(&deliveries).await {
            // Stored but not announced: this replica's sockets still get them; other
            // replicas' clients find them with `since`.
            tracing::warn!(error = %e, "publishing messages failed; delivering locally only");
            self.hub.deliver(&deliveries);
        }
        for (reply, outcome) in replies.into_iter().zip(outcomes) {
            let _ = reply.send(Ok(outcome));
        }
    }
}
