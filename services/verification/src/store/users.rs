//! Users in PostgreSQL.

use diesel::{
    pg::Pg,
    prelude::*,
    query_builder::{AstPass, Query, QueryFragment, QueryId},
    sql_types,
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use uuid::Uuid;

diesel::table! {
    users (id) {
        id -> Uuid,
        email -> Text,
        display_name -> Text,
        created_at -> Timestamptz,
        verified_at -> Timestamptz,
    }
}

#[derive(Debug, Clone, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = users)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
}

/// Creates the user (as `new_id`) on first verification, or marks an existing
/// one verified now.
pub async fn upsert_verified(
    conn: &mut AsyncPgConnection,
    new_id: Uuid,
    email: &str,
    default_display_name: &str,
) -> QueryResult<User> {
    let (id, email, display_name) = UpsertVerified {
        id: new_id,
        email,
        display_name: default_display_name,
    }
    .get_result::<(Uuid, String, String)>(conn)
    .await?;
    Ok(User {
        id,
        email,
        display_name,
    })
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn set_display_name(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    name: &str,
) -> QueryResult<Option<User>> {
    let row = Rename { id, name }
        .get_result::<(Uuid, String, String)>(conn)
        .await
        .optional()?;
    Ok(row.map(|(id, email, display_name)| User {
        id,
        email,
        display_name,
    }))
}

// The two writes as statements of constant text with a static query id, so
// diesel prepares each once per connection and keeps it in its statement cache.
// diesel never caches its own upserts (`ON CONFLICT … DO UPDATE`) or `UPDATE`s:
// each login's upsert was a fresh Parse, Describe and plan in PostgreSQL, and a
// round trip of its own before the one that ran it (PostgreSQL's log showed a new
// statement name per login; parsing and planning were 17 % of its CPU).

struct UpsertVerified<'a> {
    id: Uuid,
    email: &'a str,
    display_name: &'a str,
}

impl QueryId for UpsertVerified<'_> {
    type QueryId = UpsertVerified<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for UpsertVerified<'_> {
    type SqlType = (sql_types::Uuid, sql_types::Text, sql_types::Text);
}

impl QueryFragment<Pg> for UpsertVerified<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("INSERT INTO users (id, email, display_name) VALUES (");
        out.push_bind_param::<sql_types::Uuid, _>(&self.id)?;
        out.push_sql(", ");
        out.push_bind_param::<sql_types::Text, _>(&self.email)?;
        out.push_sql(", ");
        out.push_bind_param::<sql_types::Text, _>(&self.display_name)?;
        out.push_sql(
            ") ON CONFLICT (email) DO UPDATE SET verified_at = now() \
             RETURNING id, email, display_name",
        );
        Ok(())
    }
}

struct Rename<'a> {
    id: Uuid,
    name: &'a str,
}

impl QueryId for Rename<'_> {
    type QueryId = Rename<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for Rename<'_> {
    type SqlType = (sql_types::Uuid, sql_types::Text, sql_types::Text);
}

impl QueryFragment<Pg> for Rename<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("UPDATE users SET display_name = ");
        out.push_bind_param::<sql_types::Text, _>(&self.name)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<sql_types::Uuid, _>(&self.id)?;
        out.push_sql(" RETURNING id, email, display_name");
        Ok(())
    }
}
