//! The reads the hub asks for, from PostgreSQL: a room's baseline (its last id
//! once this replica follows it), the missing ids of a gap, and sweeps that
//! compare every followed room's last id with what was released — periodically,
//! to find a message whose publish never arrived and that nothing came after,
//! and at once when the Redis subscription was lost or restored.

use std::{sync::Arc, time::Duration};

use tokio::{sync::Semaphore, time::Instant};
use tokio_util::sync::CancellationToken;

use crate::{
    fanout::{Delivery, Hub, hub::ordering::Work, subscriber::FanoutStatus},
    store::Store,
};

/// Most messages read per gap read; a longer gap takes several.
const FILL_PAGE: i64 = 1000;
/// Reads in flight at once, so a burst of gaps cannot take the whole pool.
const CONCURRENT_READS: usize = 4;
/// How often rooms are swept while the Redis subscription is down.
const SWEEP_WHILE_DOWN: Duration = Duration::from_secs(1);

pub struct Backfill {
    pub hub: Arc<Hub>,
    pub store: Store,
    pub status: FanoutStatus,
    /// How often every followed room is swept while Redis is up.
    pub sweep_every: Duration,
    pub shutdown: CancellationToken,
}

impl Backfill {
    pub async fn run(self) {
        let reads = Arc::new(Semaphore::new(CONCURRENT_READS));
        let mut last_sweep = Instant::now();
        loop {
            let work = self.hub.take_work(std::time::Instant::now());
            if !work.sweep.is_empty() {
                last_sweep = Instant::now();
            }
            let wake = work.next.map(Instant::from_std);
            self.dispatch(work, &reads);
            // Re-read on every turn: the subscriber going down wakes this loop.
            let every = if self.status.is_connected() {
                self.sweep_every
            } else {
                SWEEP_WHILE_DOWN
            };
            let next_sweep = last_sweep + every;
            let until = wake.map_or(next_sweep, |w| w.min(next_sweep));
            tokio::select! {
                () = self.shutdown.cancelled() => return,
                () = self.hub.work_changed() => {}
                () = tokio::time::sleep_until(until) => {
                    if Instant::now() >= next_sweep {
                        last_sweep = Instant::now();
                        self.hub.request_sweep();
                    }
                }
            }
        }
    }

    fn dispatch(&self, work: Work, reads: &Arc<Semaphore>) {
        if !work.starts.is_empty() {
            let (hub, store, reads) =
                (Arc::clone(&self.hub), self.store.clone(), Arc::clone(reads));
            tokio::spawn(async move {
                let _permit = reads.acquire().await;
                let names: Vec<&str> = work.starts.iter().map(|(r, _)| &**r).collect();
                // Read only: a join never writes (a room row is made by its first message).
                match store.last_ids(&names).await {
                    Ok(found) => hub.started(&with_epochs(&work.starts, &found)),
                    Err(e) => {
                        tracing::warn!(error = %e, "reading rooms' last ids failed");
                        hub.start_failed(&work.starts);
                    }
                }
            });
        }
        for (room, epoch, gap) in work.gaps {
            let (hub, store, reads) =
                (Arc::clone(&self.hub), self.store.clone(), Arc::clone(reads));
            tokio::spawn(async move {
                let _permit = reads.acquire().await;
                match store.range(&room, gap.after, gap.upto, FILL_PAGE).await {
                    Ok(rows) => {
                        let reached = if i64::try_from(rows.len()).unwrap_or(i64::MAX) < FILL_PAGE {
                            gap.upto
                        } else {
                            rows.last().map_or(gap.upto, |m| m.id)
                        };
                        let rows = rows.iter().map(|m| Arc::new(Delivery::of(m))).collect();
                        hub.filled(&room, epoch, rows, reached);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, %room, "filling a gap failed");
                        hub.fill_failed(&room, epoch);
                    }
                }
            });
        }
        if !work.sweep.is_empty() {
            let (hub, store, reads) =
                (Arc::clone(&self.hub), self.store.clone(), Arc::clone(reads));
            tokio::spawn(async move {
                let _permit = reads.acquire().await;
                let names: Vec<&str> = work.sweep.iter().map(|(r, _)| &**r).collect();
                match store.last_ids(&names).await {
                    Ok(found) => hub.swept(&with_epochs(&work.sweep, &found)),
                    Err(e) => tracing::warn!(error = %e, "sweeping rooms failed"),
                }
            });
        }
    }
}

fn with_epochs(asked: &[(Arc<str>, u64)], found: &[(String, i64)]) -> Vec<(Arc<str>, u64, i64)> {
    let last: std::collections::HashMap<&str, i64> =
        found.iter().map(|(n, l)| (n.as_str(), *l)).collect();
    asked
        .iter()
        .filter_map(|(room, epoch)| last.get(&**room).map(|l| (Arc::clone(room), *epoch, *l)))
        .collect()
}
