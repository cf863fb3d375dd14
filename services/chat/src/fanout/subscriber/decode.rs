//! What the subscriber makes of a push: a channel's payload, decoded, and the
//! topic a channel name stands for.

use std::sync::Arc;

use deadpool_redis::redis::{self, PushInfo};
use platform::redis::pubsub;

use super::Subscriber;
use crate::fanout::{
    Delivery, Topic,
    hub::Event,
    wire::{self, Payload},
};

/// A push this subscriber acts on.
pub(super) enum Push {
    Room(Arc<Delivery>),
    /// A room's or a user's event, for the hub to hand out in a batch.
    Event(Event),
    Revocation(Vec<u8>),
}

impl Subscriber {
    pub(super) fn topic_of(&self, channel: &str) -> Option<Topic> {
        match self.channels.room_of(channel) {
            Some(room) => Some(Topic::Room(Arc::from(room))),
            None => self.channels.user_of(channel).map(Topic::User),
        }
    }

    pub(super) fn decode(&self, push: PushInfo) -> Option<Push> {
        let (channel, payload) = pubsub::message(push)?;
        let (Ok(channel), Ok(payload)) = (
            redis::from_redis_value::<String>(channel),
            redis::from_redis_value::<Vec<u8>>(payload),
        ) else {
            return None;
        };
        if channel == self.channels.revocations() {
            return Some(Push::Revocation(payload));
        }
        if let Some(user) = self.channels.user_of(&channel) {
            return match wire::decode(Arc::from(""), payload) {
                Some(Payload::UserEvent { frame, skip_room }) => Some(Push::Event(Event::User {
                    user,
                    frame,
                    skip_room,
                })),
                _ => {
                    tracing::warn!(%channel, "ignoring a malformed user payload");
                    None
                }
            };
        }
        let room = self.channels.room_of(&channel)?;
        match wire::decode(Arc::from(room), payload) {
            Some(Payload::Message {
                delivery,
                published_at,
            }) => {
                let micros = wire::now_micros().saturating_sub(published_at).max(0);
                #[allow(clippy::cast_precision_loss)] // microseconds to seconds, for a histogram
                self.metrics
                    .fanout_latency_seconds
                    .observe(micros as f64 / 1e6);
                Some(Push::Room(Arc::new(delivery)))
            }
            Some(Payload::RoomEvent { frame, origin }) => Some(Push::Event(Event::Room {
                room: room.to_owned(),
                frame,
                except: origin
                    .filter(|o| o.replica == self.replica)
                    .map(|o| o.socket),
            })),
            Some(Payload::UserEvent { .. }) | None => {
                tracing::warn!(%channel, "ignoring a malformed room payload");
                None
            }
        }
    }
}
