//! Read receipts, paced per room. Every receipt reaches every socket of its
//! room, so in a room of n members who all read along, each member's markers
//! cost n frames each: with one marker every 500 ms per socket (Element's
//! pace) a room of 100 is 200 receipt frames per socket per second whatever
//! the message rate — 198,000 frames/s for 1,000 sockets in chat-fanout-mixed,
//! three times the messages the machine can deliver at all.
//!
//! So a room's replicas together announce at most `CHAT_ROOM_RECEIPTS_PER_SEC`
//! receipts per second: each replica its share, by the room's users it holds
//! (`fanout/shares.rs`). A room under that pace (a direct room, a small group: a marker
//! every 250 ms from each of a few readers) sees every receipt as soon as its
//! marker is written; in a busy crowd the members take turns, oldest first, and
//! a member whose marker moves again while waiting keeps their place with the
//! newer id. No receipt is lost, only coalesced: the newest marker of every
//! member is announced. The marker itself is written at once (unread counts do
//! not wait), and the reader's own other sockets hear of it at once too.

use std::{
    collections::{HashMap, VecDeque, hash_map::Entry},
    time::Duration,
};

use tokio::time::Instant;
use uuid::Uuid;

use crate::fanout::SocketId;

/// A receipt to announce: `user` has read `room` up to `id`, from `from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub room: String,
    pub user: Uuid,
    pub id: i64,
    pub from: SocketId,
}

/// Most receipts waiting over all rooms; past it the newest is not announced
/// (its marker is stored: a client sees it in `GET /v1/rooms`).
const MAX_WAITING: usize = 100_000;

/// One room's turn-taking: a token bucket and the members waiting, in order.
#[derive(Debug)]
struct Room {
    tokens: f64,
    refilled: Instant,
    order: VecDeque<Uuid>,
    waiting: HashMap<Uuid, (i64, SocketId)>,
}

impl Room {
    /// The member whose turn it is, with their newest marker.
    fn next(&mut self, name: &str) -> Option<Receipt> {
        let user = self.order.pop_front()?;
        let (id, from) = self.waiting.remove(&user)?;
        Some(Receipt {
            room: name.to_owned(),
            user,
            id,
            from,
        })
    }
}

#[derive(Debug)]
pub struct Receipts {
    per_sec: f64,
    rooms: HashMap<String, Room>,
    waiting: usize,
}

impl Receipts {
    pub fn new(per_sec: u32) -> Self {
        Self {
            per_sec: f64::from(per_sec.max(1)),
            rooms: HashMap::new(),
            waiting: 0,
        }
    }

    /// Whether anything waits or a room is still refilling (and so must be
    /// looked at again).
    pub fn is_empty(&self) -> bool {
        self.rooms.is_empty()
    }

    /// A marker moved: announce it when the room's pace allows.
    pub fn push(&mut self, receipt: Receipt, now: Instant) {
        let room = self.rooms.entry(receipt.room).or_insert_with(|| Room {
            tokens: self.per_sec,
            refilled: now,
            order: VecDeque::new(),
            waiting: HashMap::new(),
        });
        match room.waiting.entry(receipt.user) {
            Entry::Occupied(mut waiting) => {
                let (id, from) = waiting.get_mut();
                if receipt.id >= *id {
                    (*id, *from) = (receipt.id, receipt.from);
                }
            }
            Entry::Vacant(slot) if self.waiting < MAX_WAITING => {
                slot.insert((receipt.id, receipt.from));
                room.order.push_back(receipt.user);
                self.waiting += 1;
            }
            Entry::Vacant(_) => {
                tracing::debug!("too many receipts waiting; one is not announced");
            }
        }
    }

    /// What the rooms' pace allows at `now`, oldest first in each room, each
    /// room at `share(room)` (0..=1) of the pace.
    pub fn take_due(&mut self, now: Instant, share: impl Fn(&str) -> f64) -> Vec<Receipt> {
        let mut due = Vec::new();
        let per_sec = self.per_sec;
        self.rooms.retain(|name, room| {
            let rate = per_sec * share(name).clamp(0.0, 1.0);
            // A bucket of at least one: a small share still announces.
            let capacity = rate.max(1.0);
            let elapsed = now.saturating_duration_since(room.refilled);
            room.tokens = (room.tokens + elapsed.as_secs_f64() * rate).min(capacity);
            room.refilled = now;
            while room.tokens >= 1.0 {
                let Some(receipt) = room.next(name) else {
                    break;
                };
                room.tokens -= 1.0;
                due.push(receipt);
            }
            // A room is forgotten once it has nothing waiting and a full
            // bucket: forgotten earlier, it would start again with a full one.
            !(room.order.is_empty() && room.tokens + 1e-6 >= capacity)
        });
        self.waiting -= due.len();
        due
    }

    /// Everything waiting, pace or not (the replica is shutting down).
    pub fn take_all(&mut self) -> Vec<Receipt> {
        let rooms = std::mem::take(&mut self.rooms);
        self.waiting = 0;
        let mut all = Vec::new();
        for (name, mut room) in rooms {
            all.extend(std::iter::from_fn(|| room.next(&name)));
        }
        all
    }

    /// How long until the next receipt may go (for the task's timer).
    pub fn tick(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.per_sec).max(Duration::from_millis(10))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn whole(_: &str) -> f64 {
        1.0
    }

    fn receipt(room: &str, user: Uuid, id: i64) -> Receipt {
        Receipt {
            room: room.to_owned(),
            user,
            id,
            from: 1,
        }
    }

    #[test]
    fn a_room_under_its_pace_announces_every_receipt_at_once() {
        let mut receipts = Receipts::new(10);
        let t0 = Instant::now();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        receipts.push(receipt("dm", a, 1), t0);
        receipts.push(receipt("dm", b, 1), t0);
        assert_eq!(receipts.take_due(t0, whole).len(), 2);
        receipts.push(receipt("dm", a, 2), t0 + Duration::from_millis(250));
        assert_eq!(
            receipts.take_due(t0 + Duration::from_millis(250), whole),
            [receipt("dm", a, 2)]
        );
    }

    #[test]
    fn a_crowd_takes_turns_and_every_members_newest_marker_is_announced() {
        let mut receipts = Receipts::new(10);
        let t0 = Instant::now();
        let users: Vec<Uuid> = (0..30).map(|_| Uuid::new_v4()).collect();
        for (i, user) in users.iter().enumerate() {
            receipts.push(receipt("crowd", *user, i64::try_from(i).unwrap()), t0);
        }
        // The first user's marker moves again while it waits: one receipt, the newer id.
        let first = receipts.take_due(t0, whole);
        assert_eq!(first.len(), 10, "a full bucket: ten at once");
        receipts.push(receipt("crowd", users[20], 99), t0);
        receipts.push(receipt("crowd", users[20], 50), t0);
        let mut announced = first;
        let mut t = t0;
        for _ in 0..40 {
            t += Duration::from_millis(100);
            let due = receipts.take_due(t, whole);
            assert!(due.len() <= 1, "one per 100 ms at 10 a second");
            announced.extend(due);
        }
        assert_eq!(announced.len(), 30, "each member once");
        let ids: Vec<Uuid> = announced.iter().map(|r| r.user).collect();
        assert_eq!(ids, users, "oldest first");
        assert_eq!(announced[20].id, 99, "the newest marker, never a lower one");
        assert!(
            receipts.is_empty(),
            "an idle room with a full bucket is forgotten"
        );
    }

    #[test]
    fn a_replica_takes_its_share_of_the_rooms_pace() {
        let mut receipts = Receipts::new(10);
        let t0 = Instant::now();
        for _ in 0..100 {
            receipts.push(receipt("crowd", Uuid::new_v4(), 1), t0);
        }
        let half = |room: &str| if room == "crowd" { 0.5 } else { 1.0 };
        let mut announced = receipts.take_due(t0, half).len();
        assert_eq!(announced, 5, "a bucket of half the pace");
        let mut t = t0;
        for _ in 0..20 {
            t += Duration::from_millis(100);
            announced += receipts.take_due(t, half).len();
        }
        assert_eq!(announced, 5 + 10, "five a second over two seconds");
        // A sliver of a room still announces, one at a time.
        let sliver = |_: &str| 0.01;
        let mut t = t + Duration::from_secs(60);
        let first = receipts.take_due(t, sliver).len();
        t += Duration::from_millis(100);
        assert_eq!((first, receipts.take_due(t, sliver).len()), (1, 0));
    }

    #[test]
    fn rooms_have_their_own_pace_and_shutdown_takes_what_waits() {
        let mut receipts = Receipts::new(1);
        let t0 = Instant::now();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        receipts.push(receipt("one", a, 1), t0);
        receipts.push(receipt("one", b, 1), t0);
        receipts.push(receipt("two", a, 1), t0);
        let due = receipts.take_due(t0, whole);
        assert_eq!(due.len(), 2, "one in each room");
        assert_eq!(receipts.take_all(), [receipt("one", b, 1)]);
        assert!(receipts.is_empty());
    }
}
