//! The queue between a subscribing connection and the task that reads it,
//! bounded in pushes and in bytes. redis-rs hands pushes to a sender that must
//! not block (a blocked sender stalls the connection's reads, replies
//! included), so a full queue cannot push back: it drops the push and marks the
//! queue overflowed, and the reader then gets a [`PushKind::Disconnection`]
//! before anything else. A subscriber treats that as a lost subscription:
//! a new one, a sweep of every room from the store, revocations re-checked.
//! Without the bound, a reader held up (a burst of revocations to re-check, a
//! slow hub) let pushes pile up without limit.

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

use redis::{PushInfo, PushKind, Value, aio::AsyncPushSender};
use tokio::sync::mpsc;

/// How much may wait. A room message is at most ~25 KB (4 000 characters,
/// each up to six bytes escaped, plus the frame), so the byte bound is the one
/// that binds under a burst of large messages; the count bounds small ones.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub items: usize,
    pub bytes: usize,
}

impl Bounds {
    pub const DEFAULT: Self = Self {
        items: 65_536,
        bytes: 32 * 1024 * 1024,
    };
}

#[derive(Debug)]
struct Level {
    bounds: Bounds,
    items: AtomicUsize,
    bytes: AtomicUsize,
    overflowed: AtomicBool,
}

/// The connection's end.
#[derive(Debug, Clone)]
pub struct PushSender {
    tx: mpsc::UnboundedSender<PushInfo>,
    level: Arc<Level>,
}

/// The reader's end.
#[derive(Debug)]
pub struct Pushes {
    rx: mpsc::UnboundedReceiver<PushInfo>,
    level: Arc<Level>,
}

pub fn channel(bounds: Bounds) -> (PushSender, Pushes) {
    let (tx, rx) = mpsc::unbounded_channel();
    let level = Arc::new(Level {
        bounds,
        items: AtomicUsize::new(0),
        bytes: AtomicUsize::new(0),
        overflowed: AtomicBool::new(false),
    });
    (
        PushSender {
            tx,
            level: Arc::clone(&level),
        },
        Pushes { rx, level },
    )
}

/// What a push holds, near enough: its strings' bytes and a little per value.
fn size(push: &PushInfo) -> usize {
    fn of(v: &Value) -> usize {
        16 + match v {
            Value::BulkString(b) => b.len(),
            Value::SimpleString(s) => s.len(),
            Value::Array(items) | Value::Set(items) => items.iter().map(of).sum(),
            _ => 0,
        }
    }
    push.data.iter().map(of).sum()
}

impl AsyncPushSender for PushSender {
    fn send(&self, info: PushInfo) -> Result<(), redis::aio::SendError> {
        let bytes = size(&info);
        let level = &self.level;
        // One connection task sends, so reading then adding cannot overshoot
        // by more than what the reader takes meanwhile (which only lowers it).
        let full = level.items.load(Ordering::Acquire) >= level.bounds.items
            || level.bytes.load(Ordering::Acquire) + bytes > level.bounds.bytes;
        if full || level.overflowed.load(Ordering::Acquire) {
            level.overflowed.store(true, Ordering::Release);
            // Not an error: redis-rs stops calling a sender that fails.
            return Ok(());
        }
        level.items.fetch_add(1, Ordering::AcqRel);
        level.bytes.fetch_add(bytes, Ordering::AcqRel);
        if self.tx.send(info).is_err() {
            // The reader is gone; nothing waits for the push.
            level.items.fetch_sub(1, Ordering::AcqRel);
            level.bytes.fetch_sub(bytes, Ordering::AcqRel);
        }
        Ok(())
    }
}

impl Pushes {
    fn overflow(&self) -> Option<PushInfo> {
        self.level
            .overflowed
            .swap(false, Ordering::AcqRel)
            .then(|| PushInfo {
                kind: PushKind::Disconnection,
                data: Vec::new(),
            })
    }

    fn taken(&self, push: PushInfo) -> PushInfo {
        self.level.items.fetch_sub(1, Ordering::AcqRel);
        self.level.bytes.fetch_sub(size(&push), Ordering::AcqRel);
        push
    }

    /// The next push; after an overflow, a `Disconnection` first.
    pub async fn recv(&mut self) -> Option<PushInfo> {
        if let Some(lost) = self.overflow() {
            return Some(lost);
        }
        let push = self.rx.recv().await?;
        Some(self.overflow().unwrap_or_else(|| self.taken(push)))
    }

    /// A push that is already waiting, if any (same order as [`Self::recv`]).
    pub fn try_recv(&mut self) -> Option<PushInfo> {
        if let Some(lost) = self.overflow() {
            return Some(lost);
        }
        let push = self.rx.try_recv().ok()?;
        Some(self.taken(push))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(bytes: usize) -> PushInfo {
        PushInfo {
            kind: PushKind::Message,
            data: vec![
                Value::BulkString(b"chan".to_vec()),
                Value::BulkString(vec![b'x'; bytes]),
            ],
        }
    }

    #[tokio::test]
    async fn within_bounds_pushes_arrive_in_order() {
        let (tx, mut rx) = channel(Bounds::DEFAULT);
        for n in 1..=3 {
            assert!(tx.send(message(n)).is_ok());
        }
        for n in 1..=3 {
            let push = rx.recv().await;
            assert!(push.is_some_and(|p| p.data[1] == Value::BulkString(vec![b'x'; n])));
        }
        assert!(rx.try_recv().is_none());
    }

    #[tokio::test]
    async fn past_either_bound_the_reader_hears_a_disconnection_first() {
        for bounds in [
            Bounds {
                items: 2,
                bytes: 1 << 20,
            },
            Bounds {
                items: 100,
                bytes: 300,
            },
        ] {
            let (tx, mut rx) = channel(bounds);
            for _ in 0..5 {
                assert!(tx.send(message(100)).is_ok(), "never an error");
            }
            let first = rx.recv().await;
            assert!(first.is_some_and(|p| p.kind == PushKind::Disconnection));
            // What was queued before the overflow drains, and the level with it.
            let mut queued = 0;
            while let Some(push) = rx.try_recv() {
                assert_eq!(push.kind, PushKind::Message);
                queued += 1;
            }
            assert!((1..=2).contains(&queued), "{queued}");
            assert!(tx.send(message(100)).is_ok());
            assert!(rx.recv().await.is_some_and(|p| p.kind == PushKind::Message));
        }
    }
}
