//! Memberships and read markers, written off the sockets' path. Joins are
//! written as they come (in batches); a user's read marker in a room is written
//! at most once per `CHAT_READ_FLUSH_MS`, so a client that marks every message
//! read costs one write and one receipt per interval, not one per message. A
//! moved marker is announced to the user's other sockets when written, and to
//! the room at the room's pace (`receipts.rs`).
//!
//! A marker that was not written in the last interval is written at once (at
//! the next slice): opening a room and reading it clears the badge on the
//! user's other devices without waiting. Later changes wait until the interval
//! since that write has passed, coalesced. Before, every marker waited a whole
//! interval from its first change: at 250 ms a client marking every 500 ms was
//! written every time; at 1 s the first one waited 1 s. Writing first and
//! coalescing after, a busy reader costs one write a second, half of what it
//! did (chat-fanout-mixed at 40,000 deliveries/s, alternated on one binary: the
//! mixed step's extra CPU over all processes +13 % → +5 %, means of 8 and 6
//! runs that spread ±10 points), and a one-off marker is written within a
//! slice.
//!
//! Each marker keeps its own interval, and the task writes what is due every
//! fifth of one ([`SLICES`]): with one window for everybody, every receipt of
//! the interval went out at once — 50,000 frames for 1,000 sockets in rooms of
//! 100 — and messages queued behind that burst (chat-fanout-mixed at 10,000
//! deliveries/s: p99 96 ms, 7 ms alone).
//!
//! Changes wait in a [`Mailbox`] that a read marker does not wake the task for
//! while the task is ticking anyway: markers are only written at ticks, so
//! waking for each did nothing but cost a thread switch. With 1,000 sockets
//! marking twice a second the task's threads woke about 750 more times a
//! second per replica than with messages alone (voluntary context switches,
//! chat-fanout-mixed at 20,000 deliveries/s). Joins and forgets still wake it.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tokio::{sync::Notify, time::Instant};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::receipts::{Receipt, Receipts};
use crate::{
    domain::ServerFrame,
    fanout::{SocketId, announce::Announcer, shares::RoomShares},
    store::Store,
};

/// Changes waiting for the task; beyond this many a change is dropped (and
/// logged): a join's membership, or a read marker the client will send again.
/// A change holds a room name of at most 76 bytes: under 1 MiB in all.
const QUEUE: usize = 8192;

/// The due markers are written this many times per `CHAT_READ_FLUSH_MS`.
const SLICES: u32 = 5;

/// A coalesced marker: the highest id, the socket that sent it (it does not
/// hear its own receipt), and when it is to be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Mark {
    id: i64,
    from: SocketId,
    due: Instant,
}

type Marks = HashMap<(Uuid, String), Mark>;

/// When each marker was last written, kept for one interval.
type Written = HashMap<(Uuid, String), Instant>;

enum Change {
    Joined {
        user: Uuid,
        room: Arc<str>,
        read_id: i64,
    },
    Forget {
        user: Uuid,
        room: String,
    },
    Read {
        user: Uuid,
        room: String,
        id: i64,
        from: SocketId,
    },
}

/// Changes in the order the sockets made them, and the task's wake-up.
struct Mailbox {
    queue: Mutex<VecDeque<Change>>,
    wake: Notify,
    /// The task will look at the queue within a tick without being woken.
    ticking: AtomicBool,
}

impl Mailbox {
    fn take(&self) -> VecDeque<Change> {
        std::mem::take(&mut *self.queue.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// The sockets' end.
#[derive(Clone)]
pub struct Memberships {
    mailbox: Arc<Mailbox>,
}

impl Memberships {
    /// Queues a change; an `urgent` one wakes the task, as does any while the
    /// task is idle.
    fn send(&self, change: Change, urgent: bool) {
        {
            let mut queue = self
                .mailbox
                .queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if queue.len() >= QUEUE {
                drop(queue);
                tracing::warn!("membership queue full; a change was dropped");
                return;
            }
            queue.push_back(change);
        }
        // Read after the push: a task that stops ticking looks at the queue
        // once more after saying so (`MembershipTask::run`), so one of the two
        // sees the change.
        if urgent || !self.mailbox.ticking.load(Ordering::SeqCst) {
            self.mailbox.wake.notify_one();
        }
    }

    /// The user joined `room` when its newest id was `read_id`.
    pub fn joined(&self, user: Uuid, room: Arc<str>, read_id: i64) {
        let change = Change::Joined {
            user,
            room,
            read_id,
        };
        self.send(change, true);
    }

    pub fn forget(&self, user: Uuid, room: String) {
        self.send(Change::Forget { user, room }, true);
    }

    pub fn read(&self, user: Uuid, room: String, id: i64, from: SocketId) {
        let change = Change::Read {
            user,
            room,
            id,
            from,
        };
        self.send(change, false);
    }
}

pub struct MembershipTask {
    mailbox: Arc<Mailbox>,
    store: Store,
    announce: Announcer,
    flush_every: Duration,
    shutdown: CancellationToken,
    marks: Marks,
    written: Written,
    receipts: Receipts,
    shares: RoomShares,
}

/// How a replica coalesces read markers and paces their receipts.
#[derive(Clone)]
pub struct ReadPacing {
    /// `CHAT_READ_FLUSH_MS`.
    pub flush_every: Duration,
    /// `CHAT_ROOM_RECEIPTS_PER_SEC`, over all replicas.
    pub room_receipts_per_sec: u32,
    /// This replica's share of each room's users, which it takes of that pace.
    pub shares: RoomShares,
}

impl MembershipTask {
    pub fn new(
        store: Store,
        announce: Announcer,
        pacing: ReadPacing,
        shutdown: CancellationToken,
    ) -> (Memberships, Self) {
        let mailbox = Arc::new(Mailbox {
            queue: Mutex::new(VecDeque::new()),
            wake: Notify::new(),
            ticking: AtomicBool::new(false),
        });
        let task = Self {
            mailbox: Arc::clone(&mailbox),
            store,
            announce,
            flush_every: pacing.flush_every,
            shutdown,
            marks: HashMap::new(),
            written: HashMap::new(),
            receipts: Receipts::new(pacing.room_receipts_per_sec),
            shares: pacing.shares,
        };
        (Memberships { mailbox }, task)
    }

    pub async fn run(mut self) {
        let mut due: Option<Instant> = None;
        let tick = (self.flush_every / SLICES).min(self.receipts.tick());
        loop {
            let wake = due.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            let ticked = tokio::select! {
                () = self.mailbox.wake.notified() => false,
                () = tokio::time::sleep_until(wake), if due.is_some() => true,
                () = self.shutdown.cancelled() => break,
            };
            // Applied before the markers due now are taken: a marker not
            // written in the last interval is written at the first tick after
            // it came.
            let changes = self.mailbox.take();
            self.apply(changes).await;
            if ticked {
                due = None;
                let now = Instant::now();
                let every = self.flush_every;
                self.written
                    .retain(|_, at| now.saturating_duration_since(*at) < every);
                let marks = take_due(&mut self.marks, now);
                self.flush(marks).await;
                let shares = &self.shares;
                let receipts = self
                    .receipts
                    .take_due(Instant::now(), |room| shares.get(room));
                self.announce_to_rooms(receipts);
            }
            let idle = self.marks.is_empty() && self.written.is_empty() && self.receipts.is_empty();
            if due.is_none() && !idle {
                due = Some(Instant::now() + tick);
            }
            self.mailbox.ticking.store(due.is_some(), Ordering::SeqCst);
            if due.is_none()
                && !self
                    .mailbox
                    .queue
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .is_empty()
            {
                // Queued while the task was still ticking, unannounced.
                self.mailbox.wake.notify_one();
            }
        }
        self.mailbox.ticking.store(false, Ordering::SeqCst);
        let changes = self.mailbox.take();
        self.apply(changes).await;
        let marks = std::mem::take(&mut self.marks);
        self.flush(marks).await;
        let receipts = self.receipts.take_all();
        self.announce_to_rooms(receipts);
    }

    fn announce_to_rooms(&self, receipts: Vec<Receipt>) {
        for receipt in receipts {
            let frame = ServerFrame::Read {
                room: &receipt.room,
                user_id: receipt.user,
                id: receipt.id,
            };
            self.announce
                .to_room(&receipt.room, &frame, Some(receipt.from));
        }
    }

    /// Joins and forgets in the order they came, consecutive joins together.
    async fn apply(&mut self, changes: VecDeque<Change>) {
        let mut joins: Vec<(Uuid, String, i64)> = Vec::new();
        for change in changes {
            match change {
                Change::Joined {
                    user,
                    room,
                    read_id,
                } => joins.push((user, room.to_string(), read_id)),
                Change::Forget { user, room } => {
                    self.join(&mut joins).await;
                    self.marks.remove(&(user, room.clone()));
                    // The user's markers sent before the forget are written
                    // before it: a marker can make a membership while the
                    // user holds fewer than the cap, so written after the
                    // forget freed a place, a read of a room past the cap
                    // would take it (a test caught this once markers were
                    // written at once rather than all after one interval).
                    let earlier: Marks = self.marks.extract_if(|(u, _), _| *u == user).collect();
                    self.flush(earlier).await;
                    if let Err(e) = self.store.forget_room(user, &room).await {
                        tracing::warn!(error = %e, "forgetting a membership failed");
                    }
                }
                Change::Read {
                    user,
                    room,
                    id,
                    from,
                } => {
                    let key = (user, room);
                    let due = due_at(self.written.get(&key), Instant::now(), self.flush_every);
                    let mark = self.marks.entry(key).or_insert(Mark { id, from, due });
                    if id >= mark.id {
                        mark.id = id;
                        mark.from = from;
                    }
                }
            }
        }
        self.join(&mut joins).await;
    }

    async fn join(&self, joins: &mut Vec<(Uuid, String, i64)>) {
        if joins.is_empty() {
            return;
        }
        if let Err(e) = self.store.join_rooms(joins).await {
            tracing::warn!(error = %e, count = joins.len(), "writing memberships failed");
        }
        joins.clear();
    }

    async fn flush(&mut self, marks: Marks) {
        if marks.is_empty() {
            return;
        }
        let rows: Vec<(Uuid, String, i64)> = marks
            .iter()
            .map(|((user, room), mark)| (*user, room.clone(), mark.id))
            .collect();
        let now = Instant::now();
        for key in marks.keys() {
            self.written.insert(key.clone(), now);
        }
        match self.store.mark_read(&rows).await {
            Ok(moved) => {
                for (user, room, id) in moved {
                    let Some(from) = marks.get(&(user, room.clone())).map(|mark| mark.from) else {
                        continue;
                    };
                    let frame = ServerFrame::Read {
                        room: &room,
                        user_id: user,
                        id,
                    };
                    self.announce.to_user(user, &frame, Some(&room));
                    let receipt = Receipt {
                        room,
                        user,
                        id,
                        from,
                    };
                    self.receipts.push(receipt, now);
                }
            }
            Err(e) => tracing::warn!(error = %e, count = rows.len(), "writing read markers failed"),
        }
    }
}

/// When a marker that changed at `now` is to be written: at once, or an
/// interval after its last write.
fn due_at(written: Option<&Instant>, now: Instant, every: Duration) -> Instant {
    written.map_or(now, |at| (*at + every).max(now))
}

/// The markers due at `now`, taken out of `marks`.
fn take_due(marks: &mut Marks, now: Instant) -> Marks {
    let due: Vec<(Uuid, String)> = marks
        .iter()
        .filter(|(_, mark)| mark.due <= now)
        .map(|(key, _)| key.clone())
        .collect();
    due.into_iter()
        .filter_map(|key| marks.remove_entry(&key))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_is_written_at_once_then_at_most_once_an_interval() {
        let t0 = Instant::now();
        let every = Duration::from_millis(1000);
        let ms = |n| t0 + Duration::from_millis(n);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let key = |user| (user, "r".to_owned());
        let mut written = Written::new();
        // Never written: due at once.
        assert_eq!(due_at(written.get(&key(a)), t0, every), t0);
        written.insert(key(a), t0);
        // Written at t0 and moved again at 300 ms: waits for the interval.
        let mut marks = Marks::new();
        let due = due_at(written.get(&key(a)), ms(300), every);
        assert_eq!(due, ms(1000));
        marks.insert(
            key(a),
            Mark {
                id: 5,
                from: 1,
                due,
            },
        );
        let due = due_at(written.get(&key(b)), ms(400), every);
        marks.insert(
            key(b),
            Mark {
                id: 7,
                from: 2,
                due,
            },
        );
        let first = take_due(&mut marks, ms(400));
        assert_eq!(first.keys().collect::<Vec<_>>(), [&key(b)], "b at once");
        assert!(take_due(&mut marks, ms(900)).is_empty(), "a still waits");
        let later = take_due(&mut marks, ms(1000));
        assert_eq!(later.get(&key(a)).map(|m| m.id), Some(5));
        assert!(marks.is_empty());
        // Long after its last write a marker is due at once again.
        assert_eq!(due_at(written.get(&key(a)), ms(5000), every), ms(5000));
    }
}
