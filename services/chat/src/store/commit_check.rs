//! Whether a transaction whose connection broke during `COMMIT` committed.
//!
//! Retrying a committed batch would store its messages twice (those without a
//! `client_id` have nothing to find them by), so the writer asks. The question
//! must wait for the old transaction to end: a backend still committing (under
//! synchronous replication, a partitioned standby keeps it waiting) holds its
//! rooms' row locks and its rows are not visible yet, so a plain look would
//! answer "not committed" and the retry would store the batch again. Taking the
//! room's row lock `FOR SHARE` first waits for exactly that transaction, and
//! `lock_timeout` bounds the wait; past it the answer is "cannot tell".

use std::time::Duration;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use uuid::Uuid;

use super::schema::{messages, rooms};

/// The batch's first new row: room, id, sender and time.
pub type Witness = (String, i64, Uuid, chrono::DateTime<chrono::Utc>);

/// How long the check may wait for the broken transaction's locks.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// `Some(true)` committed, `Some(false)` not (safe to retry), `None` cannot tell.
pub async fn committed_anyway(
    url: &str,
    witness: Option<Witness>,
    connect_timeout: Duration,
) -> Option<bool> {
    let Some(witness) = witness else {
        return Some(false);
    };
    let mut conn = tokio::time::timeout(connect_timeout, platform::database::connect(url))
        .await
        .ok()?
        .ok()?;
    // The lock wait is bounded by `lock_timeout`; the whole check by twice it.
    tokio::time::timeout(2 * LOCK_WAIT, look(&mut conn, witness))
        .await
        .ok()?
        .ok()
}

async fn look(conn: &mut AsyncPgConnection, witness: Witness) -> QueryResult<bool> {
    let (room, id, user, at) = witness;
    conn.batch_execute(&format!(
        "BEGIN; SET LOCAL lock_timeout = '{}ms'",
        LOCK_WAIT.as_millis()
    ))
    .await?;
    // Nothing is written: the transaction only holds the share lock while the
    // row is looked for, and the connection is dropped afterwards.
    rooms::table
        .find(&room)
        .select(rooms::name)
        .for_share()
        .first::<String>(conn)
        .await
        .optional()?;
    let found = messages::table
        .find((&room, id))
        .select((messages::user_id, messages::created_at))
        .first::<(Uuid, chrono::DateTime<chrono::Utc>)>(conn)
        .await
        .optional()?;
    Ok(found == Some((user, at)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A transaction that has stored its row but not yet committed, as a
    /// backend still committing when its client's connection broke.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_batch_still_committing_is_waited_for_not_reported_missing() {
        let db = testkit::postgres::TestDatabase::create().await;
        platform::database::migrate(&db.url).await.unwrap();
        let mut old = platform::database::connect(&db.url).await.unwrap();
        let user = Uuid::new_v4();
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        old.batch_execute("INSERT INTO rooms (name) VALUES ('r')")
            .await
            .unwrap();
        old.batch_execute(&format!(
            "BEGIN; SELECT 1 FROM rooms WHERE name = 'r' FOR UPDATE; \
             INSERT INTO messages (room, id, user_id, user_name, body, created_at) \
             VALUES ('r', 1, '{user}', 'u', 'hi', '{}')",
            at.to_rfc3339()
        ))
        .await
        .unwrap();
        let url = db.url.clone();
        let asking = tokio::spawn(async move {
            committed_anyway(
                &url,
                Some(("r".into(), 1, user, at)),
                Duration::from_secs(5),
            )
            .await
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!asking.is_finished(), "answered before the commit ended");
        old.batch_execute("COMMIT").await.unwrap();
        assert_eq!(asking.await.unwrap(), Some(true));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_batch_rolled_back_is_reported_missing() {
        let db = testkit::postgres::TestDatabase::create().await;
        platform::database::migrate(&db.url).await.unwrap();
        let mut conn = platform::database::connect(&db.url).await.unwrap();
        conn.batch_execute("INSERT INTO rooms (name) VALUES ('r')")
            .await
            .unwrap();
        let at = chrono::Utc::now();
        let answer = committed_anyway(
            &db.url,
            Some(("r".into(), 1, Uuid::new_v4(), at)),
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(answer, Some(false));
    }
}
