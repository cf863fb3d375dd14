//! Users in PostgreSQL.

use diesel::{
    pg::Pg,
    prelude::*,
    query_builder::{AstPass, Query, QueryFragment, QueryId},
    sql_types::{self, Array},
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

/// Creates each address's user (as the `new_ids` at the same place) on its first
/// verification, or marks an existing one verified now: several addresses in one
/// statement, one round trip and one commit. `emails` must be distinct (one
/// statement cannot update a row twice). The users come back in no particular
/// order.
pub async fn upsert_verified_many(
    conn: &mut AsyncPgConnection,
    new_ids: &[Uuid],
    emails: &[&str],
    default_display_names: &[&str],
) -> QueryResult<Vec<User>> {
    let rows = UpsertVerifiedMany {
        ids: new_ids,
        emails,
        display_names: default_display_names,
    }
    .get_results::<(Uuid, String, String)>(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, email, display_name)| User {
            id,
            email,
            display_name,
        })
        .collect())
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn find_by_email(conn: &mut AsyncPgConnection, email: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::email.eq(email))
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

struct UpsertVerifiedMany<'a> {
    ids: &'a [Uuid],
    emails: &'a [&'a str],
    display_names: &'a [&'a str],
}

impl QueryId for UpsertVerifiedMany<'_> {
    type QueryId = UpsertVerifiedMany<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for UpsertVerifiedMany<'_> {
    type SqlType = (sql_types::Uuid, sql_types::Text, sql_types::Text);
}

impl QueryFragment<Pg> for UpsertVerifiedMany<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("INSERT INTO users (id, email, display_name) SELECT * FROM unnest(");
        out.push_bind_param::<Array<sql_types::Uuid>, _>(&self.ids)?;
        out.push_sql("::uuid[], ");
        out.push_bind_param::<Array<sql_types::Text>, _>(&self.emails)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<sql_types::Text>, _>(&self.display_names)?;
        out.push_sql(
            "::text[]) ON CONFLICT (email) DO UPDATE SET verified_at = now() \
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
