//! The rooms one socket has joined, and how each catches up. The hub hands a
//! joining socket its start `S`, the room's last id released on this replica:
//! every id above `S` then reaches the socket live, in order. With `since`
//! below `S`, the ids in `(since, S]` are replayed from PostgreSQL while live
//! ones wait in a bounded buffer, which drains after the replay. Live or
//! replayed, one rule decides what is sent: an id above the last one sent, so
//! nothing is sent twice, and nothing is skipped because the hub and the replay
//! together cover every id.

use std::{collections::HashMap, collections::VecDeque, sync::Arc};

use crate::fanout::Delivery;

/// A catch-up buffer's bounds, in frames and bytes; beyond them the socket is
/// too far behind.
#[derive(Debug, Clone, Copy)]
pub struct BufferLimits {
    pub items: usize,
    pub bytes: usize,
}

#[derive(Default)]
struct Buffer {
    items: VecDeque<Arc<Delivery>>,
    bytes: usize,
}

enum State {
    /// Waiting for the hub's start; live messages wait too.
    Joining { since: Option<i64>, buffer: Buffer },
    /// Replaying stored ids in `(sent, upto]`; live ones (all above `upto`) wait.
    CatchingUp {
        sent: i64,
        upto: i64,
        buffer: Buffer,
    },
    /// Sending live messages with ids above `floor`, the last one sent.
    Live { floor: i64 },
}

struct Joined {
    /// Bumped by every join, so answers to an earlier join of the room are ignored.
    generation: u64,
    state: State,
}

/// What to do with a live message.
pub enum Live {
    Send,
    Held,
    /// Not joined (any more), or already sent: drop it.
    Ignore,
    /// The catch-up buffer is full: the socket is too far behind.
    Overflow,
}

/// What the socket does once the hub gave a join its start.
pub enum Started {
    /// Send `joined`, then these buffered messages; the room is live.
    Live(Vec<Arc<Delivery>>),
    /// Send `joined`, then replay stored ids in `(after, upto]`.
    Replay { after: i64, upto: i64 },
    /// A stale answer (left or re-joined since).
    Stale,
}

/// After a replayed page: the next page, or the buffered messages to send now.
pub enum Replayed {
    More { after: i64, upto: i64 },
    Done(Vec<Arc<Delivery>>),
    Stale,
}

pub struct Rooms {
    joined: HashMap<Arc<str>, Joined>,
    limits: BufferLimits,
    next_generation: u64,
}

impl Rooms {
    pub fn new(limits: BufferLimits) -> Self {
        Self {
            joined: HashMap::new(),
            limits,
            next_generation: 0,
        }
    }

    pub fn contains(&self, room: &str) -> bool {
        self.joined.contains_key(room)
    }

    pub fn len(&self) -> usize {
        self.joined.len()
    }

    /// The room was joined and `joined` sent (live or catching up).
    pub fn is_started(&self, room: &str) -> bool {
        self.joined
            .get(room)
            .is_some_and(|j| !matches!(j.state, State::Joining { .. }))
    }

    /// A join is waiting for its start: the socket's own messages would race it.
    pub fn joining(&self) -> bool {
        self.joined
            .values()
            .any(|j| matches!(j.state, State::Joining { .. }))
    }

    /// Starts (or restarts) a join; returns its generation. Joining a room the
    /// socket is already in, without `since`, goes on from the last id it sent
    /// there: frames the hub released to it before the new start (in its outbox
    /// or buffer) are dropped by the restart, and are replayed instead of lost.
    pub fn begin(&mut self, room: Arc<str>, since: Option<i64>) -> u64 {
        let since = since.or_else(|| match &self.joined.get(&room)?.state {
            State::Live { floor } => Some(*floor),
            State::CatchingUp { sent, .. } => Some(*sent),
            State::Joining { since, .. } => *since,
        });
        self.next_generation += 1;
        let generation = self.next_generation;
        self.joined.insert(
            room,
            Joined {
                generation,
                state: State::Joining {
                    since,
                    buffer: Buffer::default(),
                },
            },
        );
        generation
    }

    pub fn leave(&mut self, room: &str) -> bool {
        self.joined.remove(room).is_some()
    }

    /// Drops a join that never started; false if the answer is stale.
    pub fn abandon(&mut self, room: &str, generation: u64) -> bool {
        let joining = self
            .current(room, generation)
            .is_some_and(|j| matches!(j.state, State::Joining { .. }));
        if joining {
            self.joined.remove(room);
        }
        joining
    }

    pub fn on_live(&mut self, delivery: &Arc<Delivery>) -> Live {
        let Some(joined) = self.joined.get_mut(&delivery.room) else {
            return Live::Ignore;
        };
        match &mut joined.state {
            State::Live { floor } if delivery.id <= *floor => Live::Ignore,
            State::Live { floor } => {
                *floor = delivery.id;
                Live::Send
            }
            State::CatchingUp { upto, .. } if delivery.id <= *upto => Live::Ignore,
            State::Joining { buffer, .. } | State::CatchingUp { buffer, .. } => {
                let bytes = delivery.frame.len();
                if buffer.items.len() >= self.limits.items
                    || buffer.bytes + bytes > self.limits.bytes
                {
                    return Live::Overflow;
                }
                buffer.bytes += bytes;
                buffer.items.push_back(Arc::clone(delivery));
                Live::Held
            }
        }
    }

    /// The hub started the join after `start`.
    pub fn started(&mut self, room: &str, generation: u64, start: i64) -> Started {
        let Some(joined) = self.current(room, generation) else {
            return Started::Stale;
        };
        let State::Joining { since, buffer } =
            std::mem::replace(&mut joined.state, State::Live { floor: start })
        else {
            return Started::Stale;
        };
        match since {
            Some(since) if since < start => {
                joined.state = State::CatchingUp {
                    sent: since,
                    upto: start,
                    buffer,
                };
                Started::Replay {
                    after: since,
                    upto: start,
                }
            }
            since => {
                let floor = since.map_or(start, |s| s.max(start));
                Started::Live(drain(&mut joined.state, buffer, floor))
            }
        }
    }

    /// Records a replayed page that sent ids up to `last_sent`; `complete` when
    /// the page held everything up to the replay's end.
    pub fn replayed(
        &mut self,
        room: &str,
        generation: u64,
        last_sent: Option<i64>,
        complete: bool,
    ) -> Replayed {
        let Some(joined) = self.current(room, generation) else {
            return Replayed::Stale;
        };
        let State::CatchingUp { sent, upto, .. } = &mut joined.state else {
            return Replayed::Stale;
        };
        if let Some(id) = last_sent {
            *sent = (*sent).max(id);
        }
        if !complete && *sent < *upto {
            return Replayed::More {
                after: *sent,
                upto: *upto,
            };
        }
        let upto = *upto;
        let State::CatchingUp { buffer, .. } =
            std::mem::replace(&mut joined.state, State::Live { floor: upto })
        else {
            return Replayed::Stale;
        };
        Replayed::Done(drain(&mut joined.state, buffer, upto))
    }

    /// Whether a replay of this join is still wanted.
    pub fn catching_up(&self, room: &str, generation: u64) -> bool {
        self.joined.get(room).is_some_and(|j| {
            j.generation == generation && matches!(j.state, State::CatchingUp { .. })
        })
    }

    /// Whether message `id` of `room` is still to reach this socket through the
    /// room's delivery (so an echo of it need not be sent on its own).
    pub fn will_deliver(&self, room: &str, id: i64) -> bool {
        match self.joined.get(room).map(|j| &j.state) {
            Some(State::Live { floor }) => id > *floor,
            Some(State::CatchingUp { sent, .. }) => id > *sent,
            Some(State::Joining { since, .. }) => since.is_some_and(|s| id > s),
            None => false,
        }
    }

    /// The last id sent in a live room.
    #[cfg(test)]
    pub fn floor(&self, room: &str) -> Option<i64> {
        match self.joined.get(room).map(|j| &j.state) {
            Some(State::Live { floor }) => Some(*floor),
            _ => None,
        }
    }

    fn current(&mut self, room: &str, generation: u64) -> Option<&mut Joined> {
        self.joined
            .get_mut(room)
            .filter(|j| j.generation == generation)
    }
}

/// The buffered messages above `floor`, with the room left live after the last.
fn drain(state: &mut State, buffer: Buffer, floor: i64) -> Vec<Arc<Delivery>> {
    let mut last = floor;
    let out: Vec<Arc<Delivery>> = buffer
        .items
        .into_iter()
        .filter(|d| {
            let keep = d.id > last;
            if keep {
                last = d.id;
            }
            keep
        })
        .collect();
    *state = State::Live { floor: last };
    out
}

#[cfg(test)]
mod tests {
    use bytestring::ByteString;

    use super::*;

    const ROOMY: BufferLimits = BufferLimits {
        items: 10,
        bytes: 1 << 20,
    };

    fn live(room: &str, id: i64) -> Arc<Delivery> {
        Arc::new(Delivery {
            room: Arc::from(room),
            id,
            frame: ByteString::from_static("{}"),
            kind: crate::fanout::Kind::Message,
        })
    }

    fn ids(out: &[Arc<Delivery>]) -> Vec<i64> {
        out.iter().map(|d| d.id).collect()
    }

    #[test]
    fn a_join_without_since_starts_after_the_hubs_start() {
        let mut rooms = Rooms::new(ROOMY);
        let generation = rooms.begin(Arc::from("r"), None);
        assert!(rooms.joining());
        assert!(matches!(rooms.on_live(&live("r", 8)), Live::Held));
        let Started::Live(drained) = rooms.started("r", generation, 7) else {
            panic!("expected live")
        };
        assert_eq!(ids(&drained), vec![8]);
        assert!(!rooms.joining());
        assert!(matches!(rooms.on_live(&live("r", 8)), Live::Ignore));
        assert!(matches!(rooms.on_live(&live("r", 9)), Live::Send));
        assert!(matches!(rooms.on_live(&live("other", 1)), Live::Ignore));
    }

    #[test]
    fn a_replay_covers_since_to_start_and_the_buffer_the_rest() {
        let mut rooms = Rooms::new(ROOMY);
        let generation = rooms.begin(Arc::from("r"), Some(3));
        assert!(matches!(
            rooms.started("r", generation, 10),
            Started::Replay { after: 3, upto: 10 }
        ));
        assert!(matches!(rooms.on_live(&live("r", 10)), Live::Ignore));
        assert!(matches!(rooms.on_live(&live("r", 11)), Live::Held));
        assert!(rooms.will_deliver("r", 5));
        assert!(matches!(
            rooms.replayed("r", generation, Some(6), false),
            Replayed::More { after: 6, upto: 10 }
        ));
        assert!(!rooms.will_deliver("r", 5));
        let Replayed::Done(rest) = rooms.replayed("r", generation, Some(10), true) else {
            panic!("expected the drained buffer")
        };
        assert_eq!(ids(&rest), vec![11]);
        assert_eq!(rooms.floor("r"), Some(11));
        assert!(matches!(rooms.on_live(&live("r", 12)), Live::Send));
    }

    #[test]
    fn a_since_at_or_above_the_start_replays_nothing() {
        let mut rooms = Rooms::new(ROOMY);
        let generation = rooms.begin(Arc::from("r"), Some(12));
        assert!(matches!(
            rooms.started("r", generation, 10),
            Started::Live(_)
        ));
        assert!(matches!(rooms.on_live(&live("r", 12)), Live::Ignore));
        assert!(matches!(rooms.on_live(&live("r", 13)), Live::Send));
    }

    #[test]
    fn joining_a_joined_room_again_goes_on_from_the_last_id_sent() {
        let mut rooms = Rooms::new(ROOMY);
        let first = rooms.begin(Arc::from("r"), None);
        assert!(matches!(rooms.started("r", first, 4), Started::Live(_)));
        assert!(matches!(rooms.on_live(&live("r", 5)), Live::Send));
        // 6 and 7 were released to the socket but not sent when it joins again.
        let again = rooms.begin(Arc::from("r"), None);
        assert!(matches!(
            rooms.started("r", again, 7),
            Started::Replay { after: 5, upto: 7 }
        ));
    }

    #[test]
    fn stale_answers_are_ignored_and_buffers_are_bounded() {
        let mut rooms = Rooms::new(BufferLimits {
            items: 1,
            bytes: 1 << 20,
        });
        let first = rooms.begin(Arc::from("r"), None);
        let second = rooms.begin(Arc::from("r"), None);
        assert!(matches!(rooms.started("r", first, 0), Started::Stale));
        assert!(matches!(rooms.on_live(&live("r", 1)), Live::Held));
        assert!(matches!(rooms.on_live(&live("r", 2)), Live::Overflow));
        assert!(matches!(rooms.started("r", second, 0), Started::Live(_)));
    }

    #[test]
    fn buffers_are_bounded_in_bytes_too() {
        let mut rooms = Rooms::new(BufferLimits {
            items: 100,
            bytes: 3,
        });
        rooms.begin(Arc::from("r"), None);
        assert!(matches!(rooms.on_live(&live("r", 1)), Live::Held));
        assert!(matches!(rooms.on_live(&live("r", 2)), Live::Overflow));
    }
}
