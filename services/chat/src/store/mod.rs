//! PostgreSQL through diesel-async, and nothing else: the write transaction on
//! its own connection ([`WriteConnection`]), and reads — history pages, replays,
//! the gaps and baselines of the fan-out — on the pool. Errors are this module's
//! own, sorted by what a caller can do about them.

mod commit_check;
mod error;
mod memberships;
mod reads;
mod rows;
pub mod schema;
mod sql;
mod writes;

use std::{sync::Arc, time::Duration};

use platform::database::PgPool;
use tokio::sync::Semaphore;

pub use error::StoreError;
pub use memberships::RoomSummary;
pub use reads::Page;
pub use writes::{Outcome, WriteConnection, Written};

use crate::domain::StoredMessage;

/// Reads run on the pool behind a per-replica limit, so a burst of catch-ups
/// can take at most `read_limit` connections and leaves the rest for the
/// fan-out's own gap filling.
#[derive(Clone)]
pub struct Store {
    pool: PgPool,
    replays: Arc<Semaphore>,
    /// Memberships one user may hold (`CHAT_MAX_MEMBERSHIPS`).
    max_memberships: i64,
}

/// How long a read may wait for a connection before it is refused.
const READ_WAIT: Duration = Duration::from_secs(5);

impl Store {
    pub fn new(pool: PgPool, replay_limit: usize, max_memberships: usize) -> Self {
        Self {
            pool,
            replays: Arc::new(Semaphore::new(replay_limit.max(1))),
            max_memberships: i64::try_from(max_memberships).unwrap_or(i64::MAX),
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn conn(
        &self,
    ) -> Result<
        diesel_async::pooled_connection::deadpool::Object<diesel_async::AsyncPgConnection>,
        StoreError,
    > {
        self.pool
            .get()
            .await
            .map_err(|e| StoreError::Connection(e.to_string()))
    }

    /// A page of a room's history, oldest first: the history route and replays,
    /// behind the replica's replay limit.
    #[tracing::instrument(skip(self))]
    pub async fn page(&self, room: &str, page: Page) -> Result<Vec<StoredMessage>, StoreError> {
        let _permit = tokio::time::timeout(READ_WAIT, self.replays.acquire())
            .await
            .map_err(|_| StoreError::Connection("too many reads waiting".into()))?
            .map_err(|_| StoreError::Connection("store closed".into()))?;
        let mut conn = self.conn().await?;
        Ok(reads::page(&mut conn, room, page).await?)
    }

    /// Stored messages of a room with ids in `(after, upto]`, oldest first, at
    /// most `limit`: the fan-out filling a gap (not behind the replay limit).
    pub async fn range(
        &self,
        room: &str,
        after: i64,
        upto: i64,
        limit: i64,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let mut conn = self.conn().await?;
        let page = Page {
            before: Some(upto.saturating_add(1)),
            after: Some(after),
            limit,
        };
        Ok(reads::page(&mut conn, room, page).await?)
    }

    /// One user's rooms, the newest message first (the room list).
    pub async fn rooms_of(&self, user: uuid::Uuid) -> Result<Vec<RoomSummary>, StoreError> {
        let mut conn = self.conn().await?;
        Ok(memberships::rooms_of(&mut conn, user).await?)
    }

    /// Makes users members of rooms they joined, reading from the given id
    /// (existing memberships stay as they are; none past a user's cap).
    pub async fn join_rooms(&self, joins: &[(uuid::Uuid, String, i64)]) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        Ok(memberships::join(&mut conn, joins, self.max_memberships).await?)
    }

    pub async fn forget_room(&self, user: uuid::Uuid, room: &str) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        Ok(memberships::forget(&mut conn, user, room).await?)
    }

    /// Moves read markers forward; returns those that moved.
    pub async fn mark_read(
        &self,
        marks: &[(uuid::Uuid, String, i64)],
    ) -> Result<Vec<(uuid::Uuid, String, i64)>, StoreError> {
        let mut conn = self.conn().await?;
        Ok(memberships::mark_read(&mut conn, marks, self.max_memberships).await?)
    }

    /// Each room's last id (0 for a room with no messages yet).
    pub async fn last_ids(&self, rooms: &[&str]) -> Result<Vec<(String, i64)>, StoreError> {
        let mut conn = self.conn().await?;
        Ok(reads::last_ids(&mut conn, rooms).await?)
    }
}
