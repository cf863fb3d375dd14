//! The SQL. Ids come from the room row: a batch bumps `rooms.last_message_id` by
//! the number of new messages (an upsert, rooms in name order so concurrent
//! replicas lock them in one order) and takes that range, inside the transaction
//! that inserts the messages. The row lock orders writers per room, so id N is
//! committed only after every lower id of that room; "id > since" never skips a
//! late commit. An id burned by a lost idempotency race is a harmless gap.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::{
    schema::messages,
    unnest::{InsertMessages, ReserveIds},
};
use crate::domain::{NewMessage, StoredMessage};

/// What happened to one message of a batch.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Newly stored: fan it out.
    Stored(StoredMessage),
    /// The same user, room and `client_id` was stored before: echo this to the sender only.
    Duplicate(StoredMessage),
}

/// Which slice of a room's history to read.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub before: Option<i64>,
    pub after: Option<i64>,
    pub limit: i64,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = messages)]
struct Row {
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

type Key<'a> = (&'a str, Uuid, &'a str);

fn key(m: &NewMessage) -> Option<Key<'_>> {
    m.client_id
        .as_deref()
        .map(|c| (m.room.as_str(), m.user_id, c))
}

pub async fn insert_batch(
    conn: &mut AsyncPgConnection,
    batch: &[NewMessage],
) -> QueryResult<Vec<Outcome>> {
    // A retry inside one batch is answered by the first copy's outcome.
    let mut first_with_key: HashMap<Key<'_>, usize> = HashMap::new();
    let mut copy_of: Vec<Option<usize>> = Vec::with_capacity(batch.len());
    for (i, m) in batch.iter().enumerate() {
        let earlier = key(m).and_then(|k| first_with_key.get(&k).copied());
        if earlier.is_none()
            && let Some(k) = key(m)
        {
            first_with_key.insert(k, i);
        }
        copy_of.push(earlier);
    }
    let fresh: Vec<usize> = (0..batch.len()).filter(|&i| copy_of[i].is_none()).collect();

    let mut results: Vec<Option<Outcome>> = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let ids = reserve_ids(conn, batch, &fresh).await?;
            let mut rows = InsertMessages::default();
            for (&i, &id) in fresh.iter().zip(&ids) {
                let m = &batch[i];
                rows.rooms.push(m.room.as_str());
                rows.ids.push(id);
                rows.user_ids.push(m.user_id);
                rows.user_names.push(&m.user_name);
                rows.bodies.push(&m.body);
                rows.client_ids.push(m.client_id.as_deref());
                rows.created_at.push(m.created_at);
            }
            let inserted: HashSet<(String, i64)> = if fresh.is_empty() {
                HashSet::new()
            } else {
                rows.get_results::<(String, i64)>(conn)
                    .await?
                    .into_iter()
                    .collect()
            };

            let mut results: Vec<Option<Outcome>> = vec![None; batch.len()];
            let mut lost: Vec<usize> = Vec::new();
            for (&i, &id) in fresh.iter().zip(&ids) {
                let m = &batch[i];
                if inserted.contains(&(m.room.as_str().to_owned(), id)) {
                    results[i] = Some(Outcome::Stored(stored(m, id)));
                } else {
                    lost.push(i);
                }
            }
            // Stored earlier, or by a concurrent transaction that committed first.
            for (i, existing) in existing_copies(conn, batch, &lost).await? {
                results[i] = Some(Outcome::Duplicate(existing));
            }
            Ok(results)
        })
        .await?;

    for (i, earlier) in copy_of.iter().enumerate() {
        if let Some(first) = earlier {
            let original = match &results[*first] {
                Some(Outcome::Stored(m) | Outcome::Duplicate(m)) => Some(m.clone()),
                None => None,
            };
            results[i] = original.map(Outcome::Duplicate);
        }
    }
    results
        .into_iter()
        .map(|r| r.ok_or(diesel::result::Error::NotFound))
        .collect()
}

/// Bumps each room's counter by its number of fresh messages and hands out the
/// range, in batch order within a room.
async fn reserve_ids(
    conn: &mut AsyncPgConnection,
    batch: &[NewMessage],
    fresh: &[usize],
) -> QueryResult<Vec<i64>> {
    let mut per_room: BTreeMap<&str, i64> = BTreeMap::new();
    for &i in fresh {
        *per_room.entry(batch[i].room.as_str()).or_default() += 1;
    }
    if per_room.is_empty() {
        return Ok(Vec::new());
    }
    let reserve = ReserveIds {
        names: per_room.keys().copied().collect(),
        counts: per_room.values().copied().collect(),
    };
    let last: HashMap<String, i64> = reserve
        .get_results::<(String, i64)>(conn)
        .await?
        .into_iter()
        .collect();
    let mut next: HashMap<&str, i64> = per_room
        .iter()
        .map(|(name, n)| (*name, last.get(*name).copied().unwrap_or(0) - n + 1))
        .collect();
    Ok(fresh
        .iter()
        .map(|&i| {
            let slot = next.entry(batch[i].room.as_str()).or_insert(1);
            let id = *slot;
            *slot += 1;
            id
        })
        .collect())
}

async fn existing_copies(
    conn: &mut AsyncPgConnection,
    batch: &[NewMessage],
    lost: &[usize],
) -> QueryResult<Vec<(usize, StoredMessage)>> {
    if lost.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = messages::table.select(Row::as_select()).into_boxed();
    for &i in lost {
        let m = &batch[i];
        query = query.or_filter(
            messages::room
                .eq(m.room.as_str())
                .and(messages::user_id.eq(m.user_id))
                .and(messages::client_id.eq(m.client_id.as_deref())),
        );
    }
    let found: Vec<StoredMessage> = query
        .load::<Row>(conn)
        .await?
        .into_iter()
        .map(StoredMessage::from)
        .collect();
    Ok(lost
        .iter()
        .filter_map(|&i| {
            let m = &batch[i];
            found
                .iter()
                .find(|f| {
                    f.room == m.room.as_str()
                        && f.user_id == m.user_id
                        && f.client_id == m.client_id
                })
                .map(|f| (i, f.clone()))
        })
        .collect())
}

fn stored(m: &NewMessage, id: i64) -> StoredMessage {
    StoredMessage {
        room: m.room.as_str().to_owned(),
        id,
        user_id: m.user_id,
        user_name: m.user_name.clone(),
        body: m.body.clone(),
        client_id: m.client_id.clone(),
        created_at: m.created_at,
    }
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
