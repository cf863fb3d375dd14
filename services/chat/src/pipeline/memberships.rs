//! Memberships and read markers, written off the sockets' path. Joins are
//! written as they come (in batches); read markers are coalesced per user and
//! room for `CHAT_READ_FLUSH_MS`, so a client that marks every message read
//! costs one write and one receipt per interval, not one per message. A moved
//! marker is announced to the user's other sockets at once, and to the room
//! at the room's pace (`receipts.rs`).
//!
//! Each marker waits its own interval, from its first change, and the task
//! writes what is due every fifth of one ([`SLICES`]): with one window for
//! everybody, every receipt of the interval went out at once — 50,000 frames
//! for 1,000 sockets in rooms of 100 — and messages queued behind that burst
//! (chat-fanout-mixed at 10,000 deliveries/s: p99 96 ms, 7 ms alone).

use std::{collections::HashMap, sync::Arc, time::Duration};

use tokio::{sync::mpsc, time::Instant};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::receipts::{Receipt, Receipts};
use crate::{
    domain::ServerFrame,
    fanout::{SocketId, announce::Announcer},
    store::Store,
};

/// Changes waiting for the task; beyond this many a change is dropped (and
/// logged): a join's membership, or a read marker the client will send again.
const QUEUE: usize = 8192;

/// The due markers are written this many times per `CHAT_READ_FLUSH_MS`.
const SLICES: u32 = 5;

/// A coalesced marker: the highest id, the socket that sent it (it does not
/// hear its own receipt), and when the marker first changed since written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Mark {
    id: i64,
    from: SocketId,
    since: Instant,
}

type Marks = HashMap<(Uuid, String), Mark>;

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

/// The sockets' end.
#[derive(Clone)]
pub struct Memberships {
    tx: mpsc::Sender<Change>,
}

impl Memberships {
    fn send(&self, change: Change) {
        if self.tx.try_send(change).is_err() {
            tracing::warn!("membership queue full; a change was dropped");
        }
    }

    /// The user joined `room` when its newest id was `read_id`.
    pub fn joined(&self, user: Uuid, room: Arc<str>, read_id: i64) {
        self.send(Change::Joined {
            user,
            room,
            read_id,
        });
    }

    pub fn forget(&self, user: Uuid, room: String) {
        self.send(Change::Forget { user, room });
    }

    pub fn read(&self, user: Uuid, room: String, id: i64, from: SocketId) {
        self.send(Change::Read {
            user,
            room,
            id,
            from,
        });
    }
}

pub struct MembershipTask {
    rx: mpsc::Receiver<Change>,
    store: Store,
    announce: Announcer,
    flush_every: Duration,
    shutdown: CancellationToken,
    marks: Marks,
    receipts: Receipts,
}

/// How a replica coalesces read markers and paces their receipts.
#[derive(Debug, Clone, Copy)]
pub struct ReadPacing {
    /// `CHAT_READ_FLUSH_MS`.
    pub flush_every: Duration,
    /// `CHAT_ROOM_RECEIPTS_PER_SEC`.
    pub room_receipts_per_sec: u32,
}

impl MembershipTask {
    pub fn new(
        store: Store,
        announce: Announcer,
        pacing: ReadPacing,
        shutdown: CancellationToken,
    ) -> (Memberships, Self) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let task = Self {
            rx,
            store,
            announce,
            flush_every: pacing.flush_every,
            shutdown,
            marks: HashMap::new(),
            receipts: Receipts::new(pacing.room_receipts_per_sec),
        };
        (Memberships { tx }, task)
    }

    pub async fn run(mut self) {
        let mut batch = Vec::new();
        let mut due: Option<Instant> = None;
        let tick = (self.flush_every / SLICES).min(self.receipts.tick());
        loop {
            let wake = due.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                n = self.rx.recv_many(&mut batch, 512) => {
                    if n == 0 {
                        break;
                    }
                    self.apply(std::mem::take(&mut batch)).await;
                }
                () = tokio::time::sleep_until(wake), if due.is_some() => {
                    due = None;
                    let marks = take_due(&mut self.marks, Instant::now(), self.flush_every);
                    self.flush(marks).await;
                    let receipts = self.receipts.take_due(Instant::now());
                    self.announce_to_rooms(receipts);
                }
                () = self.shutdown.cancelled() => break,
            }
            if due.is_none() && !(self.marks.is_empty() && self.receipts.is_empty()) {
                due = Some(Instant::now() + tick);
            }
        }
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
    async fn apply(&mut self, changes: Vec<Change>) {
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
                    let since = Instant::now();
                    let mark = self
                        .marks
                        .entry((user, room))
                        .or_insert(Mark { id, from, since });
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
        match self.store.mark_read(&rows).await {
            Ok(moved) => {
                let now = Instant::now();
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

/// The markers whose interval has passed at `now`, taken out of `marks`.
fn take_due(marks: &mut Marks, now: Instant, every: Duration) -> Marks {
    let due: Vec<(Uuid, String)> = marks
        .iter()
        .filter(|(_, mark)| mark.since + every <= now)
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
    fn each_marker_waits_its_own_interval() {
        let t0 = Instant::now();
        let every = Duration::from_millis(250);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let mut marks = Marks::new();
        marks.insert(
            (a, "r".into()),
            Mark {
                id: 5,
                from: 1,
                since: t0,
            },
        );
        marks.insert(
            (b, "r".into()),
            Mark {
                id: 7,
                from: 2,
                since: t0 + Duration::from_millis(100),
            },
        );
        assert!(take_due(&mut marks, t0 + Duration::from_millis(200), every).is_empty());
        let due = take_due(&mut marks, t0 + Duration::from_millis(250), every);
        assert_eq!(due.keys().collect::<Vec<_>>(), [&(a, "r".to_owned())]);
        assert_eq!(marks.len(), 1, "the later one still waits");
        let due = take_due(&mut marks, t0 + Duration::from_millis(350), every);
        assert_eq!(due.get(&(b, "r".to_owned())).map(|m| m.id), Some(7));
        assert!(marks.is_empty());
    }
}
