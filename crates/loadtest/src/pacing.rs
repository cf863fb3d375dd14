//! Open-loop pacing. Send `i` of a run at `rate` per second is due at
//! `start + i / rate`, whatever happened to the sends before it; latency is
//! measured from that due time, so a slow server shows up as latency instead of
//! silently lowering the offered load (coordinated omission).

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use tokio::time::Instant;

/// The timer's granularity: tokio sleeps wake on millisecond ticks, so a send is
/// allowed to go out up to this much early rather than up to this much late.
pub const EARLY: Duration = Duration::from_millis(1);

/// A fixed send schedule: `len` sends, evenly spaced at `rate` per second.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    start: Instant,
    rate: f64,
    len: u64,
}

impl Schedule {
    /// `rate` sends per second for `duration`, the first one at `start`.
    pub fn new(start: Instant, rate: f64, duration: Duration) -> Self {
        let rate = if rate.is_finite() && rate > 0.0 {
            rate
        } else {
            1.0
        };
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // positive, bounded
        let len = (rate * duration.as_secs_f64()).floor() as u64;
        Self { start, rate, len }
    }

    pub fn start(&self) -> Instant {
        self.start
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How long after the start send `i` is due.
    #[allow(clippy::cast_precision_loss)] // send counts stay far below 2^52
    pub fn offset(&self, i: u64) -> Duration {
        Duration::from_secs_f64(i as f64 / self.rate)
    }

    pub fn due(&self, i: u64) -> Instant {
        self.start + self.offset(i)
    }
}

/// Hands out a schedule's sends in order, once each, to any number of tasks.
#[derive(Debug)]
pub struct Slots {
    schedule: Schedule,
    next: AtomicU64,
}

impl Slots {
    pub fn new(schedule: Schedule) -> Self {
        Self {
            schedule,
            next: AtomicU64::new(0),
        }
    }

    /// The next unclaimed send and its due time, or `None` when all are claimed.
    pub fn claim(&self) -> Option<(u64, Instant)> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        (i < self.schedule.len()).then(|| (i, self.schedule.due(i)))
    }

    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }
}

/// Sleeps until `due` (or up to [`EARLY`] before it).
pub async fn wait_until(due: Instant) {
    if due > Instant::now() + EARLY {
        tokio::time::sleep_until(due - EARLY).await;
    }
}

/// Where a send's latency is measured from: its due time, or the moment it was
/// actually sent if the timer let it go early. Never later than the due time, so
/// time spent queued behind earlier sends always counts.
pub fn origin(due: Instant, sent: Instant) -> Instant {
    due.min(sent)
}

/// Offered rates for a stepped run: `start`, `start + step`, … up to `max`.
pub fn steps(start: f64, step: f64, max: f64) -> Vec<f64> {
    let mut rates = Vec::new();
    if !(start > 0.0 && start.is_finite()) {
        return rates;
    }
    let step = if step > 0.0 && step.is_finite() {
        step
    } else {
        f64::INFINITY
    };
    let mut rate = start;
    while rate <= max * (1.0 + 1e-9) && rates.len() < 1000 {
        rates.push(rate);
        rate += step;
    }
    rates
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn sends_are_evenly_spaced_from_the_start() {
        let start = Instant::now();
        let s = Schedule::new(start, 1000.0, Duration::from_secs(2));
        assert_eq!(s.len(), 2000);
        assert_eq!(s.offset(0), Duration::ZERO);
        assert_eq!(s.offset(5), Duration::from_millis(5));
        assert_eq!(s.due(1500), start + Duration::from_millis(1500));
    }

    #[test]
    fn fractional_rates_keep_their_spacing() {
        let s = Schedule::new(Instant::now(), 2.5, Duration::from_secs(10));
        assert_eq!(s.len(), 25);
        assert_eq!(s.offset(1), Duration::from_millis(400));
        assert_eq!(s.offset(10), Duration::from_secs(4));
    }

    #[test]
    fn a_nonsense_rate_is_not_a_division_by_zero() {
        let s = Schedule::new(Instant::now(), 0.0, Duration::from_secs(3));
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn each_slot_is_claimed_once_across_threads() {
        let slots = Arc::new(Slots::new(Schedule::new(
            Instant::now(),
            10_000.0,
            Duration::from_secs(1),
        )));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let slots = Arc::clone(&slots);
                std::thread::spawn(move || {
                    let mut mine = Vec::new();
                    while let Some((i, _)) = slots.claim() {
                        mine.push(i);
                    }
                    mine
                })
            })
            .collect();
        let mut all: Vec<u64> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..10_000).collect::<Vec<_>>());
        assert!(slots.claim().is_none());
    }

    #[test]
    fn latency_counts_from_the_due_time_when_a_send_is_late() {
        let due = Instant::now();
        let late = due + Duration::from_millis(30);
        let early = due - Duration::from_micros(400);
        assert_eq!(origin(due, late), due);
        assert_eq!(origin(due, early), early);
    }

    #[test]
    fn steps_climb_to_the_maximum() {
        assert_eq!(
            steps(500.0, 500.0, 2000.0),
            vec![500.0, 1000.0, 1500.0, 2000.0]
        );
        assert_eq!(steps(1000.0, 0.0, 5000.0), vec![1000.0]);
        assert!(steps(0.0, 1.0, 10.0).is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_wakes_no_later_than_the_due_time() {
        let due = Instant::now() + Duration::from_millis(25);
        wait_until(due).await;
        let now = Instant::now();
        assert!(
            now <= due && now + EARLY >= due,
            "woke {:?} early",
            due - now
        );
    }
}
