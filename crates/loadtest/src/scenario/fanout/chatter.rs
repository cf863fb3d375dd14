//! What a real client sends beside its messages, paced the way one would: read
//! markers for what it received, and typing notices before what it sends. Pure
//! timing logic, so the rules are unit-tested apart from the sockets.
//!
//! - **Read markers**: the highest id received, at most one frame every
//!   [`READ_EVERY`] per room, the first one at once (throttled at both edges: a
//!   marker for a message that arrived in a quiet room goes out at once, and the
//!   last messages of a burst are still marked when the interval ends).
//! - **Typing**: a `typing` frame before a message, at most one every
//!   [`TYPING_EVERY`] per socket (the contract ignores more than one a second).

use std::time::Duration;

use tokio::time::Instant;

/// 500 ms, what Element (matrix-react-sdk's `TimelinePanel`,
/// `READ_RECEIPT_INTERVAL_MS`) waits between the read receipts of a room it
/// shows. The chat service writes a user's marker in a room at most once per
/// `CHAT_READ_FLUSH_MS` (1 s, the first change at once), so in a busy room
/// every other marker a client sends is written (the receipts the service
/// announces for them are paced per room, `CHAT_ROOM_RECEIPTS_PER_SEC`).
pub const READ_EVERY: Duration = Duration::from_millis(500);

/// The contract's own limit (one a second per socket); a client that typed
/// faster would only have its extra notices ignored.
pub const TYPING_EVERY: Duration = Duration::from_secs(1);

/// One socket's read marker in its room.
#[derive(Debug, Clone)]
pub struct ReadMarker {
    every: Duration,
    /// The highest id received so far.
    seen: i64,
    /// The highest id marked read, and when.
    sent: i64,
    sent_at: Option<Instant>,
}

impl ReadMarker {
    pub fn new(every: Duration) -> Self {
        Self {
            every,
            seen: 0,
            sent: 0,
            sent_at: None,
        }
    }

    /// A message `id` arrived at `now`: the id to mark read at once, if the
    /// interval since the last marker has passed.
    pub fn received(&mut self, id: i64, now: Instant) -> Option<i64> {
        self.seen = self.seen.max(id);
        self.poll(now)
    }

    /// When a marker waits for the interval to end, that moment. (One that
    /// need not wait was sent by [`ReadMarker::received`] already.)
    pub fn due(&self) -> Option<Instant> {
        if self.seen <= self.sent {
            return None;
        }
        self.sent_at.map(|at| at + self.every)
    }

    /// The id to mark read at `now`, if one waits and its time has come.
    pub fn poll(&mut self, now: Instant) -> Option<i64> {
        if self.seen <= self.sent || self.sent_at.is_some_and(|at| now < at + self.every) {
            return None;
        }
        self.sent = self.seen;
        self.sent_at = Some(now);
        Some(self.sent)
    }

    /// Forgets a waiting marker (the client stopped reading): the next
    /// message is marked afresh.
    pub fn pause(&mut self) {
        self.sent = self.seen;
        self.sent_at = None;
    }
}

/// When each socket last sent `typing`.
#[derive(Debug, Clone)]
pub struct Typing {
    every: Duration,
    last: Vec<Option<Instant>>,
}

impl Typing {
    pub fn new(sockets: usize, every: Duration) -> Self {
        Self {
            every,
            last: vec![None; sockets],
        }
    }

    /// Whether socket `k`, about to send a message at `now`, sends `typing`
    /// first (and if so, remembers it did).
    pub fn before_message(&mut self, k: usize, now: Instant) -> bool {
        let Some(last) = self.last.get_mut(k) else {
            return false;
        };
        if last.is_some_and(|at| now.saturating_duration_since(at) < self.every) {
            return false;
        }
        *last = Some(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_first_message_after_a_quiet_spell_is_marked_at_once() {
        let t0 = Instant::now();
        let mut r = ReadMarker::new(500 * MS);
        assert_eq!(r.received(7, t0), Some(7));
        assert_eq!(r.due(), None, "nothing waits");
        // Much later, the next one goes out at once too.
        assert_eq!(r.received(8, t0 + 900 * MS), Some(8));
    }

    #[test]
    fn a_burst_is_one_marker_per_interval_with_the_highest_id() {
        let t0 = Instant::now();
        let mut r = ReadMarker::new(500 * MS);
        assert_eq!(r.received(1, t0), Some(1));
        let mut sent = Vec::new();
        // 100 messages a second for two seconds.
        for i in 2..200 {
            let at = t0 + 10 * MS * u32::try_from(i).unwrap_or(0);
            if let Some(due) = r.due()
                && due <= at
                && let Some(id) = r.poll(due)
            {
                sent.push((id, due));
            }
            if let Some(id) = r.received(i, at) {
                sent.push((id, at));
            }
        }
        // Markers at 500, 1000, 1500 ms, each with what had arrived by then.
        let ids: Vec<i64> = sent.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, vec![49, 99, 149]);
        for pair in sent.windows(2) {
            assert!(pair[1].1 - pair[0].1 >= 500 * MS, "{sent:?}");
        }
        // The tail of the burst is still marked once the interval ends.
        let due = r.due().unwrap_or(t0);
        assert_eq!(due, t0 + 2000 * MS);
        assert_eq!(r.poll(due - MS), None, "not before its time");
        assert_eq!(r.poll(due), Some(199));
        assert_eq!(r.due(), None);
    }

    #[test]
    fn markers_never_go_back() {
        let t0 = Instant::now();
        let mut r = ReadMarker::new(500 * MS);
        assert_eq!(r.received(10, t0), Some(10));
        assert_eq!(
            r.received(4, t0 + 600 * MS),
            None,
            "an older id moves nothing"
        );
        assert_eq!(r.due(), None);
    }

    #[test]
    fn a_paused_reader_drops_what_waited() {
        let t0 = Instant::now();
        let mut r = ReadMarker::new(500 * MS);
        assert_eq!(r.received(1, t0), Some(1));
        assert_eq!(r.received(2, t0 + 100 * MS), None);
        r.pause();
        assert_eq!(r.due(), None);
        assert_eq!(r.received(3, t0 + 200 * MS), Some(3));
    }

    #[test]
    fn typing_goes_before_a_message_at_most_once_a_second_per_socket() {
        let t0 = Instant::now();
        let mut t = Typing::new(2, Duration::from_secs(1));
        assert!(t.before_message(0, t0));
        assert!(t.before_message(1, t0), "sockets are paced apart");
        assert!(!t.before_message(0, t0 + 999 * MS));
        assert!(t.before_message(0, t0 + 1000 * MS));
        assert!(!t.before_message(5, t0), "no such socket");
    }
}
