//! One room's delivery order on this replica. Messages reach a replica out of
//! order (two replicas' publishes race; the local writer hands its own batches
//! over without waiting for Redis), and some never arrive (a `PUBLISH` that
//! failed, a subscription that was down). The sequencer releases ids strictly
//! in order: one that arrives ahead of a missing id is held, briefly and within
//! bounds, and if the missing one does not turn up the gap is read from
//! PostgreSQL. That read is exact: the room's row lock makes id N commit after
//! every lower id, so once N is known to exist, everything below it is readable.
//!
//! Pure logic with no clock or I/O of its own: the hub calls it under its lock
//! and the backfill task does the reads.

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

use super::Delivery;

/// How long a missing id is waited for, and how much one room may hold
/// meanwhile. Beyond the bounds a message is let go and read back from
/// PostgreSQL with the gap.
#[derive(Debug, Clone, Copy)]
pub struct Ordering {
    pub wait: Duration,
    pub hold_items: usize,
    pub hold_bytes: usize,
}

#[derive(Debug)]
pub struct Sequencer {
    rules: Ordering,
    /// The last id released; `None` until the room's baseline is known.
    last: Option<i64>,
    held: BTreeMap<i64, Arc<Delivery>>,
    held_bytes: usize,
    /// The highest id known to be stored (seen, held, let go, or swept).
    known: i64,
    /// When the current gap was first seen, and when it is to be read.
    gap: Option<(Instant, Instant)>,
    /// A read of the gap is under way.
    filling: bool,
}

/// A gap to read: ids in `(after, upto]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    pub after: i64,
    pub upto: i64,
}

impl Sequencer {
    pub fn new(rules: Ordering) -> Self {
        Self {
            rules,
            last: None,
            held: BTreeMap::new(),
            held_bytes: 0,
            known: 0,
            gap: None,
            filling: false,
        }
    }

    pub fn is_live(&self) -> bool {
        self.last.is_some()
    }

    pub fn last(&self) -> Option<i64> {
        self.last
    }

    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// Takes one message; appends what can now be released, in order.
    pub fn offer(&mut self, d: &Arc<Delivery>, now: Instant, out: &mut Vec<Arc<Delivery>>) {
        match self.last {
            Some(last) if d.id <= last => {}
            Some(last) if d.id == last + 1 => {
                self.last = Some(d.id);
                out.push(Arc::clone(d));
                self.drain(out);
            }
            _ => self.hold(d),
        }
        self.settle(now);
    }

    /// The room's last id when this replica started following it: everything
    /// after it is released in order from here on.
    pub fn start(&mut self, baseline: i64, now: Instant, out: &mut Vec<Arc<Delivery>>) {
        if self.last.is_none() {
            self.last = Some(baseline);
            self.drain(out);
            self.settle(now);
        }
    }

    /// The sweep read `last_id` as the room's newest stored id.
    pub fn stored_up_to(&mut self, last_id: i64, now: Instant) {
        self.known = self.known.max(last_id);
        self.settle(now);
    }

    /// The gap to read now, if it is due and no read is under way; marks the
    /// read as started.
    pub fn gap_due(&mut self, now: Instant) -> Option<Gap> {
        let last = self.last?;
        let (_, due) = self.gap?;
        if self.filling || due > now {
            return None;
        }
        self.filling = true;
        Some(Gap {
            after: last,
            upto: self.known,
        })
    }

    /// When the current gap is due, if there is one and no read is under way.
    pub fn gap_deadline(&self) -> Option<Instant> {
        if self.filling {
            return None;
        }
        self.gap.map(|(_, due)| due)
    }

    /// How long the current gap has been open.
    pub fn gap_age(&self, now: Instant) -> Option<Duration> {
        self.gap
            .map(|(since, _)| now.saturating_duration_since(since))
    }

    /// A gap read came back: `rows` are the stored messages in `(after,
    /// reached]`, oldest first (an id missing from them was never stored).
    pub fn filled(
        &mut self,
        rows: Vec<Arc<Delivery>>,
        reached: i64,
        now: Instant,
        out: &mut Vec<Arc<Delivery>>,
    ) {
        self.filling = false;
        let Some(mut last) = self.last else {
            return;
        };
        for row in rows {
            if row.id > last {
                last = row.id;
                out.push(row);
            }
        }
        self.last = Some(last.max(reached));
        self.drain(out);
        self.settle(now);
        if let Some((since, _)) = self.gap {
            // The read stopped at its page size: the rest is due at once.
            self.gap = Some((since, now));
        }
    }

    /// A gap read failed; the caller decides when to try again.
    pub fn fill_failed(&mut self, retry_at: Instant) {
        self.filling = false;
        if let Some((since, _)) = self.gap {
            self.gap = Some((since, retry_at));
        }
    }

    fn hold(&mut self, d: &Arc<Delivery>) {
        self.known = self.known.max(d.id);
        let bytes = d.frame.len();
        if self.held.contains_key(&d.id)
            || self.held.len() >= self.rules.hold_items
            || self.held_bytes + bytes > self.rules.hold_bytes
        {
            // Let go: `known` remembers it, and the gap read brings it back.
            return;
        }
        self.held_bytes += bytes;
        self.held.insert(d.id, Arc::clone(d));
    }

    /// Releases held messages that now follow on, and drops held ones at or
    /// below the last released id.
    fn drain(&mut self, out: &mut Vec<Arc<Delivery>>) {
        let Some(mut last) = self.last else {
            return;
        };
        while let Some(entry) = self.held.first_entry() {
            let id = *entry.key();
            if id > last + 1 {
                break;
            }
            let d = entry.remove();
            self.held_bytes -= d.frame.len();
            if id == last + 1 {
                last = id;
                out.push(d);
            }
        }
        self.last = Some(last);
        self.known = self.known.max(last);
    }

    /// Opens a gap when something known is missing, and forgets it once not.
    fn settle(&mut self, now: Instant) {
        match self.last {
            Some(last) if self.known > last && self.gap.is_none() => {
                self.gap = Some((now, now + self.rules.wait));
            }
            Some(last) if self.known <= last => self.gap = None,
            _ => {}
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use bytestring::ByteString;

    use super::*;

    const WAIT: Duration = Duration::from_millis(100);
    const ROOMY: Ordering = Ordering {
        wait: WAIT,
        hold_items: 100,
        hold_bytes: 1 << 20,
    };

    fn d(id: i64) -> Arc<Delivery> {
        Arc::new(Delivery {
            room: Arc::from("r"),
            id,
            frame: ByteString::from_static("{}"),
            kind: crate::fanout::Kind::Message,
        })
    }

    fn ids(out: &[Arc<Delivery>]) -> Vec<i64> {
        out.iter().map(|d| d.id).collect()
    }

    fn live_at(baseline: i64, rules: Ordering, now: Instant) -> Sequencer {
        let mut s = Sequencer::new(rules);
        s.start(baseline, now, &mut Vec::new());
        s
    }

    #[test]
    fn releases_in_order_and_drops_repeats() {
        let now = Instant::now();
        let mut s = live_at(4, ROOMY, now);
        let mut out = Vec::new();
        for id in [5, 7, 6, 6, 5, 8] {
            s.offer(&d(id), now, &mut out);
        }
        assert_eq!(ids(&out), vec![5, 6, 7, 8]);
        assert_eq!(s.gap_deadline(), None);
    }

    #[test]
    fn holds_until_start_and_keeps_only_what_follows_the_baseline() {
        let now = Instant::now();
        let mut s = Sequencer::new(ROOMY);
        let mut out = Vec::new();
        for id in [3, 5, 4] {
            s.offer(&d(id), now, &mut out);
        }
        assert!(out.is_empty());
        s.start(3, now, &mut out);
        assert_eq!(ids(&out), vec![4, 5]);
    }

    #[test]
    fn a_gap_waits_then_is_read_and_merged_with_what_was_held() {
        let now = Instant::now();
        let mut s = live_at(1, ROOMY, now);
        let mut out = Vec::new();
        s.offer(&d(4), now, &mut out);
        s.offer(&d(5), now, &mut out);
        assert!(out.is_empty());
        assert_eq!(s.gap_due(now), None, "too early");
        let gap = s.gap_due(now + WAIT).unwrap();
        assert_eq!(gap, Gap { after: 1, upto: 5 });
        assert_eq!(s.gap_due(now + WAIT), None, "one read at a time");
        // 3 was never stored (an old hole); 2, 4, 5 were.
        s.filled(vec![d(2), d(4), d(5)], 5, now, &mut out);
        assert_eq!(ids(&out), vec![2, 4, 5]);
        s.offer(&d(6), now, &mut out);
        assert_eq!(ids(&out), vec![2, 4, 5, 6]);
    }

    #[test]
    fn what_does_not_fit_is_let_go_and_read_back() {
        let now = Instant::now();
        let tiny = Ordering {
            hold_items: 1,
            ..ROOMY
        };
        let mut s = live_at(0, tiny, now);
        let mut out = Vec::new();
        for id in [2, 3, 4] {
            s.offer(&d(id), now, &mut out);
        }
        assert!(out.is_empty());
        let gap = s.gap_due(now + WAIT).unwrap();
        assert_eq!(gap, Gap { after: 0, upto: 4 });
        s.filled(vec![d(1), d(2), d(3), d(4)], 4, now, &mut out);
        assert_eq!(ids(&out), vec![1, 2, 3, 4]);
        assert_eq!(s.held_bytes(), 0);
    }

    #[test]
    fn a_partial_read_leaves_the_rest_due_at_once() {
        let now = Instant::now();
        let mut s = live_at(0, ROOMY, now);
        s.stored_up_to(10, now);
        let gap = s.gap_due(now + WAIT).unwrap();
        let mut out = Vec::new();
        s.filled(vec![d(1), d(2)], 2, now + WAIT, &mut out);
        assert_eq!(ids(&out), vec![1, 2]);
        assert_eq!(gap.upto, 10);
        assert_eq!(s.gap_due(now + WAIT), Some(Gap { after: 2, upto: 10 }));
    }

    #[test]
    fn a_sweep_that_finds_nothing_new_opens_no_gap() {
        let now = Instant::now();
        let mut s = live_at(7, ROOMY, now);
        s.stored_up_to(7, now);
        assert_eq!(s.gap_deadline(), None);
        s.stored_up_to(9, now);
        assert_eq!(s.gap_deadline(), Some(now + WAIT));
        let mut out = Vec::new();
        s.offer(&d(8), now, &mut out);
        s.offer(&d(9), now, &mut out);
        assert_eq!(ids(&out), vec![8, 9]);
        assert_eq!(s.gap_deadline(), None);
    }
}
