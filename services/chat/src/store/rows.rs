//! A `messages` row as diesel loads it.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::schema::messages;
use crate::domain::StoredMessage;

#[derive(Queryable, Selectable)]
#[diesel(table_name = messages)]
pub struct Row {
    room: String,
    id: i64,
    user_id: Uuid,
    user_name: String,
    body: String,
    client_id: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<Row> for StoredMessage {
    fn from(r: Row) -> Self {
        Self {
            room: r.room,
            id: r.id,
            user_id: r.user_id,
            user_name: r.user_name,
            body: r.body,
            client_id: r.client_id,
            created_at: r.created_at,
        }
    }
}
