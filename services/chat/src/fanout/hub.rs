//! This replica's sockets and rooms, owned in one place. Every method is a short
//! critical section with no awaits; delivery never blocks on a socket, because a
//! socket whose queue is full is closed instead (it can rejoin with `since`).

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex, MutexGuard, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
};

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{
    Delivery,
    relay::{Jobs, Relay},
};
use crate::{domain::RoomName, metrics::Metrics};

pub type SocketId = u64;

/// Why a socket is being closed from outside its own task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillReason {
    SlowConsumer,
    Revoked,
}

/// A socket's off switch: a child of the application's shutdown token, so
/// shutdown reaches every socket too (then with no reason: 1001).
#[derive(Debug)]
pub struct Kill {
    token: CancellationToken,
    reason: OnceLock<KillReason>,
}

impl Kill {
    pub fn new(shutdown: &CancellationToken) -> Self {
        Self {
            token: shutdown.child_token(),
            reason: OnceLock::new(),
        }
    }

    /// True when this call decided the reason (the first kill wins).
    pub fn kill(&self, reason: KillReason) -> bool {
        let first = self.reason.set(reason).is_ok();
        self.token.cancel();
        first
    }

    pub fn reason(&self) -> Option<KillReason> {
        self.reason.get().copied()
    }

    pub fn token(&self) -> &CancellationToken {
        &self.token
    }
}

/// What the hub keeps of a socket.
#[derive(Debug)]
pub struct SocketEntry {
    pub outbox: mpsc::Sender<Arc<Delivery>>,
    pub kill: Arc<Kill>,
    /// Where frames for this socket are queued from; `None` queues directly.
    pub relay: Option<Relay>,
    pub sid: Uuid,
    pub jti: Uuid,
}

/// Requests to the Redis subscriber; it works through them in order.
#[derive(Debug)]
pub enum SubCommand {
    /// Make sure the room's channel is subscribed; `ack` fires once it is.
    Subscribe {
        room: Arc<str>,
        ack: oneshot::Sender<()>,
    },
    /// The room has no local members left (check again before acting: one may
    /// have joined since).
    Unsubscribe { room: Arc<str> },
}

#[derive(Default)]
struct State {
    rooms: HashMap<Arc<str>, HashMap<SocketId, Arc<SocketEntry>>>,
    sockets: HashMap<SocketId, (Arc<SocketEntry>, HashSet<Arc<str>>)>,
    by_sid: HashMap<Uuid, HashSet<SocketId>>,
}

pub struct Hub {
    state: Mutex<State>,
    commands: mpsc::UnboundedSender<SubCommand>,
    metrics: Metrics,
    next_id: AtomicU64,
}

impl Hub {
    /// The receiver goes to the subscriber task. Unbounded, yet bounded in
    /// practice: at most one command per join or leave, and frames are rate limited.
    pub fn new(metrics: Metrics) -> (Self, mpsc::UnboundedReceiver<SubCommand>) {
        let (commands, rx) = mpsc::unbounded_channel();
        let hub = Self {
            state: Mutex::new(State::default()),
            commands,
            metrics,
            next_id: AtomicU64::new(1),
        };
        (hub, rx)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere must not take every socket down with it.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn register(&self, entry: SocketEntry) -> SocketId {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let sid = entry.sid;
        let mut state = self.state();
        state.sockets.insert(id, (Arc::new(entry), HashSet::new()));
        state.by_sid.entry(sid).or_default().insert(id);
        self.metrics.open_sockets.inc();
        id
    }

    pub fn unregister(&self, id: SocketId) {
        let mut state = self.state();
        let Some((entry, rooms)) = state.sockets.remove(&id) else {
            return;
        };
        if let Some(ids) = state.by_sid.get_mut(&entry.sid) {
            ids.remove(&id);
            if ids.is_empty() {
                state.by_sid.remove(&entry.sid);
            }
        }
        for room in rooms {
            self.remove_member(&mut state, &room, id);
        }
        self.metrics.open_sockets.dec();
    }

    /// Adds the socket to the room; the receiver fires once this replica is
    /// subscribed to the room's channel, so nothing published after it is missed.
    pub fn join(&self, id: SocketId, room: &RoomName) -> oneshot::Receiver<()> {
        let (ack, done) = oneshot::channel();
        let name = room.shared();
        let mut state = self.state();
        if let Some((entry, rooms)) = state.sockets.get_mut(&id) {
            rooms.insert(Arc::clone(&name));
            let entry = Arc::clone(entry);
            state
                .rooms
                .entry(Arc::clone(&name))
                .or_default()
                .insert(id, entry);
        }
        drop(state);
        let _ = self
            .commands
            .send(SubCommand::Subscribe { room: name, ack });
        done
    }

    pub fn leave(&self, id: SocketId, room: &str) {
        let mut state = self.state();
        let was_member = state
            .sockets
            .get_mut(&id)
            .is_some_and(|(_, rooms)| rooms.remove(room));
        if was_member {
            self.remove_member(&mut state, room, id);
        }
    }

    fn remove_member(&self, state: &mut State, room: &str, id: SocketId) {
        let Some(members) = state.rooms.get_mut(room) else {
            return;
        };
        members.remove(&id);
        if members.is_empty()
            && let Some((name, _)) = state.rooms.remove_entry(room)
        {
            let _ = self.commands.send(SubCommand::Unsubscribe { room: name });
        }
    }

    /// The calling worker thread's relay, for a socket about to start there.
    pub fn local_relay(&self) -> Relay {
        Relay::current(&self.metrics)
    }

    /// Queues a run of frames (one read from Redis) to every local member of
    /// their rooms, socket by socket: each socket gets all of its frames back to
    /// back, in batch order, so its task wakes once and hands them to actix
    /// together, which can write them with one syscall. The queueing itself
    /// happens on each socket's worker thread (see [`super::relay`]).
    pub fn deliver(&self, batch: &[Arc<Delivery>]) {
        let mut by_room: HashMap<&str, Vec<Arc<Delivery>>> = HashMap::new();
        for delivery in batch {
            by_room
                .entry(&delivery.room)
                .or_default()
                .push(Arc::clone(delivery));
        }
        let mut jobs = Jobs::default();
        let state = self.state();
        // Sockets in several of the batch's rooms, served once with a merged run.
        let mut multi: HashSet<SocketId> = HashSet::new();
        for (room, run) in by_room {
            let Some(members) = state.rooms.get(room) else {
                continue;
            };
            let run: Arc<[Arc<Delivery>]> = run.into();
            for (id, entry) in members {
                let joined = state.sockets.get(id).map(|(_, rooms)| rooms);
                match joined {
                    Some(rooms) if rooms.len() > 1 => {
                        if multi.insert(*id) {
                            let merged: Vec<Arc<Delivery>> = batch
                                .iter()
                                .filter(|d| rooms.contains(&d.room))
                                .cloned()
                                .collect();
                            jobs.push(entry, merged.into());
                        }
                    }
                    _ => jobs.push(entry, Arc::clone(&run)),
                }
            }
        }
        drop(state);
        jobs.send(&self.metrics);
    }

    /// A socket closed itself for falling behind during a catch-up.
    pub fn count_slow_consumer(&self) {
        self.metrics.slow_consumer_closes.inc();
    }

    /// Closes every local socket of a revoked login; returns how many.
    pub fn revoke(&self, sid: Uuid) -> usize {
        let state = self.state();
        let Some(ids) = state.by_sid.get(&sid) else {
            return 0;
        };
        ids.iter()
            .filter_map(|id| state.sockets.get(id))
            .filter(|(entry, _)| entry.kill.kill(KillReason::Revoked))
            .count()
    }

    /// Rooms with local members: what the subscriber must be subscribed to.
    pub fn rooms(&self) -> Vec<Arc<str>> {
        self.state().rooms.keys().cloned().collect()
    }

    pub fn has_members(&self, room: &str) -> bool {
        self.state().rooms.contains_key(room)
    }

    /// One `(sid, jti)` per open socket, to re-check revocation after a gap.
    pub fn logins(&self) -> Vec<(Uuid, Uuid)> {
        let state = self.state();
        let mut seen = HashSet::new();
        state
            .sockets
            .values()
            .map(|(e, _)| (e.sid, e.jti))
            .filter(|pair| seen.insert(*pair))
            .collect()
    }

    pub fn revoke_jti(&self, jti: Uuid) {
        let state = self.state();
        for (entry, _) in state.sockets.values().filter(|(e, _)| e.jti == jti) {
            entry.kill.kill(KillReason::Revoked);
        }
    }
}
