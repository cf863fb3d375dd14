//! The rooms one socket has joined, and the catch-up of each: a joined room
//! buffers live messages until the replica's subscription is confirmed and,
//! with `since`, until the stored messages after `since` have been replayed;
//! then the buffer drains, skipping ids the replay already sent.
//!
//! Why skipping `id <= last replayed` is exact: ids are assigned under the room
//! row's lock and committed in id order, so a replay that saw id N saw every
//! lower id that will ever exist; any live message with a higher id was
//! published after the subscription began, so it is in the buffer. The same
//! floor stays on the live room, because messages the hub queued during the
//! replay may still be in the socket's outbox when the buffer drains.

use std::{collections::HashMap, sync::Arc};

use crate::fanout::Delivery;

enum State {
    /// Waiting for the subscription; live messages wait too.
    Subscribing { buffer: Vec<Arc<Delivery>> },
    /// Replaying stored messages with ids above `replayed`.
    CatchingUp {
        buffer: Vec<Arc<Delivery>>,
        replayed: i64,
    },
    /// Sending live messages with ids above `floor` (what a replay already sent).
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
    Buffered,
    /// Not joined (any more): drop it.
    Ignore,
    /// The catch-up buffer is full: the socket is too far behind.
    Overflow,
}

/// What the socket should do once a room's subscription is confirmed.
pub enum AfterSubscribe {
    /// Send `joined`, then these buffered messages; the room is live.
    Drain(Vec<Arc<Delivery>>),
    /// Send `joined`, then replay stored messages after this id.
    Replay(i64),
    /// A stale answer (left or re-joined since).
    Stale,
}

pub struct Rooms {
    joined: HashMap<Arc<str>, Joined>,
    max_buffer: usize,
    next_generation: u64,
}

impl Rooms {
    pub fn new(max_buffer: usize) -> Self {
        Self {
            joined: HashMap::new(),
            max_buffer,
            next_generation: 0,
        }
    }

    pub fn contains(&self, room: &str) -> bool {
        self.joined.contains_key(room)
    }

    pub fn len(&self) -> usize {
        self.joined.len()
    }

    /// Starts (or restarts) a join; returns its generation.
    pub fn begin(&mut self, room: Arc<str>) -> u64 {
        self.next_generation += 1;
        let generation = self.next_generation;
        let buffer = match self.joined.remove(&room) {
            // A re-join keeps what was already buffered for the room.
            Some(Joined {
                state: State::Subscribing { buffer } | State::CatchingUp { buffer, .. },
                ..
            }) => buffer,
            _ => Vec::new(),
        };
        self.joined.insert(
            room,
            Joined {
                generation,
                state: State::Subscribing { buffer },
            },
        );
        generation
    }

    pub fn leave(&mut self, room: &str) -> bool {
        self.joined.remove(room).is_some()
    }

    pub fn on_live(&mut self, delivery: &Arc<Delivery>) -> Live {
        let Some(joined) = self.joined.get_mut(&delivery.room) else {
            return Live::Ignore;
        };
        match &mut joined.state {
            State::Live { floor } if delivery.id <= *floor => Live::Ignore,
            State::Live { .. } => Live::Send,
            State::Subscribing { buffer } | State::CatchingUp { buffer, .. } => {
                if buffer.len() >= self.max_buffer {
                    return Live::Overflow;
                }
                buffer.push(Arc::clone(delivery));
                Live::Buffered
            }
        }
    }

    pub fn subscribed(
        &mut self,
        room: &str,
        generation: u64,
        since: Option<i64>,
    ) -> AfterSubscribe {
        let Some(joined) = self.current(room, generation) else {
            return AfterSubscribe::Stale;
        };
        let State::Subscribing { buffer } =
            std::mem::replace(&mut joined.state, State::Live { floor: 0 })
        else {
            return AfterSubscribe::Stale;
        };
        match since {
            None => AfterSubscribe::Drain(buffer),
            Some(since) => {
                joined.state = State::CatchingUp {
                    buffer,
                    replayed: since,
                };
                AfterSubscribe::Replay(since)
            }
        }
    }

    /// Records a replayed page. `Some(id)` while more pages may follow (replay
    /// after `id`); `None` when done, with the buffered messages left to send.
    pub fn replayed(
        &mut self,
        room: &str,
        generation: u64,
        last_id: Option<i64>,
        page_full: bool,
    ) -> Option<Result<i64, Vec<Arc<Delivery>>>> {
        let joined = self.current(room, generation)?;
        let State::CatchingUp { replayed, .. } = &mut joined.state else {
            return None;
        };
        if let Some(id) = last_id {
            *replayed = (*replayed).max(id);
        }
        let floor = *replayed;
        if page_full {
            return Some(Ok(floor));
        }
        let State::CatchingUp { buffer, replayed } =
            std::mem::replace(&mut joined.state, State::Live { floor })
        else {
            return None;
        };
        Some(Err(buffer
            .into_iter()
            .filter(|d| d.id > replayed)
            .collect()))
    }

    pub fn catching_up(&self, room: &str, generation: u64) -> bool {
        self.joined.get(room).is_some_and(|j| {
            j.generation == generation && matches!(j.state, State::CatchingUp { .. })
        })
    }

    fn current(&mut self, room: &str, generation: u64) -> Option<&mut Joined> {
        self.joined
            .get_mut(room)
            .filter(|j| j.generation == generation)
    }
}

#[cfg(test)]
mod tests {
    use bytestring::ByteString;

    use super::*;

    fn live(room: &str, id: i64) -> Arc<Delivery> {
        Arc::new(Delivery {
            room: Arc::from(room),
            id,
            frame: ByteString::from_static("{}"),
        })
    }

    #[test]
    fn catch_up_drains_buffer_without_replayed_ids() {
        let mut rooms = Rooms::new(10);
        let generation = rooms.begin(Arc::from("r"));
        assert!(matches!(rooms.on_live(&live("r", 5)), Live::Buffered));
        assert!(matches!(
            rooms.subscribed("r", generation, Some(3)),
            AfterSubscribe::Replay(3)
        ));
        assert!(matches!(rooms.on_live(&live("r", 6)), Live::Buffered));
        let rest = rooms.replayed("r", generation, Some(5), false);
        let Some(Err(rest)) = rest else {
            panic!("expected the drained buffer")
        };
        assert_eq!(rest.iter().map(|d| d.id).collect::<Vec<_>>(), vec![6]);
        assert!(matches!(rooms.on_live(&live("r", 4)), Live::Ignore));
        assert!(matches!(rooms.on_live(&live("r", 7)), Live::Send));
        assert!(matches!(rooms.on_live(&live("other", 1)), Live::Ignore));
    }

    #[test]
    fn stale_answers_are_ignored_and_buffers_are_bounded() {
        let mut rooms = Rooms::new(1);
        let first = rooms.begin(Arc::from("r"));
        let second = rooms.begin(Arc::from("r"));
        assert!(matches!(
            rooms.subscribed("r", first, None),
            AfterSubscribe::Stale
        ));
        assert!(matches!(rooms.on_live(&live("r", 1)), Live::Buffered));
        assert!(matches!(rooms.on_live(&live("r", 2)), Live::Overflow));
        assert!(matches!(
            rooms.subscribed("r", second, None),
            AfterSubscribe::Drain(_)
        ));
    }
}
