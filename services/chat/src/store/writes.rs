//! The write transaction, on a connection of its own so that reads can never
//! starve it. A batch is stored in one READ COMMITTED transaction:
//!
//! 1. lock the batch's rooms (sorted: one lock order on every replica);
//! 2. under those locks, look up the `client_id`s already stored, so a retry is
//!    answered with the stored message and never takes an id;
//! 3. assign ids after each room's counter and insert, moving the counters.
//!
//! Ids therefore have no holes, and id N commits before N+1 exists, which is
//! what lets receivers fill any gap from PostgreSQL with "id > last".

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    time::Duration,
};

use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use uuid::Uuid;

use super::{
    commit_check::{Witness, committed_anyway},
    error::StoreError,
    memberships::AddMembers,
    rows::Row,
    sql::{EnsureRooms, FindCopies, InsertMessages, LockRooms},
};
use crate::domain::{NewMessage, StoredMessage};

/// A stored batch: one outcome per message, in order, and the memberships its
/// direct-room messages created (user, room).
#[derive(Debug, Default)]
pub struct Written {
    pub outcomes: Vec<Outcome>,
    pub new_members: Vec<(Uuid, String)>,
}

/// What happened to one message of a batch.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Newly stored: fan it out.
    Stored(StoredMessage),
    /// The same user, room and `client_id` was stored before: echo this to the sender only.
    Duplicate(StoredMessage),
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Session settings of the writer's connection. A statement that waits on a
/// lock longer than this is abandoned and the batch retried, rather than
/// holding every sender of the replica behind one stuck row.
const SESSION: &str = "SET application_name = 'chat-writer'; \
     SET lock_timeout = '2s'; SET statement_timeout = '5s'; \
     SET idle_in_transaction_session_timeout = '10s'";

/// The writer's own connection, (re)established on demand.
pub struct WriteConnection {
    url: String,
    conn: Option<AsyncPgConnection>,
}

type Key<'a> = (&'a str, Uuid, &'a str);

fn key(m: &NewMessage) -> Option<Key<'_>> {
    m.client_id
        .as_deref()
        .map(|c| (m.room.as_str(), m.user_id, c))
}

impl WriteConnection {
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            conn: None,
        }
    }

    async fn conn(&mut self) -> Result<&mut AsyncPgConnection, StoreError> {
        if self.conn.is_none() {
            let mut conn =
                tokio::time::timeout(CONNECT_TIMEOUT, platform::database::connect(&self.url))
                    .await
                    .map_err(|_| StoreError::Connection("connecting timed out".into()))?
                    .map_err(|e| StoreError::Connection(e.to_string()))?;
            conn.batch_execute(SESSION).await?;
            self.conn = Some(conn);
        }
        self.conn
            .as_mut()
            .ok_or_else(|| StoreError::Connection("not connected".into()))
    }

    /// Stores a batch in one transaction; one outcome per message, in order.
    /// A lost connection is dropped, so the next call starts on a new one.
    pub async fn insert_batch(&mut self, batch: &[NewMessage]) -> Result<Written, StoreError> {
        let result = self.try_insert(batch).await;
        if matches!(
            result,
            Err(StoreError::Connection(_) | StoreError::Indeterminate(_))
        ) {
            self.conn = None;
        }
        result
    }

    async fn try_insert(&mut self, batch: &[NewMessage]) -> Result<Written, StoreError> {
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
        let firsts: Vec<usize> = (0..batch.len()).filter(|&i| copy_of[i].is_none()).collect();
        let mut names: Vec<&str> = firsts.iter().map(|&i| batch[i].room.as_str()).collect();
        names.sort_unstable();
        names.dedup();

        let url = self.url.clone();
        let conn = self.conn().await?;
        let (mut results, new_members) =
            match in_transaction(conn, &url, batch, &firsts, &names).await {
                Err(Missing::Rooms) => {
                    // A room's first message: create its row outside the
                    // transaction (holding no other lock), then go again.
                    EnsureRooms { names: &names }.execute(&mut *conn).await?;
                    in_transaction(conn, &url, batch, &firsts, &names).await
                }
                other => other,
            }
            .map_err(|m| match m {
                Missing::Rooms => StoreError::Contention("rooms vanished while locking".into()),
                Missing::Failed(e) => e,
            })?;

        for (i, earlier) in copy_of.iter().enumerate() {
            if let Some(first) = earlier {
                results[i] = match &results[*first] {
                    Some(Outcome::Stored(m) | Outcome::Duplicate(m)) => {
                        Some(Outcome::Duplicate(m.clone()))
                    }
                    None => None,
                };
            }
        }
        let outcomes = results
            .into_iter()
            .map(|r| r.ok_or_else(|| StoreError::Contention("a message got no outcome".into())))
            .collect::<Result<_, _>>()?;
        Ok(Written {
            outcomes,
            new_members,
        })
    }
}

enum Missing {
    Rooms,
    Failed(StoreError),
}

impl<E: Into<StoreError>> From<E> for Missing {
    fn from(e: E) -> Self {
        Self::Failed(e.into())
    }
}

/// One attempt's outcomes, and the memberships it created.
type Attempt = (Vec<Option<Outcome>>, Vec<(Uuid, String)>);

/// One attempt: BEGIN … COMMIT, rolled back on any error.
async fn in_transaction(
    conn: &mut AsyncPgConnection,
    url: &str,
    batch: &[NewMessage],
    firsts: &[usize],
    names: &[&str],
) -> Result<Attempt, Missing> {
    conn.batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED")
        .await?;
    match transaction_body(conn, batch, firsts, names).await {
        Ok((results, witness)) => {
            match conn.batch_execute("COMMIT").await.map_err(StoreError::from) {
                Ok(()) => Ok(results),
                Err(StoreError::Connection(why)) => {
                    match committed_anyway(url, witness, CONNECT_TIMEOUT).await {
                        Some(true) => Ok(results),
                        Some(false) => Err(Missing::Failed(StoreError::Connection(why))),
                        None => Err(Missing::Failed(StoreError::Indeterminate(why))),
                    }
                }
                Err(other) => Err(Missing::Failed(other)),
            }
        }
        Err(e) => {
            let _ = conn.batch_execute("ROLLBACK").await;
            Err(e)
        }
    }
}

async fn transaction_body(
    conn: &mut AsyncPgConnection,
    batch: &[NewMessage],
    firsts: &[usize],
    names: &[&str],
) -> Result<(Attempt, Option<Witness>), Missing> {
    let mut results: Vec<Option<Outcome>> = vec![None; batch.len()];
    if names.is_empty() {
        return Ok(((results, Vec::new()), None));
    }
    let locked: BTreeMap<String, i64> = LockRooms { names }
        .load::<(String, i64)>(&mut *conn)
        .await?
        .into_iter()
        .collect();
    if locked.len() < names.len() {
        return Err(Missing::Rooms);
    }

    // Under the locks, a copy stored by any replica has committed and is seen.
    let keyed: Vec<usize> = firsts
        .iter()
        .copied()
        .filter(|&i| batch[i].client_id.is_some())
        .collect();
    let mut copies: HashMap<(String, Uuid, String), StoredMessage> = HashMap::new();
    if !keyed.is_empty() {
        let find = FindCopies {
            rooms: keyed.iter().map(|&i| batch[i].room.as_str()).collect(),
            user_ids: keyed.iter().map(|&i| batch[i].user_id).collect(),
            client_ids: keyed
                .iter()
                .filter_map(|&i| batch[i].client_id.as_deref())
                .collect(),
        };
        for row in find.load::<Row>(&mut *conn).await? {
            let m = StoredMessage::from(row);
            let k = (
                m.room.clone(),
                m.user_id,
                m.client_id.clone().unwrap_or_default(),
            );
            copies.insert(k, m);
        }
    }

    let mut next: HashMap<&str, i64> = locked.iter().map(|(n, last)| (n.as_str(), *last)).collect();
    let mut rows = InsertMessages::default();
    let mut fresh: Vec<(usize, i64)> = Vec::new();
    for &i in firsts {
        let m = &batch[i];
        if let Some(client_id) = &m.client_id {
            let k = (m.room.as_str().to_owned(), m.user_id, client_id.clone());
            if let Some(existing) = copies.get(&k) {
                results[i] = Some(Outcome::Duplicate(existing.clone()));
                continue;
            }
        }
        let Some(slot) = next.get_mut(m.room.as_str()) else {
            return Err(Missing::Rooms);
        };
        *slot += 1;
        let id = *slot;
        fresh.push((i, id));
        rows.rooms.push(m.room.as_str());
        rows.ids.push(id);
        rows.user_ids.push(m.user_id);
        rows.user_names.push(&m.user_name);
        rows.bodies.push(&m.body);
        rows.client_ids.push(m.client_id.as_deref());
        rows.created_at.push(m.created_at);
    }
    if fresh.is_empty() {
        return Ok(((results, Vec::new()), None));
    }
    for (name, last) in &next {
        if locked.get(*name) != Some(last) {
            rows.last_rooms.push(name);
            rows.last_ids.push(*last);
        }
    }
    let inserted: HashSet<(String, i64)> = rows
        .get_results::<(String, i64)>(&mut *conn)
        .await?
        .into_iter()
        .collect();
    if inserted.len() != fresh.len() {
        return Err(Missing::Failed(StoreError::Contention(
            "a copy was stored concurrently".into(),
        )));
    }
    let new_members = direct_members(conn, batch, &fresh).await?;
    let witness = <[_]>::first(&fresh).map(|&(i, id)| {
        let m = &batch[i];
        (m.room.as_str().to_owned(), id, m.user_id, m.created_at)
    });
    for (i, id) in fresh {
        results[i] = Some(Outcome::Stored(stored(&batch[i], id)));
    }
    Ok(((results, new_members), witness))
}

/// A message in a direct room makes both of its users members: the sender
/// having read up to it, the other with nothing read. Returns the memberships
/// that are new (the recipient of a first direct message is told).
async fn direct_members(
    conn: &mut AsyncPgConnection,
    batch: &[NewMessage],
    fresh: &[(usize, i64)],
) -> Result<Vec<(Uuid, String)>, Missing> {
    let mut wanted: BTreeMap<(Uuid, &str), i64> = BTreeMap::new();
    for &(i, id) in fresh {
        let m = &batch[i];
        let Some((a, b)) = m.room.direct_users() else {
            continue;
        };
        let other = if m.user_id == a { b } else { a };
        let own = wanted.entry((m.user_id, m.room.as_str())).or_insert(id);
        *own = (*own).max(id);
        wanted.entry((other, m.room.as_str())).or_insert(0);
    }
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let add = AddMembers {
        users: wanted.keys().map(|(u, _)| *u).collect(),
        rooms: wanted.keys().map(|(_, r)| *r).collect(),
        read_ids: wanted.values().copied().collect(),
    };
    Ok(add.load::<(Uuid, String)>(&mut *conn).await?)
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
