//! Reading messages and room counters.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    rows::Row,
    schema::{messages, rooms},
};
use crate::domain::StoredMessage;

/// Which slice of a room's history to read: ids in `(after, before)`.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub before: Option<i64>,
    pub after: Option<i64>,
    pub limit: i64,
}

pub async fn page(
    conn: &mut AsyncPgConnection,
    room: &str,
    page: Page,
) -> QueryResult<Vec<StoredMessage>> {
    let mut query = messages::table
        .select(Row::as_select())
        .filter(messages::room.eq(room))
        .limit(page.limit)
        .into_boxed();
    if let Some(before) = page.before {
        query = query.filter(messages::id.lt(before));
    }
    let rows = if let Some(after) = page.after {
        query
            .filter(messages::id.gt(after))
            .order(messages::id.asc())
            .load::<Row>(conn)
            .await?
    } else {
        let mut newest = query.order(messages::id.desc()).load::<Row>(conn).await?;
        newest.reverse();
        newest
    };
    Ok(rows.into_iter().map(StoredMessage::from).collect())
}

/// `(name, last id)` of the rooms that exist; a room missing here has no messages.
pub async fn last_ids(
    conn: &mut AsyncPgConnection,
    names: &[&str],
) -> QueryResult<Vec<(String, i64)>> {
    let found: Vec<(String, i64)> = rooms::table
        .filter(rooms::name.eq_any(names))
        .select((rooms::name, rooms::last_message_id))
        .load(conn)
        .await?;
    let known: std::collections::HashSet<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
    let missing: Vec<(String, i64)> = names
        .iter()
        .filter(|name| !known.contains(**name))
        .map(|name| ((*name).to_owned(), 0))
        .collect();
    let mut all = found;
    all.extend(missing);
    Ok(all)
}
