//! Releasing frames in order, and the work that keeps the order whole: which
//! rooms the subscriber must follow, and the reads the backfill task makes
//! (a room's baseline, a gap, a sweep of every room's last id).

use std::{
    collections::HashSet,
    sync::Arc,
    time::{Duration, Instant},
};

use super::{
    Hub, State, forget_room,
    linger::{self, RoomEvent},
};
use crate::fanout::{
    Delivery, Topic,
    member::{KillReason, SocketId},
    relay::Jobs,
    sequencer::Gap,
};

/// A gap that cannot be filled for this long (PostgreSQL unreachable) gives
/// the room up: its sockets are closed with 1013 rather than left with a hole.
const GIVE_UP_AFTER: Duration = Duration::from_secs(15);
/// How soon a failed read is tried again.
const RETRY_AFTER: Duration = Duration::from_millis(500);

/// Reads for the backfill task to make.
#[derive(Debug, Default)]
pub struct Work {
    /// Rooms whose last id is needed before they can go live, with their epoch.
    pub starts: Vec<(Arc<str>, u64)>,
    pub gaps: Vec<(Arc<str>, u64, Gap)>,
    /// Every live room, when a sweep was asked for.
    pub sweep: Vec<(Arc<str>, u64)>,
    /// When to look again if nothing wakes the task before.
    pub next: Option<Instant>,
}

/// What the subscriber must do for a topic whose wish changed.
pub struct SubscriptionChange {
    pub topic: Topic,
    pub wanted: bool,
}

impl Hub {
    /// Takes in messages from anywhere (Redis, this replica's writer) and
    /// releases what follows on, in id order, to the rooms' local members.
    pub fn offer(&self, batch: &[Arc<Delivery>]) {
        if batch.is_empty() {
            return;
        }
        let now = Instant::now();
        let _order = self.release_lock();
        let mut state = self.state();
        let mut released: Vec<(Arc<str>, Vec<Arc<Delivery>>)> = Vec::new();
        let mut gapped = false;
        for d in batch {
            let Some(room) = state.rooms.get_mut(&d.room) else {
                continue;
            };
            let at = match released.iter().position(|(r, _)| *r == d.room) {
                Some(at) => at,
                None => {
                    released.push((Arc::clone(&d.room), Vec::new()));
                    released.len() - 1
                }
            };
            room.seq.offer(d, now, &mut released[at].1);
            if room.seq.gap_deadline().is_some() && state.gapped.insert(Arc::clone(&d.room)) {
                gapped = true;
            }
        }
        self.hand_over(state, &released);
        if gapped {
            self.work.notify_one();
        }
    }

    /// Queues released frames to the rooms' members, socket by socket: each
    /// socket gets all of its frames back to back, so its task wakes once and
    /// hands them to actix together (one syscall for many frames). The events
    /// waiting for a released room ride in front of its messages
    /// (`linger.rs`). Consumes the state lock; the release lock is still held
    /// by the caller.
    fn hand_over(
        &self,
        mut state: std::sync::MutexGuard<'_, State>,
        released: &[(Arc<str>, Vec<Arc<Delivery>>)],
    ) {
        let mut jobs = Jobs::default();
        let mut bytes = 0;
        let waiting: Vec<Vec<RoomEvent>> = released
            .iter()
            .map(|(room, run)| {
                if run.is_empty() {
                    Vec::new()
                } else {
                    state.lingering.take_room(room)
                }
            })
            .collect();
        // Sockets in several of the released rooms, served once with a merged run.
        let mut merged: HashSet<SocketId> = HashSet::new();
        for ((room, run), events) in released.iter().zip(&waiting) {
            if run.is_empty() {
                continue;
            }
            bytes += run.iter().map(|d| d.frame.len()).sum::<usize>();
            bytes += events.iter().map(|(d, _)| d.frame.len()).sum::<usize>();
            let Some(members) = state.rooms.get(room) else {
                continue;
            };
            // The senders of this room's events get the run without them.
            let senders: HashSet<SocketId> = events.iter().filter_map(|(_, from)| *from).collect();
            let shared: Arc<[Arc<Delivery>]> = events
                .iter()
                .map(|(d, _)| Arc::clone(d))
                .chain(run.iter().cloned())
                .collect();
            for (id, entry) in &members.members {
                let joined = state.sockets.get(id).map(|(_, rooms)| rooms);
                match joined {
                    Some(rooms) if rooms.len() > 1 && released.len() > 1 => {
                        if merged.insert(*id) {
                            let all: Vec<Arc<Delivery>> = released
                                .iter()
                                .zip(&waiting)
                                .filter(|((r, _), _)| rooms.contains(r))
                                .flat_map(|((_, run), events)| {
                                    linger::for_socket(events, *id).chain(run.iter().cloned())
                                })
                                .collect();
                            jobs.push(entry, all.into());
                        }
                    }
                    _ if senders.contains(id) => {
                        let own: Vec<Arc<Delivery>> = linger::for_socket(events, *id)
                            .chain(run.iter().cloned())
                            .collect();
                        jobs.push(entry, own.into());
                    }
                    _ => jobs.push(entry, Arc::clone(&shared)),
                }
            }
        }
        drop(state);
        if bytes > 0 {
            jobs.send(bytes, &self.metrics);
        }
    }

    /// Topics whose subscription may have to change since the last call.
    pub fn subscription_changes(&self) -> Vec<SubscriptionChange> {
        let mut state = self.state();
        let dirty: Vec<Topic> = state.sub_dirty.drain().collect();
        dirty
            .into_iter()
            .map(|topic| SubscriptionChange {
                wanted: match &topic {
                    Topic::Room(room) => state.rooms.contains_key(room),
                    Topic::User(user) => state.by_user.contains_key(user),
                },
                topic,
            })
            .collect()
    }

    /// Resolves once a subscription change may be waiting.
    pub async fn subscriptions_changed(&self) {
        self.subscriptions.notified().await;
    }

    /// Every room with local members and every user with local sockets: what a
    /// new subscriber connection follows.
    pub fn topics(&self) -> Vec<Topic> {
        let state = self.state();
        state
            .rooms
            .keys()
            .map(|room| Topic::Room(Arc::clone(room)))
            .chain(state.by_user.keys().map(|user| Topic::User(*user)))
            .collect()
    }

    /// The subscriber now follows these rooms: those not live yet need their
    /// baseline, read from here on (anything published later arrives).
    pub fn subscribed(&self, rooms: &[Arc<str>]) {
        let now = Instant::now();
        let mut state = self.state();
        let state = &mut *state;
        let mut any = false;
        for room in rooms {
            if let Some(r) = state.rooms.get(room)
                && !r.seq.is_live()
            {
                state.need_start.entry(Arc::clone(room)).or_insert(now);
                any = true;
            }
        }
        if any {
            self.work.notify_one();
        }
    }

    /// Asks the backfill task to compare every live room with PostgreSQL (after
    /// the subscription was down, and periodically).
    pub fn request_sweep(&self) {
        self.state().sweep_requested = true;
        self.work.notify_one();
    }

    pub async fn work_changed(&self) {
        self.work.notified().await;
    }

    pub fn take_work(&self, now: Instant) -> Work {
        let mut state = self.state();
        let state = &mut *state;
        let mut work = Work::default();
        let mut next: Option<Instant> = None;
        let mut soonest = |at: Instant| next = Some(next.map_or(at, |n| n.min(at)));
        for (room, due) in &mut state.need_start {
            let Some(r) = state.rooms.get(room) else {
                continue;
            };
            if *due <= now {
                work.starts.push((Arc::clone(room), r.epoch));
            } else {
                soonest(*due);
            }
        }
        // In flight now; a failed read puts the room back (`start_failed`).
        for (room, _) in &work.starts {
            state.need_start.remove(room);
        }
        state.gapped.retain(|room| {
            let Some(r) = state.rooms.get_mut(room) else {
                return false;
            };
            if let Some(gap) = r.seq.gap_due(now) {
                work.gaps.push((Arc::clone(room), r.epoch, gap));
                return true;
            }
            // None: a read is under way, or the gap closed by itself.
            if let Some(due) = r.seq.gap_deadline() {
                soonest(due);
            }
            r.seq.gap_age(now).is_some()
        });
        if std::mem::take(&mut state.sweep_requested) {
            work.sweep = state
                .rooms
                .iter()
                .filter(|(_, r)| r.seq.is_live())
                .map(|(room, r)| (Arc::clone(room), r.epoch))
                .collect();
        }
        work.next = next;
        work
    }

    /// Baselines read: the rooms go live, their waiting joins start after it.
    pub fn started(&self, results: &[(Arc<str>, u64, i64)]) {
        let now = Instant::now();
        let _order = self.release_lock();
        let mut state = self.state();
        let mut released = Vec::new();
        for (room, epoch, last) in results {
            let state = &mut *state;
            let Some(r) = state.rooms.get_mut(room).filter(|r| r.epoch == *epoch) else {
                continue;
            };
            state.need_start.remove(room);
            let mut out = Vec::new();
            r.seq.start(*last, now, &mut out);
            let start = r.seq.last().unwrap_or(*last);
            for (_, waiter) in r.waiting.drain(..) {
                let _ = waiter.send(start);
            }
            if r.seq.gap_deadline().is_some() {
                state.gapped.insert(Arc::clone(room));
            }
            released.push((Arc::clone(room), out));
        }
        self.hand_over(state, &released);
        self.work.notify_one();
    }

    pub fn start_failed(&self, rooms: &[(Arc<str>, u64)]) {
        let retry = Instant::now() + RETRY_AFTER;
        let mut state = self.state();
        let state = &mut *state;
        for (room, epoch) in rooms {
            if state.rooms.get(room).is_some_and(|r| r.epoch == *epoch) {
                state.need_start.insert(Arc::clone(room), retry);
            }
        }
        self.work.notify_one();
    }

    /// A gap read came back with the stored messages in `(gap.after, reached]`.
    pub fn filled(&self, room: &Arc<str>, epoch: u64, rows: Vec<Arc<Delivery>>, reached: i64) {
        let now = Instant::now();
        let _order = self.release_lock();
        let mut state = self.state();
        let Some(r) = state.rooms.get_mut(room).filter(|r| r.epoch == epoch) else {
            return;
        };
        let mut out = Vec::new();
        r.seq.filled(rows, reached, now, &mut out);
        self.metrics
            .gap_fills
            .inc_by(u64::try_from(out.len()).unwrap_or(0));
        let open = r.seq.gap_age(now).is_some();
        if open {
            state.gapped.insert(Arc::clone(room));
        }
        self.hand_over(state, &[(Arc::clone(room), out)]);
        if open {
            self.work.notify_one();
        }
    }

    /// A gap read failed: tried again shortly, or, once the gap is too old,
    /// the room is given up and its sockets closed with 1013.
    pub fn fill_failed(&self, room: &Arc<str>, epoch: u64) {
        let now = Instant::now();
        let mut state = self.state();
        let Some(r) = state.rooms.get_mut(room).filter(|r| r.epoch == epoch) else {
            return;
        };
        if r.seq.gap_age(now).is_some_and(|age| age < GIVE_UP_AFTER) {
            r.seq.fill_failed(now + RETRY_AFTER);
            state.gapped.insert(Arc::clone(room));
            drop(state);
            self.work.notify_one();
            return;
        }
        tracing::warn!(%room, "a gap could not be filled; closing the room's sockets");
        let members: Vec<_> = r.members.values().cloned().collect();
        forget_room(&mut state, room);
        drop(state);
        for entry in members {
            if entry.kill.kill(KillReason::SlowConsumer) {
                self.metrics.slow_consumer_closes.inc();
            }
        }
        self.subscriptions.notify_one();
    }

    /// The sweep read these rooms' last ids.
    pub fn swept(&self, results: &[(Arc<str>, u64, i64)]) {
        let now = Instant::now();
        let mut state = self.state();
        let state = &mut *state;
        let mut any = false;
        for (room, epoch, last) in results {
            if let Some(r) = state.rooms.get_mut(room).filter(|r| r.epoch == *epoch) {
                r.seq.stored_up_to(*last, now);
                if r.seq.gap_deadline().is_some() {
                    any |= state.gapped.insert(Arc::clone(room));
                }
            }
        }
        if any {
            self.work.notify_one();
        }
    }

    /// Bytes held by every room's sequencer, for the metrics.
    pub fn held_bytes(&self) -> usize {
        self.state()
            .rooms
            .values()
            .map(|r| r.seq.held_bytes())
            .sum()
    }
}
