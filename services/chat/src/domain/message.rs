//! Messages: what a sender submits and what the store hands back.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::room::RoomName;

/// A validated message waiting to be stored.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub room: RoomName,
    pub user_id: Uuid,
    pub user_name: String,
    pub body: String,
    pub client_id: Option<String>,
    /// Microsecond precision, as PostgreSQL keeps it, so the live frame and history agree.
    pub created_at: DateTime<Utc>,
}

/// A message as stored, with its id in the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    pub room: String,
    pub id: i64,
    pub user_id: Uuid,
    pub user_name: String,
    pub body: String,
    pub client_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Now, truncated to what a `timestamptz` stores.
pub fn now_micros() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}
