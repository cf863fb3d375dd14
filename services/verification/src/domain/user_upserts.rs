//! The users of concurrent sign-ins, written in one statement.
//!
//! Each successful confirm creates its user, or marks it verified again: one
//! `INSERT … ON CONFLICT` and one commit. PostgreSQL spends most of that on the
//! statement, not the row: at 1 000 statements/s from one client (pgbench, the
//! benchmark machine) a one-row upsert cost its backend 240 µs, a five-row one
//! 358 µs (72 µs a row), and a bare `SELECT 1` 83 µs. So each HTTP worker has one
//! writer task: the sign-ins that arrive while a statement is in flight go
//! together in the next. That alone grouped only 1.07 sign-ins a statement at
//! 1 000 logins/s (a statement is back within half a millisecond), so when
//! sign-ins come often enough that another is expected within [`LINGER_MAX`],
//! the writer waits that long for it before writing, as PostgreSQL's own
//! `commit_delay` waits only while other transactions are active. A quiet
//! service never waits. A statement PostgreSQL refuses (not one whose
//! connection failed) is written again row by row, so one bad row fails only
//! its own sign-in.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use platform::database::PgPool;
use tokio::{
    sync::{mpsc, oneshot},
    time::{Duration, Instant},
};
use uuid::Uuid;

use super::email::Email;
use crate::{
    error::ApiError,
    metrics::Metrics,
    store::users::{self, User},
};

/// Most sign-ins in one statement.
const MAX_BATCH: usize = 256;

/// The longest a sign-in waits for others to share its statement.
const LINGER_MAX: Duration = Duration::from_millis(2);

/// Sign-ins that may wait for the writer, per worker. An item is an address of
/// at most 254 bytes, a display name and a reply slot: under 1 KiB, so the queue
/// holds under 1 MiB. Past it a sign-in answers `unavailable`: the database is
/// not keeping up, and more waiting would only time the client out.
const QUEUE_ITEMS: usize = 1024;

/// The sending side, cheap to clone.
#[derive(Clone)]
pub struct UserUpserts {
    tx: mpsc::Sender<Pending>,
}

struct Pending {
    email: String,
    display_name: String,
    reply: oneshot::Sender<Result<User, Failed>>,
}

/// Why a batch failed, told to each of its sign-ins (the cause is logged once).
#[derive(Debug, Clone, Copy)]
enum Failed {
    Unavailable,
    Internal,
}

impl UserUpserts {
    /// Starts the writer on the current runtime (the HTTP worker's own, so its
    /// replies wake no other thread).
    pub fn start(db: PgPool, metrics: Arc<Metrics>) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_ITEMS);
        tokio::spawn(write_all(rx, db, metrics));
        Self { tx }
    }

    /// The user of a just-proven address, created on first success.
    pub async fn verified(&self, email: &Email) -> Result<User, ApiError> {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            email: email.as_str().to_owned(),
            display_name: email.default_display_name(),
            reply,
        };
        self.tx
            .try_send(pending)
            .map_err(|_| ApiError::Unavailable)?;
        match answer.await {
            Ok(Ok(user)) => Ok(user),
            Ok(Err(Failed::Internal)) => Err(ApiError::Internal(anyhow::anyhow!(
                "writing users (the cause is logged with the batch)"
            ))),
            Ok(Err(Failed::Unavailable)) | Err(_) => Err(ApiError::Unavailable),
        }
    }
}

async fn write_all(mut rx: mpsc::Receiver<Pending>, db: PgPool, metrics: Arc<Metrics>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut pace = Pace::new(Instant::now());
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        if let Some(wait) = pace.linger() {
            // Sleeping, the writer is not waiting on the queue: sign-ins that
            // arrive meanwhile wake nothing.
            tokio::time::sleep(wait).await;
            let room = MAX_BATCH.saturating_sub(batch.len());
            if room > 0 && !rx.is_empty() {
                rx.recv_many(&mut batch, room).await;
            }
        }
        pace.count(batch.len(), Instant::now());
        write(&db, &metrics, std::mem::take(&mut batch)).await;
    }
}

/// Sign-ins per [`Pace::WINDOW`], to tell whether another is expected soon.
struct Pace {
    window_start: Instant,
    this_window: usize,
    last_window: usize,
}

impl Pace {
    const WINDOW: Duration = Duration::from_millis(100);

    fn new(now: Instant) -> Self {
        Self {
            window_start: now,
            this_window: 0,
            last_window: 0,
        }
    }

    fn count(&mut self, sign_ins: usize, now: Instant) {
        let elapsed = now.saturating_duration_since(self.window_start);
        if elapsed >= Self::WINDOW {
            // A window with no sign-ins between counts as quiet.
            self.last_window = if elapsed < 2 * Self::WINDOW {
                self.this_window
            } else {
                0
            };
            self.this_window = 0;
            self.window_start = now;
        }
        self.this_window += sign_ins;
    }

    /// How long to wait for the next sign-in: the mean gap between them in the
    /// last window, when that is under [`LINGER_MAX`].
    fn linger(&self) -> Option<Duration> {
        let sign_ins = u32::try_from(self.last_window).ok().filter(|n| *n > 0)?;
        let gap = Self::WINDOW / sign_ins;
        (gap <= LINGER_MAX).then_some(gap)
    }
}

async fn write(db: &PgPool, metrics: &Metrics, batch: Vec<Pending>) {
    // One statement cannot update a row twice: an address signing in twice in
    // one batch is written once, and both sign-ins get its user.
    let mut emails: Vec<&str> = Vec::with_capacity(batch.len());
    let mut names: Vec<&str> = Vec::with_capacity(batch.len());
    let mut seen = HashSet::with_capacity(batch.len());
    for pending in &batch {
        if seen.insert(pending.email.as_str()) {
            emails.push(&pending.email);
            names.push(&pending.display_name);
        }
    }
    metrics
        .user_upserts
        .inc_by(u64::try_from(batch.len()).unwrap_or(u64::MAX));
    let mut answers: HashMap<String, Result<User, Failed>> = HashMap::new();
    match upsert(db, metrics, &emails, &names).await {
        Ok(users) => answers.extend(users.into_iter().map(|u| (u.email.clone(), Ok(u)))),
        Err(Failed::Internal) if emails.len() > 1 => {
            // PostgreSQL refused the statement, not the connection: one row
            // (a check a bug let through, a trigger) must not fail the other
            // sign-ins, so each is written alone and fails on its own.
            for (email, name) in emails.iter().zip(&names) {
                let one = upsert(db, metrics, &[email], &[name]).await;
                let answer = one.and_then(|users| users.into_iter().next().ok_or(Failed::Internal));
                answers.insert((*email).to_owned(), answer);
            }
        }
        Err(failed) => answers.extend(emails.iter().map(|e| ((*e).to_owned(), Err(failed)))),
    }
    for pending in batch {
        let answer = answers.get(&pending.email).cloned().unwrap_or_else(|| {
            tracing::error!("a written user was not returned");
            Err(Failed::Internal)
        });
        if let Ok(user) = &answer {
            tracing::info!(user_id = %user.id, "email verified");
        }
        let _ = pending.reply.send(answer);
    }
}

/// One statement for `emails` (distinct); a refusal is logged here, once.
async fn upsert(
    db: &PgPool,
    metrics: &Metrics,
    emails: &[&str],
    names: &[&str],
) -> Result<Vec<User>, Failed> {
    let ids: Vec<Uuid> = emails.iter().map(|_| super::random_uuid()).collect();
    metrics.user_upsert_statements.inc();
    let written = async {
        let mut conn = db.get().await?;
        Ok::<_, ApiError>(users::upsert_verified_many(&mut conn, &ids, emails, names).await?)
    }
    .await;
    written.map_err(|e| match e {
        ApiError::Unavailable => Failed::Unavailable,
        other => {
            tracing::error!(error = ?other, rows = emails.len(), "writing users failed");
            Failed::Internal
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quiet_writer_does_not_wait_and_a_busy_one_waits_for_the_next_sign_in() {
        let t0 = Instant::now();
        let mut pace = Pace::new(t0);
        assert_eq!(pace.linger(), None, "nothing seen yet");
        pace.count(10, t0 + Duration::from_millis(50));
        pace.count(1, t0 + Duration::from_millis(120));
        assert_eq!(pace.linger(), None, "100 a second: a gap of 10 ms");
        pace.count(200, t0 + Duration::from_millis(150));
        pace.count(1, t0 + Duration::from_millis(230));
        // 201 in the last window: the next one is due in under half a millisecond.
        let wait = pace.linger().unwrap_or_default();
        assert!(wait > Duration::from_micros(490) && wait < Duration::from_micros(500));
        pace.count(1, t0 + Duration::from_millis(600));
        assert_eq!(pace.linger(), None, "a quiet spell in between");
    }
}
