//! Memberships and read markers, written off the sockets' path. Joins are
//! written as they come (in batches); read markers are coalesced per user and
//! room for `CHAT_READ_FLUSH_MS` and written with one statement, so a client
//! that marks every message read costs one write and one receipt per interval,
//! not one per message. A moved marker is announced to the room and to the
//! user's other sockets.

use std::{collections::HashMap, sync::Arc, time::Duration};

use tokio::{sync::mpsc, time::Instant};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    domain::ServerFrame,
    fanout::{SocketId, announce::Announcer},
    store::Store,
};

/// Changes waiting for the task; beyond this many a change is dropped (and
/// logged): a join's membership, or a read marker the client will send again.
const QUEUE: usize = 8192;

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
    /// Coalesced markers: the highest id per user and room, and the socket
    /// that sent it (it does not hear its own receipt).
    marks: HashMap<(Uuid, String), (i64, SocketId)>,
}

impl MembershipTask {
    pub fn new(
        store: Store,
        announce: Announcer,
        flush_every: Duration,
        shutdown: CancellationToken,
    ) -> (Memberships, Self) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let task = Self {
            rx,
            store,
            announce,
            flush_every,
            shutdown,
            marks: HashMap::new(),
        };
        (Memberships { tx }, task)
    }

    pub async fn run(mut self) {
        let mut batch = Vec::new();
        let mut due: Option<Instant> = None;
        loop {
            let wake = due.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                n = self.rx.recv_many(&mut batch, 512) => {
                    if n == 0 {
                        break;
                    }
                    self.apply(std::mem::take(&mut batch)).await;
                    if due.is_none() && !self.marks.is_empty() {
                        due = Some(Instant::now() + self.flush_every);
                    }
                }
                () = tokio::time::sleep_until(wake), if due.is_some() => {
                    due = None;
                    self.flush().await;
                }
                () = self.shutdown.cancelled() => break,
            }
        }
        self.flush().await;
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
                    let mark = self.marks.entry((user, room)).or_insert((id, from));
                    if id >= mark.0 {
                        *mark = (id, from);
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

    async fn flush(&mut self) {
        if self.marks.is_empty() {
            return;
        }
        let marks = std::mem::take(&mut self.marks);
        let rows: Vec<(Uuid, String, i64)> = marks
            .iter()
            .map(|((user, room), (id, _))| (*user, room.clone(), *id))
            .collect();
        match self.store.mark_read(&rows).await {
            Ok(moved) => {
                for (user, room, id) in moved {
                    let from = marks.get(&(user, room.clone())).map(|(_, from)| *from);
                    let frame = ServerFrame::Read {
                        room: &room,
                        user_id: user,
                        id,
                    };
                    self.announce.to_room(&room, &frame, from);
                    self.announce.to_user(user, &frame, Some(&room));
                }
            }
            Err(e) => tracing::warn!(error = %e, count = rows.len(), "writing read markers failed"),
        }
    }
}
