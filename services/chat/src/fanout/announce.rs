//! Events out to every replica through Redis: room events on the room's
//! channel, user events on the user's. They share the publish queue with
//! stored messages, so an event never overtakes a message published before it.

use std::sync::Arc;

use uuid::Uuid;

use super::{
    Channels, SocketId,
    publisher::PublishQueue,
    wire::{self, Origin},
};
use crate::domain::ServerFrame;

#[derive(Clone)]
pub struct Announcer {
    publish: Arc<PublishQueue>,
    channels: Channels,
    replica: Uuid,
}

impl Announcer {
    pub fn new(publish: Arc<PublishQueue>, channels: Channels, replica: Uuid) -> Self {
        Self {
            publish,
            channels,
            replica,
        }
    }

    /// To every socket joined to `room`, on every replica, but the one it came
    /// from (a socket of this replica).
    pub fn to_room(&self, room: &str, frame: &ServerFrame<'_>, from: Option<SocketId>) {
        let origin = from.map(|socket| Origin {
            replica: self.replica,
            socket,
        });
        let payload = wire::encode_room_event(&frame.encode(), origin);
        self.publish.push_event(self.channels.room(room), payload);
    }

    /// To every socket of `user`, on every replica, but those joined to
    /// `skip_room` (which get the same frame from the room).
    pub fn to_user(&self, user: Uuid, frame: &ServerFrame<'_>, skip_room: Option<&str>) {
        let payload = wire::encode_user_event(&frame.encode(), skip_room);
        self.publish.push_event(self.channels.user(user), payload);
    }
}
