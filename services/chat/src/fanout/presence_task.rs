//! Keeps this replica's part of every room's presence in Redis (see
//! [`super::presence`]) and announces the changes it is the one to see.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{
    Hub,
    announce::Announcer,
    presence::{Presence, RoomUpdate},
    shares::RoomShares,
};
use crate::domain::ServerFrame;

pub struct PresenceTask {
    pub presence: Presence,
    pub hub: Arc<Hub>,
    pub announce: Announcer,
    /// Rooms with more users present than this get no presence events (see
    /// `CHAT_PRESENCE_EVENTS_MAX`).
    pub events_max: usize,
    /// Where each room's share of its users here is kept for the receipt pace.
    pub shares: RoomShares,
    pub shutdown: CancellationToken,
}

/// What this replica last told Redis it has in each room.
type Stated = HashMap<Arc<str>, HashMap<Uuid, Arc<str>>>;

impl PresenceTask {
    pub async fn run(self) {
        let mut stated = Stated::new();
        let mut tick = tokio::time::interval(self.presence.period());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let heartbeat = tokio::select! {
                () = self.shutdown.cancelled() => break,
                () = self.hub.presence_changed() => false,
                _ = tick.tick() => true,
            };
            let mut rooms = self.hub.take_presence_changes();
            if heartbeat {
                rooms.extend(self.hub.followed_rooms());
            }
            rooms.sort_unstable();
            rooms.dedup();
            let local = self.hub.local_presence(&rooms);
            let updates = rooms
                .into_iter()
                .zip(local)
                .map(|(room, users)| diff(&stated, room, users))
                .collect();
            self.apply(&mut stated, updates).await;
        }
        // Leaving: this replica's users go now rather than when it expires.
        let updates = stated
            .iter()
            .map(|(room, users)| RoomUpdate {
                room: Arc::clone(room),
                came: Vec::new(),
                went: users.keys().copied().collect(),
            })
            .collect();
        self.apply(&mut stated, updates).await;
    }

    async fn apply(&self, stated: &mut Stated, updates: Vec<RoomUpdate>) {
        let results = match self.presence.update(&updates).await {
            Ok(results) => results,
            Err(e) => {
                // Nothing recorded as stated: the next turn sends it again.
                tracing::warn!(error = %e, "presence update failed");
                for update in &updates {
                    self.hub.presence_retry(&update.room);
                }
                return;
            }
        };
        for (update, result) in updates.iter().zip(results) {
            let users = stated.entry(Arc::clone(&update.room)).or_default();
            for user in &update.went {
                users.remove(user);
            }
            for (user, name) in &update.came {
                users.insert(*user, Arc::clone(name));
            }
            if !result.known && !users.is_empty() && update.came.len() < users.len() {
                // Redis lost the room (restarted): state every user again.
                users.clear();
                self.hub.presence_retry(&update.room);
            }
            self.shares.set(&update.room, users.len(), result.present);
            if users.is_empty() {
                stated.remove(&update.room);
            }
            // Each event goes to every socket of the room, so a crowd joining
            // costs n² frames (20 000 sockets joining the lobby: 2·10⁸). Past the
            // limit a room's presence is read with GET …/presence instead.
            if result.present > self.events_max {
                continue;
            }
            for change in result.changes {
                let frame = ServerFrame::Presence {
                    room: &update.room,
                    user_id: change.user,
                    user: &change.name,
                    online: change.online,
                };
                self.announce.to_room(&update.room, &frame, None);
            }
        }
    }
}

/// What changed in a room since it was last stated.
fn diff(stated: &Stated, room: Arc<str>, local: Vec<(Uuid, Arc<str>)>) -> RoomUpdate {
    let before = stated.get(&room);
    let now: HashSet<Uuid> = local.iter().map(|(u, _)| *u).collect();
    let came = local
        .into_iter()
        .filter(|(user, name)| before.and_then(|b| b.get(user)) != Some(name))
        .collect();
    let went = before
        .map(|b| b.keys().filter(|u| !now.contains(u)).copied().collect())
        .unwrap_or_default();
    RoomUpdate { room, came, went }
}
