//! One step: open-loop sends at the step's rate (typing first when a mixed
//! step's sender may), the wait for the last deliveries, and the accounting:
//! deliveries against what each room's members should have received, the ids'
//! order, the `read` and `typing` frames, the CPU of the watched processes.

use std::{sync::atomic::Ordering, time::Duration};

use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::{Fleet, MARKER, State, Variant, chatter::Typing};
use crate::{
    cpu::{self, CpuWatch},
    pacing::{self, Schedule, Slots},
    report::Step,
    scenario::Ramp,
};

/// After a mixed step's last delivery its read receipts still come: the chat
/// service paces each room's receipts (`CHAT_ROOM_RECEIPTS_PER_SEC`), so in a
/// crowd the last markers wait their turn for seconds. The step waits until
/// none has come for [`RECEIPTS_QUIET`] (at most [`RECEIPTS_SETTLE_MAX`]), so
/// that they do not land in, and cost CPU in, the next step.
const RECEIPTS_QUIET: Duration = Duration::from_secs(1);
const RECEIPTS_SETTLE_MAX: Duration = Duration::from_secs(20);

/// What every step shares.
pub struct Plan {
    pub ramp: Ramp,
    pub grace: Duration,
    pub cpu: CpuWatch,
    /// What a mixed step sends beside messages.
    pub reads: bool,
    pub typing: bool,
}

/// What runs a chat-fanout run's steps: its sockets, plan and typing schedule.
pub struct Runner<'a> {
    pub name: &'a str,
    pub state: &'a State,
    pub fleet: &'a Fleet,
    pub plan: &'a Plan,
    pub typing: Typing,
    pub variants: &'a [Variant],
    pub mixed: bool,
}

impl Runner<'_> {
    /// Runs variant `v` at `rate` messages/s into step slot `index`.
    pub async fn step(&mut self, index: usize, label: String, rate: f64, v: usize) -> Step {
        let variant = self.mixed.then_some(self.variants[v]);
        let step = self.run(index, label, rate, variant).await;
        eprintln!(
            "{} step {}{}: {rate:.0} msg/s, delivered {:.0}/s, {:?}, {:?}",
            self.name,
            step.label,
            variant
                .map(|v| format!(" {}", v.name()))
                .unwrap_or_default(),
            step.achieved_per_sec,
            step.latency
                .get("delivery")
                .map(|l| (l.p50_ms, l.p99_ms, l.p999_ms)),
            step.counts
        );
        step
    }

    /// Whether a socket has closed: the sockets no longer measure anything.
    pub fn closed(&self) -> bool {
        self.state.closed.load(Ordering::Relaxed) > 0
    }

    async fn run(
        &mut self,
        index: usize,
        label: String,
        rate: f64,
        variant: Option<Variant>,
    ) -> Step {
        let (state, fleet, plan, typing) = (self.state, self.fleet, self.plan, &mut self.typing);
        let mixed = variant == Some(Variant::Mixed);
        state.current.store(index, Ordering::Relaxed);
        state.chatter.store(mixed && plan.reads, Ordering::Relaxed);
        let schedule = Schedule::new(
            Instant::now() + Duration::from_millis(5),
            rate,
            plan.ramp.duration,
        );
        let slots = Slots::new(schedule);
        let cpu_before = plan.cpu.sample();
        let mut expected = 0u64;
        let mut queue_full = 0u64;
        let mut sent = 0u64;
        let mut typing_sent = 0u64;
        let sockets = fleet.writers.len().max(1);
        while let Some((i, due)) = slots.claim() {
            pacing::wait_until(due).await;
            let now = Instant::now();
            let origin = pacing::origin(due, now);
            let micros = (origin - state.epoch).as_micros();
            let k = usize::try_from(i).unwrap_or(0) % sockets;
            let room = fleet.room_of(k);
            if mixed && plan.typing && typing.before_message(k, now) {
                let frame = format!(r#"{{"type":"typing","room":"{}"}}"#, fleet.rooms[room]);
                if fleet.writers[k].try_send(Message::text(frame)).is_ok() {
                    typing_sent += 1;
                }
            }
            let frame = format!(r#"{{"message":"{MARKER}{index}|{i}|{micros}"}}"#);
            match fleet.writers[k].try_send(Message::text(frame)) {
                Ok(()) => {
                    sent += 1;
                    expected += fleet.members[room];
                }
                Err(_) => queue_full += 1,
            }
        }
        let sending_done = Instant::now();
        let step = &state.steps[index];
        let deadline = sending_done + plan.grace;
        while step.received.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let done = Instant::now();
        let cpu_used = cpu::used(&cpu_before, &plan.cpu.sample());
        if mixed {
            state.chatter.store(false, Ordering::Relaxed);
            settle_receipts(&step.reads_received).await;
        }
        let mut stats = step.stats.take();
        let received = step.received.load(Ordering::Relaxed);
        // A refused message (an error frame to its sender) is not delivered to anyone.
        let refused: u64 = stats
            .counts
            .iter()
            .filter(|(k, _)| k.starts_with("error_"))
            .map(|(_, v)| v)
            .sum();
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss
        )]
        let per_message = (expected as f64 / sent.max(1) as f64).round() as u64;
        let missing = expected
            .saturating_sub(refused * per_message)
            .saturating_sub(received);
        let out_of_order = stats.count("id_repeats") + stats.count("id_gaps");
        stats.add("messages_sent", sent);
        stats.add("expected", expected);
        stats.add("received", received);
        stats.add("missing", missing);
        if mixed {
            stats.add("typing_sent", typing_sent);
            stats.add("read_sent", step.reads_sent.load(Ordering::Relaxed));
        }
        // Counted in alone steps too: a receipt or typing frame there would be a
        // leftover of the step before.
        for (name, count) in [
            ("read_received", step.reads_received.load(Ordering::Relaxed)),
            (
                "typing_received",
                step.typing_received.load(Ordering::Relaxed),
            ),
        ] {
            if mixed || count > 0 {
                stats.add(name, count);
            }
        }
        for (name, us) in cpu_used {
            stats.add(&format!("{}{name}", cpu::STEP_PREFIX), us / 1000);
        }
        if queue_full > 0 {
            stats.add("client_queue_full", queue_full);
        }
        let closed = state.closed.load(Ordering::Relaxed);
        if closed > 0 {
            stats.add("sockets_closed", closed);
        }
        let elapsed = (done - schedule.start())
            .as_secs_f64()
            .max(plan.ramp.duration.as_secs_f64());
        #[allow(clippy::cast_precision_loss)]
        let achieved = received as f64 / elapsed;
        let p99 = stats
            .latency("delivery")
            .map_or(f64::INFINITY, |l| l.quantile_ms(0.99));
        #[allow(clippy::cast_precision_loss)]
        let offered = rate * (expected as f64 / sent.max(1) as f64);
        stats.add(
            "elapsed_ms",
            u64::try_from((done - schedule.start()).as_millis()).unwrap_or(u64::MAX),
        );
        Step {
            label,
            variant: variant.map(|v| v.name().to_owned()),
            offered_per_sec: offered.round(),
            achieved_per_sec: achieved.round(),
            unit: "deliveries".into(),
            latency: stats.summaries(),
            kept_up: p99 < plan.ramp.stop_p99_ms
                && missing == 0
                && out_of_order == 0
                && refused == 0
                && queue_full == 0
                && closed == 0,
            counts: stats.counts,
        }
    }
}

/// Waits until no receipt has come for [`RECEIPTS_QUIET`].
async fn settle_receipts(received: &std::sync::atomic::AtomicU64) {
    let start = Instant::now();
    let mut last = received.load(Ordering::Relaxed);
    let mut quiet_since = Instant::now();
    while start.elapsed() < RECEIPTS_SETTLE_MAX && quiet_since.elapsed() < RECEIPTS_QUIET {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = received.load(Ordering::Relaxed);
        if now != last {
            last = now;
            quiet_since = Instant::now();
        }
    }
}
