//! Hand-off of frames to the worker thread that owns each socket. Queueing a
//! frame into a socket's outbox from the subscriber's thread wakes the socket's
//! task across threads, and waking an actix worker from outside costs a syscall
//! (tokio's current-thread runtime writes its eventfd on every remote wake): one
//! per frame and socket, as many as the frames' own `send`s. So the hub sends one
//! job per worker per batch to that worker's relay task, which queues the frames
//! to its sockets with local, syscall-free wakes.

use std::{cell::RefCell, sync::Arc};

use tokio::sync::mpsc;

use super::{
    Delivery,
    hub::{KillReason, SocketEntry},
};
use crate::metrics::Metrics;

/// Frames for some sockets of one worker: each socket's run in the order to send.
pub type Job = Vec<(Arc<SocketEntry>, Arc<[Arc<Delivery>]>)>;

/// Jobs waiting for one worker's relay task. A job is one batch's frames for that
/// worker, so this bounds how far a stalled worker can fall behind before
/// delivery falls back to queueing into the sockets' own bounded outboxes.
const RELAY_CAPACITY: usize = 256;

/// The sending end of one worker thread's relay task.
#[derive(Debug, Clone)]
pub struct Relay(mpsc::Sender<Job>);

thread_local! {
    static LOCAL: RefCell<Option<Relay>> = const { RefCell::new(None) };
}

impl Relay {
    /// The calling thread's relay, its task started on first use (or again if
    /// the thread's runtime was replaced). Call it from an actix worker, as the
    /// socket's own task is spawned there.
    pub fn current(metrics: &Metrics) -> Self {
        LOCAL.with(|local| {
            let mut local = local.borrow_mut();
            if let Some(relay) = local.as_ref().filter(|r| !r.0.is_closed()) {
                return relay.clone();
            }
            let (tx, mut rx) = mpsc::channel::<Job>(RELAY_CAPACITY);
            let metrics = metrics.clone();
            actix_web::rt::spawn(async move {
                while let Some(job) = rx.recv().await {
                    run(&metrics, job);
                }
            });
            let relay = Self(tx);
            *local = Some(relay.clone());
            relay
        })
    }

    fn same(&self, other: &Self) -> bool {
        self.0.same_channel(&other.0)
    }
}

/// One batch's jobs, gathered under the hub's lock and sent after it.
#[derive(Default)]
pub struct Jobs {
    by_relay: Vec<(Relay, Job)>,
    /// Sockets with no relay (not on an actix worker): queued directly.
    direct: Job,
}

impl Jobs {
    pub fn push(&mut self, entry: &Arc<SocketEntry>, frames: Arc<[Arc<Delivery>]>) {
        let item = (Arc::clone(entry), frames);
        let Some(relay) = entry.relay.as_ref() else {
            self.direct.push(item);
            return;
        };
        // A handful of workers: a linear search beats hashing.
        match self.by_relay.iter_mut().find(|(r, _)| r.same(relay)) {
            Some((_, job)) => job.push(item),
            None => self.by_relay.push((relay.clone(), vec![item])),
        }
    }

    pub fn send(self, metrics: &Metrics) {
        for (relay, job) in self.by_relay {
            // The worker is behind or gone (shutting down): queue into the sockets'
            // outboxes directly, whose bounds close slow consumers, rather than let
            // this queue grow or drop anything.
            if let Err(
                mpsc::error::TrySendError::Full(job) | mpsc::error::TrySendError::Closed(job),
            ) = relay.0.try_send(job)
            {
                run(metrics, job);
            }
        }
        run(metrics, self.direct);
    }
}

fn run(metrics: &Metrics, job: Job) {
    let mut delivered = 0;
    for (entry, frames) in job {
        delivered += queue_run(metrics, &entry, &frames);
    }
    metrics
        .messages_delivered
        .inc_by(u64::try_from(delivered).unwrap_or(0));
}

/// Queues frames to one socket until its outbox is full or closed. Delivery never
/// waits for a socket: one whose queue is full is closed instead (1013; it can
/// rejoin with `since`).
fn queue_run(metrics: &Metrics, entry: &SocketEntry, frames: &[Arc<Delivery>]) -> usize {
    let mut queued = 0;
    for delivery in frames {
        match entry.outbox.try_send(Arc::clone(delivery)) {
            Ok(()) => queued += 1,
            Err(mpsc::error::TrySendError::Full(_)) => {
                if entry.kill.kill(KillReason::SlowConsumer) {
                    metrics.slow_consumer_closes.inc();
                }
                break;
            }
            // The socket is on its way out.
            Err(mpsc::error::TrySendError::Closed(_)) => break,
        }
    }
    queued
}
