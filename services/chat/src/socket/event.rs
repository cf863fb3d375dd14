//! Answers to work a socket started and did not wait for, as its loop gets them.

use crate::{
    domain::{RoomName, StoredMessage},
    pipeline::writer::WriteReply,
};

/// Answers to work a socket started and did not wait for.
pub enum Event {
    /// The hub's start for a join; `None` if the room could not be followed.
    Started {
        room: RoomName,
        generation: u64,
        start: Option<i64>,
    },
    Replayed {
        request: ReplayRequest,
        page: Option<Vec<StoredMessage>>,
    },
    Written(WriteReply),
    RevocationChecked(bool),
}

/// One page of a catch-up: ids in `(after, upto]`.
pub struct ReplayRequest {
    pub room: RoomName,
    pub generation: u64,
    pub after: i64,
    pub upto: i64,
}
