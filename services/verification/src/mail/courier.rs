//! A mail's first attempt, on the HTTP worker that queued it.
//!
//! Tasks on a worker die with it when the server stops. So a shutdown first
//! stops new attempts on the workers and waits for those under way
//! ([`Attempts::stop`]) before it stops the workers: an attempt cut off after
//! the relay took the mail but before its answer came would be made again, and
//! the user would get the mail twice (the SIGTERM test caught exactly that).
//! Should one still be cut off (a relay slower than the shutdown's patience),
//! the mail's place in the queue travels with the attempt: if the attempt fails
//! for now, or is dropped unfinished, the mail goes through that place to the
//! delivery task, which retries it and which the shutdown waits for.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::sync::{Notify, OwnedSemaphorePermit, mpsc};

use super::{
    attempt::{Next, Queued, attempt_once},
    transport::Transport,
};
use crate::metrics::Metrics;

/// The attempts under way on the workers.
#[derive(Default)]
pub(super) struct Attempts {
    under_way: AtomicUsize,
    stopped: AtomicBool,
    none_left: Notify,
}

impl Attempts {
    /// Counts an attempt about to start, unless attempts have stopped.
    pub(super) fn begin(self: &Arc<Self>) -> Option<UnderWay> {
        // Counted before the flag is read, and the flag set before the count
        // is read (`stop`): an attempt either sees the stop or is waited for.
        self.under_way.fetch_add(1, Ordering::SeqCst);
        let underway = UnderWay(Arc::clone(self));
        (!self.stopped.load(Ordering::SeqCst)).then_some(underway)
    }

    /// Starts no more attempts on the workers, and waits up to `timeout` for
    /// those under way.
    pub(super) async fn stop(&self, timeout: Duration) {
        self.stopped.store(true, Ordering::SeqCst);
        let all_done = async {
            loop {
                let notified = self.none_left.notified();
                if self.under_way.load(Ordering::SeqCst) == 0 {
                    return;
                }
                notified.await;
            }
        };
        if tokio::time::timeout(timeout, all_done).await.is_err() {
            tracing::warn!(
                ?timeout,
                "mail attempts on the workers still under way; handing them over"
            );
        }
    }
}

/// One attempt under way; uncounted when dropped.
pub(super) struct UnderWay(Arc<Attempts>);

impl Drop for UnderWay {
    fn drop(&mut self) {
        if self.0.under_way.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.none_left.notify_waiters();
        }
    }
}

/// A mail on its way, and the queue place that hands it over unless it is
/// finished.
struct Handover {
    permit: Option<mpsc::OwnedPermit<Queued>>,
    queued: Option<Queued>,
}

impl Handover {
    /// Done with: the place goes back to the queue empty.
    fn finish(mut self) {
        self.queued = None;
    }
}

impl Drop for Handover {
    fn drop(&mut self) {
        if let (Some(permit), Some(queued)) = (self.permit.take(), self.queued.take()) {
            permit.send(queued);
        }
    }
}

/// Starts the first attempt on this worker's runtime. `slot` is the
/// `MAIL_CONCURRENCY` slot it holds; it is given back before a hand-over, so
/// the delivery task can take it.
pub(super) fn deliver_here(
    transport: Arc<Transport>,
    (max_attempts, metrics): (u32, Arc<Metrics>),
    permit: mpsc::OwnedPermit<Queued>,
    queued: Queued,
    (slot, underway): (OwnedSemaphorePermit, UnderWay),
) {
    let mut handover = Handover {
        permit: Some(permit),
        queued: Some(queued),
    };
    tokio::spawn(async move {
        let Some(queued) = handover.queued.as_ref() else {
            return;
        };
        let next = attempt_once(&transport, queued, 1, max_attempts, &metrics).await;
        drop((slot, underway));
        match next {
            Next::Done => {
                metrics.mail_queue_depth.dec();
                handover.finish();
            }
            Next::Retry => {
                if let Some(queued) = handover.queued.as_mut() {
                    queued.failed_attempts = 1;
                }
            }
        }
    });
}
