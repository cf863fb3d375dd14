//! PostgreSQL through diesel-async: storing batches of messages and reading history.

mod messages;
pub mod schema;
mod unnest;
pub mod writer;

use platform::database::PgPool;

pub use messages::{Outcome, Page};

use crate::domain::{NewMessage, StoredMessage};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no database connection: {0}")]
    Pool(String),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
}

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
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
            .map_err(|e| StoreError::Pool(e.to_string()))
    }

    /// Stores a batch in one transaction; one outcome per message, in order.
    #[tracing::instrument(skip_all, fields(batch = batch.len()))]
    pub async fn insert_batch(&self, batch: &[NewMessage]) -> Result<Vec<Outcome>, StoreError> {
        let mut conn = self.conn().await?;
        Ok(messages::insert_batch(&mut conn, batch).await?)
    }

    /// A page of a room's history, oldest first.
    #[tracing::instrument(skip(self))]
    pub async fn page(&self, room: &str, page: Page) -> Result<Vec<StoredMessage>, StoreError> {
        let mut conn = self.conn().await?;
        Ok(messages::page(&mut conn, room, page).await?)
    }
}
