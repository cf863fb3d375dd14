//! Events beside the message stream: frames for a room's sockets (read
//! receipts, typing, presence) or for one user's sockets (`member`, a read marker
//! seen from their other sockets). They skip the sequencer: they carry no id and
//! no order, and a socket that has not joined the room yet simply misses them.

use std::{collections::HashSet, sync::Arc};

use bytestring::ByteString;
use uuid::Uuid;

use super::Hub;
use crate::fanout::{Delivery, Kind, SocketId, relay::Jobs};

impl Hub {
    /// Queues a room event to the room's local sockets, but `except`.
    pub fn to_room(&self, room: &str, frame: ByteString, except: Option<SocketId>) {
        let state = self.state();
        let Some((name, r)) = state.rooms.get_key_value(room) else {
            return;
        };
        let delivery: Arc<[Arc<Delivery>]> = [Arc::new(Delivery::event(
            Arc::clone(name),
            frame,
            Kind::RoomEvent,
        ))]
        .into();
        let bytes = delivery[0].frame.len();
        let mut jobs = Jobs::default();
        for (id, entry) in &r.members {
            if Some(*id) != except {
                jobs.push(entry, Arc::clone(&delivery));
            }
        }
        drop(state);
        jobs.send(bytes, &self.metrics);
    }

    /// Queues a user event to the user's local sockets, but those that joined
    /// `skip_room` (they get the same frame from the room).
    pub fn to_user(&self, user: Uuid, room: &str, frame: ByteString, skip_room: Option<&str>) {
        let state = self.state();
        let Some(ids) = state.by_user.get(&user) else {
            return;
        };
        let delivery: Arc<[Arc<Delivery>]> = [Arc::new(Delivery::event(
            Arc::from(room),
            frame,
            Kind::UserEvent,
        ))]
        .into();
        let bytes = delivery[0].frame.len();
        let mut jobs = Jobs::default();
        for id in ids {
            let Some((entry, rooms)) = state.sockets.get(id) else {
                continue;
            };
            if skip_room.is_some_and(|skip| rooms.contains(skip)) {
                continue;
            }
            jobs.push(entry, Arc::clone(&delivery));
        }
        drop(state);
        jobs.send(bytes, &self.metrics);
    }

    /// The users with local sockets in each room, with their display names:
    /// what this replica contributes to the rooms' presence.
    pub fn local_presence(&self, rooms: &[Arc<str>]) -> Vec<Vec<(Uuid, Arc<str>)>> {
        let state = self.state();
        rooms
            .iter()
            .map(|room| {
                let Some(r) = state.rooms.get(room) else {
                    return Vec::new();
                };
                let mut seen = HashSet::new();
                r.members
                    .values()
                    .filter(|entry| seen.insert(entry.user))
                    .map(|entry| (entry.user, Arc::clone(&entry.name)))
                    .collect()
            })
            .collect()
    }

    /// Rooms whose presence changed here since the last call.
    pub fn take_presence_changes(&self) -> Vec<Arc<str>> {
        self.state().presence_dirty.drain().collect()
    }

    /// Looks at a room's presence again on the next turn (a failed update).
    pub fn presence_retry(&self, room: &Arc<str>) {
        self.state().presence_dirty.insert(Arc::clone(room));
    }

    pub async fn presence_changed(&self) {
        self.presence.notified().await;
    }

    /// Every room this replica follows.
    pub fn followed_rooms(&self) -> Vec<Arc<str>> {
        self.state().rooms.keys().cloned().collect()
    }

    /// Whether the socket has joined the room.
    pub fn has_joined(&self, id: SocketId, room: &str) -> bool {
        self.state()
            .sockets
            .get(&id)
            .is_some_and(|(_, rooms)| rooms.contains(room))
    }

    /// The last id released to this replica's sockets in `room`, if followed.
    pub fn last_released(&self, room: &str) -> Option<i64> {
        self.state().rooms.get(room).and_then(|r| r.seq.last())
    }
}
