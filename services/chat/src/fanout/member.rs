//! What the hub keeps of each socket: its outbox, its off switch, and the
//! accounting that bounds the outbox in bytes as well as frames.

use std::sync::{
    Arc, OnceLock,
    atomic::{AtomicUsize, Ordering},
};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{Delivery, relay::Relay};

pub type SocketId = u64;

/// Why a socket is being closed from outside its own task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillReason {
    /// Too far behind, or a gap of its room could not be filled: 1013.
    SlowConsumer,
    Revoked,
}

/// A socket's off switch: a child of the application's shutdown token, so
/// shutdown reaches every socket too (then with no reason: 1001).
#[derive(Debug)]
pub struct Kill {
    token: CancellationToken,
    reason: OnceLock<KillReason>,
}

impl Kill {
    pub fn new(shutdown: &CancellationToken) -> Self {
        Self {
            token: shutdown.child_token(),
            reason: OnceLock::new(),
        }
    }

    /// True when this call decided the reason (the first kill wins).
    pub fn kill(&self, reason: KillReason) -> bool {
        let first = self.reason.set(reason).is_ok();
        self.token.cancel();
        first
    }

    pub fn reason(&self) -> Option<KillReason> {
        self.reason.get().copied()
    }

    /// Whether [`Kill::kill`] was called: one atomic load, where the token's
    /// `is_cancelled` takes its mutex. On the paths taken per frame (queueing
    /// to an outbox, writing to the session) that mutex was the chat process's
    /// busiest function of its own, 2.4 % of its CPU with messages alone and
    /// 4.8 % with read receipts and typing mixed in (perf, chat-fanout at
    /// 10,000 deliveries/s). It does not see a shutdown (the parent token's
    /// cancel), which the socket's loop waits for on the token itself.
    pub fn is_killed(&self) -> bool {
        self.reason.get().is_some()
    }

    pub fn token(&self) -> &CancellationToken {
        &self.token
    }
}

/// The receiving end of a socket's outbox; frees the bytes of what it takes.
pub struct Inbox {
    rx: mpsc::Receiver<Arc<Delivery>>,
    bytes: Arc<AtomicUsize>,
}

impl Inbox {
    pub async fn recv(&mut self) -> Option<Arc<Delivery>> {
        let d = self.rx.recv().await?;
        self.bytes.fetch_sub(d.frame.len(), Ordering::Relaxed);
        Some(d)
    }

    pub fn try_recv(&mut self) -> Option<Arc<Delivery>> {
        let d = self.rx.try_recv().ok()?;
        self.bytes.fetch_sub(d.frame.len(), Ordering::Relaxed);
        Some(d)
    }

    /// The bytes of the frames still queued.
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// The sending end, bounded in frames (the channel) and in bytes (Centrifugo
/// closes a client whose queue passes 1 MiB; 256 frames of 64 KiB would be 16).
#[derive(Debug)]
pub struct Outbox {
    tx: mpsc::Sender<Arc<Delivery>>,
    bytes: Arc<AtomicUsize>,
    max_bytes: usize,
}

/// Why a frame was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    Full,
    Closed,
}

impl Outbox {
    pub fn new(frames: usize, max_bytes: usize) -> (Self, Inbox) {
        let (tx, rx) = mpsc::channel(frames.max(1));
        let bytes = Arc::new(AtomicUsize::new(0));
        (
            Self {
                tx,
                bytes: Arc::clone(&bytes),
                max_bytes,
            },
            Inbox { rx, bytes },
        )
    }

    pub fn try_send(&self, d: &Arc<Delivery>) -> Result<(), Refused> {
        let len = d.frame.len();
        if self.bytes.load(Ordering::Relaxed) + len > self.max_bytes {
            return Err(if self.tx.is_closed() {
                Refused::Closed
            } else {
                Refused::Full
            });
        }
        self.bytes.fetch_add(len, Ordering::Relaxed);
        self.tx.try_send(Arc::clone(d)).map_err(|e| {
            self.bytes.fetch_sub(len, Ordering::Relaxed);
            match e {
                mpsc::error::TrySendError::Full(_) => Refused::Full,
                mpsc::error::TrySendError::Closed(_) => Refused::Closed,
            }
        })
    }
}

/// What the hub keeps of a socket.
#[derive(Debug)]
pub struct SocketEntry {
    pub outbox: Outbox,
    pub kill: Arc<Kill>,
    /// Where frames for this socket are queued from; `None` queues directly.
    pub relay: Option<Relay>,
    pub user: Uuid,
    /// The user's display name, as presence shows it.
    pub name: Arc<str>,
    pub sid: Uuid,
    pub jti: Uuid,
}
