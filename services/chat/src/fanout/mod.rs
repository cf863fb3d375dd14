//! Fan-out across replicas. A stored message is published once on its room's
//! Redis channel; every replica with local members of the room is subscribed,
//! puts what it receives (and what its own writer stored) in order, and hands
//! the same frame bytes to each local socket.

pub mod hub;
pub mod member;
pub mod publisher;
mod relay;
pub mod sequencer;
pub mod subscriber;
pub mod wire;

use std::sync::Arc;

use bytestring::ByteString;

use crate::domain::{ServerFrame, StoredMessage};

pub use hub::{Hub, JoinStart};
pub use member::{KillReason, SocketId};

/// A message frame on its way to sockets: serialized once, shared by all.
#[derive(Debug)]
pub struct Delivery {
    pub room: Arc<str>,
    pub id: i64,
    pub frame: ByteString,
}

impl Delivery {
    pub fn of(message: &StoredMessage) -> Self {
        Self {
            room: Arc::from(message.room.as_str()),
            id: message.id,
            frame: ServerFrame::message(message).encode(),
        }
    }
}

/// Channel names, with `REDIS_KEY_PREFIX` applied.
#[derive(Debug, Clone)]
pub struct Channels {
    room_prefix: String,
    revocations: String,
}

impl Channels {
    pub fn new(key_prefix: &str, revocations: String) -> Self {
        Self {
            room_prefix: format!("{key_prefix}chat:room:"),
            revocations,
        }
    }

    pub fn room(&self, room: &str) -> String {
        format!("{}{room}", self.room_prefix)
    }

    pub fn room_of<'a>(&self, channel: &'a str) -> Option<&'a str> {
        channel.strip_prefix(self.room_prefix.as_str())
    }

    pub fn revocations(&self) -> &str {
        &self.revocations
    }
}
