//! Each room's share of its present users that this replica holds, from the
//! presence state every replica keeps in Redis. A per-room budget spent on
//! every replica (receipts: `CHAT_ROOM_RECEIPTS_PER_SEC`) is split by it, so
//! the room's sockets get the budget once over all replicas rather than once
//! per replica: with the budget spent whole on each, two replicas doubled the
//! receipt frames every socket of a crowded room received (chat-fanout-mixed:
//! 20 receipts per socket per second at a budget of 10).
//!
//! A replica learns the room's count when it updates its own part of the
//! room's presence: on a local change, and at each heartbeat (`PRESENCE_TTL`
//! / 3). So for up to one heartbeat after users join or leave elsewhere a
//! share is stale — the room's receipts come a little faster or slower than
//! the budget, never lost — and no round trip is added to get it. A user with
//! sockets on two replicas counts on both, so the shares may sum to a little
//! over one.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

/// The smallest share a replica with users in a room keeps: a replica holding
/// one user of thousands still announces that user's receipts now and then.
const MIN_SHARE: f64 = 0.01;

#[derive(Clone, Default)]
pub struct RoomShares {
    rooms: Arc<RwLock<HashMap<Arc<str>, f64>>>,
}

impl RoomShares {
    /// This replica holds `local` of the `present` users of `room` (over every
    /// replica, this one included).
    pub fn set(&self, room: &Arc<str>, local: usize, present: usize) {
        let share = share(local, present);
        if let Ok(mut rooms) = self.rooms.write() {
            if share >= 1.0 {
                rooms.remove(room);
            } else {
                rooms.insert(Arc::clone(room), share);
            }
        }
    }

    /// The room's share here; the whole of it for a room presence has not
    /// counted yet (just joined) or counts only this replica in.
    pub fn get(&self, room: &str) -> f64 {
        self.rooms
            .read()
            .ok()
            .and_then(|rooms| rooms.get(room).copied())
            .unwrap_or(1.0)
    }
}

fn share(local: usize, present: usize) -> f64 {
    if local == 0 || present <= local {
        return 1.0;
    }
    // Counts of users in a room: far below 2^52, exact as f64.
    #[allow(clippy::cast_precision_loss)]
    let share = local as f64 / present as f64;
    share.clamp(MIN_SHARE, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_room_is_split_by_the_users_each_replica_holds() {
        let shares = RoomShares::default();
        let crowd: Arc<str> = Arc::from("crowd");
        assert!((shares.get("crowd") - 1.0).abs() < 1e-9, "not yet counted");
        shares.set(&crowd, 50, 100);
        assert!((shares.get("crowd") - 0.5).abs() < 1e-9);
        shares.set(&crowd, 1, 10_000);
        assert!(
            (shares.get("crowd") - MIN_SHARE).abs() < 1e-9,
            "never nothing"
        );
        shares.set(&crowd, 100, 100);
        assert!((shares.get("crowd") - 1.0).abs() < 1e-9, "the only replica");
        shares.set(&crowd, 0, 0);
        assert!((shares.get("crowd") - 1.0).abs() < 1e-9);
    }
}
