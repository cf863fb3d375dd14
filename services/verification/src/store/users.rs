//! Users in PostgreSQL.

use diesel::prelude::*;
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

#[derive(Debug, Clone, Serialize, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
}

/// Creates the user on first verification, or marks an existing one verified now.
pub async fn upsert_verified(
    conn: &mut AsyncPgConnection,
    email: &str,
    default_display_name: &str,
) -> QueryResult<User> {
    diesel::insert_into(users::table)
        .values((
            users::id.eq(Uuid::new_v4()),
            users::email.eq(email),
            users::display_name.eq(default_display_name),
        ))
        .on_conflict(users::email)
        .do_update()
        .set(users::verified_at.eq(diesel::dsl::now))
        .returning(User::as_returning())
        .get_result(conn)
        .await
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
    diesel::update(users::table.find(id))
        .set(users::display_name.eq(name))
        .returning(User::as_returning())
        .get_result(conn)
        .await
        .optional()
}
