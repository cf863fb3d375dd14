//! The write path's statements, with constant SQL text: every column travels as
//! one array parameter and `unnest` turns the arrays back into rows. diesel's
//! multi-row `VALUES` has a different text for every batch size, so PostgreSQL
//! parsed and planned each batch again (600–740 µs of its CPU per message at
//! fan-out rates, where batches are small); these are prepared once per
//! connection and kept in diesel's statement cache (a static query id, and no
//! `sql_query`, which diesel never caches).

use chrono::{DateTime, Utc};
use diesel::{
    pg::Pg,
    query_builder::{AstPass, Query, QueryFragment, QueryId},
    sql_types::{Array, BigInt, Nullable, Text, Timestamptz},
};
use uuid::Uuid;

/// Implements the three diesel traits for a statement with a static query id.
macro_rules! statement {
    ($name:ident, $sql_type:ty, |$self:ident, $out:ident| $body:block) => {
        impl QueryId for $name<'_> {
            type QueryId = $name<'static>;
            const HAS_STATIC_QUERY_ID: bool = true;
        }

        impl Query for $name<'_> {
            type SqlType = $sql_type;
        }

        impl QueryFragment<Pg> for $name<'_> {
            fn walk_ast<'b>(
                &'b $self,
                mut $out: AstPass<'_, 'b, Pg>,
            ) -> diesel::QueryResult<()> {
                $body
                Ok(())
            }
        }
    };
}

pub(super) use statement;

/// Locks the rooms' rows and returns `(name, last_message_id)`. The names are
/// sorted and `LockRows` sits above the sort, so every writer on every replica
/// locks rooms in one order and two batches never wait on each other in a cycle.
/// Holding these locks until commit is what makes id N commit before N+1 exists.
pub struct LockRooms<'a> {
    pub names: &'a [&'a str],
}

statement!(LockRooms, (Text, BigInt), |self, out| {
    out.push_sql("SELECT name, last_message_id FROM rooms WHERE name = ANY(");
    out.push_bind_param::<Array<Text>, _>(&self.names)?;
    out.push_sql("::text[]) ORDER BY name FOR UPDATE");
});

/// Creates the rooms that do not exist yet (autocommitted, holding no other lock).
pub struct EnsureRooms<'a> {
    pub names: &'a [&'a str],
}

statement!(EnsureRooms, (), |self, out| {
    out.push_sql("INSERT INTO rooms (name) SELECT unnest(");
    out.push_bind_param::<Array<Text>, _>(&self.names)?;
    out.push_sql("::text[]) ORDER BY 1 ON CONFLICT (name) DO NOTHING");
});

/// Messages already stored under the given idempotency keys.
pub struct FindCopies<'a> {
    pub rooms: Vec<&'a str>,
    pub user_ids: Vec<Uuid>,
    pub client_ids: Vec<&'a str>,
}

pub type MessageRow = (
    Text,
    BigInt,
    diesel::sql_types::Uuid,
    Text,
    Text,
    Nullable<Text>,
    Timestamptz,
);

statement!(FindCopies, MessageRow, |self, out| {
    out.push_sql(
        "SELECT m.room, m.id, m.user_id, m.user_name, m.body, m.client_id, m.created_at \
         FROM messages m JOIN unnest(",
    );
    out.push_bind_param::<Array<Text>, _>(&self.rooms)?;
    out.push_sql("::text[], ");
    out.push_bind_param::<Array<diesel::sql_types::Uuid>, _>(&self.user_ids)?;
    out.push_sql("::uuid[], ");
    out.push_bind_param::<Array<Text>, _>(&self.client_ids)?;
    out.push_sql(
        "::text[]) AS k(room, user_id, client_id) \
         ON m.room = k.room AND m.user_id = k.user_id AND m.client_id = k.client_id",
    );
});

/// Inserts messages with the ids the writer assigned and moves each room's
/// counter to its new last id, in one statement; returns `(room, id)` of the
/// rows inserted. `ON CONFLICT DO NOTHING` is a guard only: under the room locks
/// a copy was already looked for, so a skipped row means the batch is retried.
#[derive(Default)]
pub struct InsertMessages<'a> {
    pub rooms: Vec<&'a str>,
    pub ids: Vec<i64>,
    pub user_ids: Vec<Uuid>,
    pub user_names: Vec<&'a str>,
    pub bodies: Vec<&'a str>,
    pub client_ids: Vec<Option<&'a str>>,
    pub created_at: Vec<DateTime<Utc>>,
    pub last_rooms: Vec<&'a str>,
    pub last_ids: Vec<i64>,
}

statement!(InsertMessages, (Text, BigInt), |self, out| {
    out.push_sql("WITH bump AS (UPDATE rooms SET last_message_id = t.last FROM unnest(");
    out.push_bind_param::<Array<Text>, _>(&self.last_rooms)?;
    out.push_sql("::text[], ");
    out.push_bind_param::<Array<BigInt>, _>(&self.last_ids)?;
    out.push_sql(
        "::int8[]) AS t(name, last) WHERE rooms.name = t.name) \
         INSERT INTO messages (room, id, user_id, user_name, body, client_id, created_at) \
         SELECT * FROM unnest(",
    );
    out.push_bind_param::<Array<Text>, _>(&self.rooms)?;
    out.push_sql("::text[], ");
    out.push_bind_param::<Array<BigInt>, _>(&self.ids)?;
    out.push_sql("::int8[], ");
    out.push_bind_param::<Array<diesel::sql_types::Uuid>, _>(&self.user_ids)?;
    out.push_sql("::uuid[], ");
    out.push_bind_param::<Array<Text>, _>(&self.user_names)?;
    out.push_sql("::text[], ");
    out.push_bind_param::<Array<Text>, _>(&self.bodies)?;
    out.push_sql("::text[], ");
    out.push_bind_param::<Array<Nullable<Text>>, _>(&self.client_ids)?;
    out.push_sql("::text[], ");
    out.push_bind_param::<Array<Timestamptz>, _>(&self.created_at)?;
    out.push_sql(
        "::timestamptz[]) \
         ON CONFLICT (room, user_id, client_id) WHERE client_id IS NOT NULL DO NOTHING \
         RETURNING room, id",
    );
});
