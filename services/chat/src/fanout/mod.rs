//! Fan-out across replicas. A stored message is published once on its room's
//! Redis channel; every replica with local members of the room is subscribed,
//! puts what it receives (and what its own writer stored) in order, and hands
//! the same frame bytes to each local socket.

pub mod announce;
pub mod hub;
pub mod member;
pub mod presence;
pub mod presence_task;
pub mod publisher;
mod relay;
pub mod sequencer;
pub mod shares;
pub mod subscriber;
pub mod wire;

use std::sync::Arc;

use bytestring::ByteString;

use crate::domain::{ServerFrame, StoredMessage};

pub use hub::{Hub, JoinStart};

/// What a replica subscribes to while it has local sockets that need it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Topic {
    Room(Arc<str>),
    User(uuid::Uuid),
}
pub use member::{KillReason, SocketId};

/// A frame on its way to sockets: serialized once, shared by all.
#[derive(Debug)]
pub struct Delivery {
    pub room: Arc<str>,
    /// The message's id; 0 for an event.
    pub id: i64,
    pub frame: ByteString,
    pub kind: Kind,
}

/// What a delivery is, which decides the rule a socket applies to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A stored message: in id order, once, nothing skipped.
    Message,
    /// A room's event (read receipt, typing, presence): outside the message
    /// order, to sockets that have joined the room.
    RoomEvent,
    /// An event for one user's sockets whether or not they joined the room
    /// (`member`, a read marker seen from the user's other sockets).
    UserEvent,
}

impl Delivery {
    pub fn of(message: &StoredMessage) -> Self {
        Self {
            room: Arc::from(message.room.as_str()),
            id: message.id,
            frame: ServerFrame::message(message).encode(),
            kind: Kind::Message,
        }
    }

    pub fn event(room: Arc<str>, frame: ByteString, kind: Kind) -> Self {
        Self {
            room,
            id: 0,
            frame,
            kind,
        }
    }
}

/// Channel names, with `REDIS_KEY_PREFIX` applied: one per room (its messages
/// and events), one per user (events for all of that user's sockets).
#[derive(Debug, Clone)]
pub struct Channels {
    room_prefix: String,
    user_prefix: String,
    revocations: String,
}

impl Channels {
    pub fn new(key_prefix: &str, revocations: String) -> Self {
        Self {
            room_prefix: format!("{key_prefix}chat:room:"),
            user_prefix: format!("{key_prefix}chat:user:"),
            revocations,
        }
    }

    pub fn room(&self, room: &str) -> String {
        format!("{}{room}", self.room_prefix)
    }

    pub fn room_of<'a>(&self, channel: &'a str) -> Option<&'a str> {
        channel.strip_prefix(self.room_prefix.as_str())
    }

    pub fn user(&self, user: uuid::Uuid) -> String {
        format!("{}{user}", self.user_prefix)
    }

    pub fn user_of(&self, channel: &str) -> Option<uuid::Uuid> {
        channel
            .strip_prefix(self.user_prefix.as_str())
            .and_then(|id| uuid::Uuid::parse_str(id).ok())
    }

    /// The channel of a subscription topic.
    pub fn of(&self, topic: &Topic) -> String {
        match topic {
            Topic::Room(room) => self.room(room),
            Topic::User(user) => self.user(*user),
        }
    }

    pub fn revocations(&self) -> &str {
        &self.revocations
    }
}
