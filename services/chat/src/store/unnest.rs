//! The two statements of a batch, with constant SQL text: every column travels
//! as one array parameter and `unnest` turns the arrays back into rows. diesel's
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

/// Bumps each room's id counter by its count (creating the room at 0 first) and
/// returns `(name, last_message_id)`. `unnest` yields rows in array order, so
/// rooms are locked in the order given: callers pass names sorted, as every
/// replica does, so two batches never wait on each other's rooms in a cycle.
pub struct ReserveIds<'a> {
    pub names: Vec<&'a str>,
    pub counts: Vec<i64>,
}

impl QueryId for ReserveIds<'_> {
    type QueryId = ReserveIds<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for ReserveIds<'_> {
    type SqlType = (Text, BigInt);
}

impl QueryFragment<Pg> for ReserveIds<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> diesel::QueryResult<()> {
        out.push_sql(
            "INSERT INTO rooms (name, last_message_id) \
             SELECT name, n FROM unnest(",
        );
        out.push_bind_param::<Array<Text>, _>(&self.names)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<BigInt>, _>(&self.counts)?;
        out.push_sql(
            "::int8[]) AS t(name, n) \
             ON CONFLICT (name) DO UPDATE \
             SET last_message_id = rooms.last_message_id + excluded.last_message_id \
             RETURNING name, last_message_id",
        );
        Ok(())
    }
}

/// Inserts messages, skipping any whose idempotency key is already stored, and
/// returns `(room, id)` of the rows it inserted.
#[derive(Default)]
pub struct InsertMessages<'a> {
    pub rooms: Vec<&'a str>,
    pub ids: Vec<i64>,
    pub user_ids: Vec<Uuid>,
    pub user_names: Vec<&'a str>,
    pub bodies: Vec<&'a str>,
    pub client_ids: Vec<Option<&'a str>>,
    pub created_at: Vec<DateTime<Utc>>,
}

impl QueryId for InsertMessages<'_> {
    type QueryId = InsertMessages<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for InsertMessages<'_> {
    type SqlType = (Text, BigInt);
}

impl QueryFragment<Pg> for InsertMessages<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> diesel::QueryResult<()> {
        out.push_sql(
            "INSERT INTO messages (room, id, user_id, user_name, body, client_id, created_at) \
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
        Ok(())
    }
}
