//! This replica's sockets and rooms, owned in one place. Every method is a short
//! critical section with no awaits; delivery never blocks on a socket, because a
//! socket whose queue is full is closed instead (it can rejoin with `since`).
//!
//! Each room with local members has a [`Sequencer`]: whatever reaches the
//! replica — from Redis, from its own writer, from PostgreSQL — passes through
//! it and leaves in id order, once. `ordering.rs` holds that side of the hub:
//! releasing, and the work it hands to the subscriber and the backfill task.

mod events;
pub mod linger;
pub mod ordering;

pub use events::Event;

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicU64, Ordering as AtomicOrdering},
    },
    time::Instant,
};

use tokio::sync::{Notify, oneshot};
use uuid::Uuid;

use super::{
    Topic,
    member::{KillReason, SocketEntry, SocketId},
    relay::Relay,
    sequencer::{Ordering, Sequencer},
};
use crate::{domain::RoomName, metrics::Metrics};

/// How a join starts: at once, after the room's last id `S` (the socket gets
/// every id above it live), or once this replica follows the room.
pub enum JoinStart {
    Live(i64),
    /// Resolves with `S` once subscribed and the baseline read; an error if the
    /// room was given up meanwhile.
    Pending(oneshot::Receiver<i64>),
    /// The socket is not registered (it is closing).
    Gone,
}

/// A user has as many sockets on this replica as allowed.
#[derive(Debug)]
pub struct TooManySockets;

struct RoomState {
    /// Changes whenever the room is created again, so late answers about an
    /// earlier life of the room are ignored.
    epoch: u64,
    members: HashMap<SocketId, Arc<SocketEntry>>,
    /// Local sockets per user: presence changes when one comes or goes to zero.
    users: HashMap<Uuid, usize>,
    seq: Sequencer,
    waiting: Vec<(SocketId, oneshot::Sender<i64>)>,
}

#[derive(Default)]
struct State {
    rooms: HashMap<Arc<str>, RoomState>,
    sockets: HashMap<SocketId, (Arc<SocketEntry>, HashSet<Arc<str>>)>,
    by_sid: HashMap<Uuid, HashSet<SocketId>>,
    by_user: HashMap<Uuid, HashSet<SocketId>>,
    /// Topics whose subscription may have to change, coalesced: a room joined
    /// and left a thousand times before the subscriber looks is one entry.
    sub_dirty: HashSet<Topic>,
    /// Rooms where a user's first local socket came or last one went.
    presence_dirty: HashSet<Arc<str>>,
    /// Rooms waiting for their baseline, and when to (re)try reading it.
    need_start: HashMap<Arc<str>, Instant>,
    /// Rooms whose sequencer has a gap open.
    gapped: HashSet<Arc<str>>,
    sweep_requested: bool,
    next_epoch: u64,
    /// Events waiting for their room's next release (`linger.rs`).
    lingering: linger::Lingering<Event>,
}

pub struct Hub {
    state: Mutex<State>,
    /// Taken before `state` by everything that releases frames, and held while
    /// they are handed over: two releases never overtake each other.
    release: Mutex<()>,
    subscriptions: Notify,
    work: Notify,
    presence: Notify,
    /// The first event started to wait.
    linger: Notify,
    metrics: Metrics,
    rules: Ordering,
    max_sockets_per_user: usize,
    relay_jobs: usize,
    next_id: AtomicU64,
}

/// The hub's fixed settings.
#[derive(Debug, Clone, Copy)]
pub struct HubSettings {
    pub ordering: Ordering,
    pub max_sockets_per_user: usize,
    /// Jobs a worker's relay may queue before its sockets count as too far behind.
    pub relay_jobs: usize,
}

impl Hub {
    pub fn new(metrics: Metrics, settings: HubSettings) -> Self {
        Self {
            state: Mutex::new(State::default()),
            release: Mutex::new(()),
            subscriptions: Notify::new(),
            work: Notify::new(),
            presence: Notify::new(),
            linger: Notify::new(),
            metrics,
            rules: settings.ordering,
            max_sockets_per_user: settings.max_sockets_per_user,
            relay_jobs: settings.relay_jobs,
            next_id: AtomicU64::new(1),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere must not take every socket down with it.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn release_lock(&self) -> MutexGuard<'_, ()> {
        self.release
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn register(&self, entry: SocketEntry) -> Result<SocketId, TooManySockets> {
        let mut state = self.state();
        let held = state.by_user.get(&entry.user).map_or(0, HashSet::len);
        if held >= self.max_sockets_per_user {
            return Err(TooManySockets);
        }
        let id = self.next_id.fetch_add(1, AtomicOrdering::Relaxed);
        let user = entry.user;
        state.by_sid.entry(entry.sid).or_default().insert(id);
        state.by_user.entry(user).or_default().insert(id);
        state.sockets.insert(id, (Arc::new(entry), HashSet::new()));
        let first = held == 0;
        if first {
            state.sub_dirty.insert(Topic::User(user));
        }
        drop(state);
        self.metrics.open_sockets.inc();
        if first {
            self.subscriptions.notify_one();
        }
        Ok(id)
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
        let mut changed = false;
        if let Some(ids) = state.by_user.get_mut(&entry.user) {
            ids.remove(&id);
            if ids.is_empty() {
                state.by_user.remove(&entry.user);
                state.sub_dirty.insert(Topic::User(entry.user));
                changed = true;
            }
        }
        let mut presence = false;
        for room in rooms {
            let (forgotten, left) = remove_member(&mut state, &room, id, entry.user);
            changed |= forgotten;
            presence |= left;
        }
        drop(state);
        self.metrics.open_sockets.dec();
        if changed {
            self.subscriptions.notify_one();
        }
        if presence {
            self.presence.notify_one();
        }
    }

    /// Adds the socket to the room (again, for a re-join).
    pub fn join(&self, id: SocketId, room: &RoomName) -> JoinStart {
        let name = room.shared();
        let mut state = self.state();
        let state = &mut *state;
        let Some((entry, rooms)) = state.sockets.get_mut(&id) else {
            return JoinStart::Gone;
        };
        rooms.insert(Arc::clone(&name));
        let entry = Arc::clone(entry);
        let mut created = false;
        let room_state = state.rooms.entry(Arc::clone(&name)).or_insert_with(|| {
            created = true;
            state.next_epoch += 1;
            RoomState {
                epoch: state.next_epoch,
                members: HashMap::new(),
                users: HashMap::new(),
                seq: Sequencer::new(self.rules),
                waiting: Vec::new(),
            }
        });
        let user = entry.user;
        let arrived = room_state.members.insert(id, entry).is_none() && {
            let count = room_state.users.entry(user).or_default();
            *count += 1;
            *count == 1
        };
        let start = match room_state.seq.last() {
            Some(last) => JoinStart::Live(last),
            None => {
                let (tx, rx) = oneshot::channel();
                room_state.waiting.retain(|(waiter, _)| *waiter != id);
                room_state.waiting.push((id, tx));
                JoinStart::Pending(rx)
            }
        };
        if arrived {
            state.presence_dirty.insert(Arc::clone(&name));
            self.presence.notify_one();
        }
        if created {
            state.sub_dirty.insert(Topic::Room(name));
            self.subscriptions.notify_one();
        }
        start
    }

    pub fn leave(&self, id: SocketId, room: &str) {
        let mut state = self.state();
        let Some((entry, rooms)) = state.sockets.get_mut(&id) else {
            return;
        };
        if !rooms.remove(room) {
            return;
        }
        let user = entry.user;
        let (forgotten, left) = remove_member(&mut state, room, id, user);
        drop(state);
        if forgotten {
            self.subscriptions.notify_one();
        }
        if left {
            self.presence.notify_one();
        }
    }

    /// Open sockets on this replica.
    pub fn socket_count(&self) -> usize {
        self.state().sockets.len()
    }

    /// The calling worker thread's relay, for a socket about to start there.
    pub fn local_relay(&self) -> Relay {
        Relay::current(&self.metrics, self.relay_jobs)
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

/// Removes a member: (the room is now empty and forgotten, the user's last
/// local socket in it left).
fn remove_member(state: &mut State, room: &str, id: SocketId, user: Uuid) -> (bool, bool) {
    let Some(r) = state.rooms.get_mut(room) else {
        return (false, false);
    };
    r.waiting.retain(|(waiter, _)| *waiter != id);
    let mut left = false;
    if r.members.remove(&id).is_some()
        && let Some(count) = r.users.get_mut(&user)
    {
        *count -= 1;
        if *count == 0 {
            r.users.remove(&user);
            left = true;
        }
    }
    let empty = r.members.is_empty();
    if left && let Some((name, _)) = state.rooms.get_key_value(room) {
        let name = Arc::clone(name);
        state.presence_dirty.insert(name);
    }
    (empty && forget_room(state, room), left)
}

fn forget_room(state: &mut State, room: &str) -> bool {
    let Some((name, _)) = state.rooms.remove_entry(room) else {
        return false;
    };
    state.need_start.remove(room);
    state.gapped.remove(room);
    state.sub_dirty.insert(Topic::Room(name));
    true
}
