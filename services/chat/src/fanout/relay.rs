//! Hand-off of frames to the worker thread that owns each socket. Queueing a
//! frame into a socket's outbox from the subscriber's thread wakes the socket's
//! task across threads, and waking an actix worker from outside costs a syscall
//! (tokio's current-thread runtime writes its eventfd on every remote wake): one
//! per frame and socket, as many as the frames' own `send`s. So the hub sends one
//! job per worker per batch to that worker's relay task, which queues the frames
//! to its sockets with local, syscall-free wakes.
//!
//! Every socket's frames take one path (its relay, or direct), in the order the
//! hub released them; nothing overtakes. A relay that is full means its worker
//! is far behind: the sockets of the job that did not fit are closed with 1013
//! (they rejoin with `since`) rather than served out of order.

use std::{
    cell::RefCell,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use tokio::sync::mpsc;

use super::{
    Delivery,
    member::{KillReason, Refused, SocketEntry},
};
use crate::metrics::Metrics;

/// Frames for some sockets of one worker: each socket's run in the order to send.
pub type Run = (Arc<SocketEntry>, Arc<[Arc<Delivery>]>);

struct Job {
    runs: Vec<Run>,
    /// The frame bytes the job keeps alive (counted once per job).
    bytes: usize,
}

/// The bytes of the frames that jobs waiting for one worker's relay task may
/// hold (their count is `CHAT_RELAY_JOBS`). A job is one release's frames for
/// that worker.
const RELAY_BYTES: usize = 32 << 20;

/// The sending end of one worker thread's relay task.
#[derive(Debug, Clone)]
pub struct Relay {
    tx: mpsc::Sender<Job>,
    bytes: Arc<AtomicUsize>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("runs", &self.runs.len())
            .finish()
    }
}

thread_local! {
    static LOCAL: RefCell<Option<Relay>> = const { RefCell::new(None) };
}

impl Relay {
    /// The calling thread's relay, its task started on first use (or again if
    /// the thread's runtime was replaced). Call it from an actix worker, as the
    /// socket's own task is spawned there.
    pub fn current(metrics: &Metrics, jobs: usize) -> Self {
        LOCAL.with(|local| {
            let mut local = local.borrow_mut();
            if let Some(relay) = local.as_ref().filter(|r| !r.tx.is_closed()) {
                return relay.clone();
            }
            let (tx, mut rx) = mpsc::channel::<Job>(jobs.max(1));
            let bytes = Arc::new(AtomicUsize::new(0));
            let task_bytes = Arc::clone(&bytes);
            let metrics = metrics.clone();
            actix_web::rt::spawn(async move {
                while let Some(job) = rx.recv().await {
                    task_bytes.fetch_sub(job.bytes, Ordering::Relaxed);
                    run(&metrics, job.runs);
                }
            });
            let relay = Self { tx, bytes };
            *local = Some(relay.clone());
            relay
        })
    }

    fn same(&self, other: &Self) -> bool {
        self.tx.same_channel(&other.tx)
    }

    fn send(&self, job: Job, metrics: &Metrics) {
        if self.bytes.load(Ordering::Relaxed) + job.bytes > RELAY_BYTES {
            return refuse(metrics, &job.runs);
        }
        self.bytes.fetch_add(job.bytes, Ordering::Relaxed);
        let len = job.bytes;
        if let Err(mpsc::error::TrySendError::Full(job) | mpsc::error::TrySendError::Closed(job)) =
            self.tx.try_send(job)
        {
            self.bytes.fetch_sub(len, Ordering::Relaxed);
            refuse(metrics, &job.runs);
        }
    }
}

/// One release's jobs, gathered under the hub's lock.
#[derive(Default)]
pub struct Jobs {
    by_relay: Vec<(Relay, Vec<Run>)>,
    /// Sockets with no relay (not on an actix worker): queued directly.
    direct: Vec<Run>,
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
            Some((_, runs)) => runs.push(item),
            None => self.by_relay.push((relay.clone(), vec![item])),
        }
    }

    /// Hands every job over; `bytes` is the size of the frames released.
    pub fn send(self, bytes: usize, metrics: &Metrics) {
        for (relay, runs) in self.by_relay {
            relay.send(Job { runs, bytes }, metrics);
        }
        run(metrics, self.direct);
    }
}

/// The worker cannot take more: its sockets of this job are too far behind.
fn refuse(metrics: &Metrics, runs: &[Run]) {
    for (entry, _) in runs {
        if entry.kill.kill(KillReason::SlowConsumer) {
            metrics.slow_consumer_closes.inc();
            metrics.relay_overflows.inc();
        }
    }
}

fn run(metrics: &Metrics, runs: Vec<Run>) {
    let mut delivered = 0;
    for (entry, frames) in runs {
        delivered += queue_run(metrics, &entry, &frames);
    }
    metrics
        .messages_delivered
        .inc_by(u64::try_from(delivered).unwrap_or(0));
}

/// Queues frames to one socket until its outbox is full or closed, and counts
/// the messages among them. Delivery never waits for a socket: one whose queue
/// is full is closed instead (1013; it can rejoin with `since`), and gets
/// nothing after the frame that did not fit.
fn queue_run(metrics: &Metrics, entry: &SocketEntry, frames: &[Arc<Delivery>]) -> usize {
    if entry.kill.is_killed() {
        return 0;
    }
    let mut queued = 0;
    for delivery in frames {
        match entry.outbox.try_send(delivery) {
            Ok(()) => queued += usize::from(delivery.kind == super::Kind::Message),
            Err(Refused::Full) => {
                if entry.kill.kill(KillReason::SlowConsumer) {
                    metrics.slow_consumer_closes.inc();
                }
                break;
            }
            // The socket is on its way out.
            Err(Refused::Closed) => break,
        }
    }
    queued
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use bytestring::ByteString;
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::fanout::member::{Kill, Outbox};

    fn frames(ids: &[i64]) -> Arc<[Arc<Delivery>]> {
        ids.iter()
            .map(|&id| {
                Arc::new(Delivery {
                    room: Arc::from("r"),
                    id,
                    frame: ByteString::from_static("{}"),
                    kind: crate::fanout::Kind::Message,
                })
            })
            .collect()
    }

    /// On actix's single-threaded test runtime the relay task cannot run until
    /// the test yields: every job after the first finds the relay full.
    #[actix_web::test]
    async fn a_full_relay_closes_the_sockets_whose_job_did_not_fit_and_sends_nothing_out_of_order()
    {
        let metrics = Metrics::register(&prometheus::Registry::new()).unwrap();
        let relay = Relay::current(&metrics, 1);
        let socket = |relay: &Relay| {
            let (outbox, inbox) = Outbox::new(16, 1 << 20);
            let entry = Arc::new(SocketEntry {
                outbox,
                kill: Arc::new(Kill::new(&CancellationToken::new())),
                relay: Some(relay.clone()),
                user: uuid::Uuid::new_v4(),
                name: Arc::from("u"),
                sid: uuid::Uuid::new_v4(),
                jti: uuid::Uuid::new_v4(),
            });
            (entry, inbox)
        };
        let (first, mut first_inbox) = socket(&relay);
        let (second, mut second_inbox) = socket(&relay);

        let mut jobs = Jobs::default();
        jobs.push(&first, frames(&[1, 2]));
        jobs.send(4, &metrics);
        let mut jobs = Jobs::default();
        jobs.push(&first, frames(&[3, 4]));
        jobs.push(&second, frames(&[3, 4]));
        jobs.send(4, &metrics);

        assert_eq!(first.kill.reason(), Some(KillReason::SlowConsumer));
        assert_eq!(second.kill.reason(), Some(KillReason::SlowConsumer));
        assert_eq!(metrics.relay_overflows.get(), 2);
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        // Closed sockets get nothing more: no frame after a hole.
        assert!(first_inbox.try_recv().is_none());
        assert!(second_inbox.try_recv().is_none());
    }

    #[actix_web::test]
    async fn a_relay_with_room_hands_each_socket_its_frames_in_order() {
        let metrics = Metrics::register(&prometheus::Registry::new()).unwrap();
        let relay = Relay::current(&metrics, 8);
        let (outbox, mut inbox) = Outbox::new(16, 1 << 20);
        let entry = Arc::new(SocketEntry {
            outbox,
            kill: Arc::new(Kill::new(&CancellationToken::new())),
            relay: Some(relay),
            user: uuid::Uuid::new_v4(),
            name: Arc::from("u"),
            sid: uuid::Uuid::new_v4(),
            jti: uuid::Uuid::new_v4(),
        });
        for ids in [[1, 2], [3, 4], [5, 6]] {
            let mut jobs = Jobs::default();
            jobs.push(&entry, frames(&ids));
            jobs.send(4, &metrics);
        }
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        let mut got = Vec::new();
        while let Some(d) = inbox.try_recv() {
            got.push(d.id);
        }
        assert_eq!(got, vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(entry.kill.reason(), None);
    }
}
