//! `chat-fanout`: sockets spread over the replicas and the rooms; open-loop
//! senders stepped up in offered load until p99 passes the limit. Every message
//! carries its step and scheduled time, so each delivery's latency is measured
//! from when the message should have been sent, and every member's deliveries are
//! counted against what was sent to its room.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use futures_util::{SinkExt, StreamExt, stream::SplitStream};
use tokio::{sync::mpsc, task::JoinSet, time::Instant};
use tokio_tungstenite::tungstenite::Message;

use super::Ramp;
use crate::{
    cli::{Common, FanoutArgs},
    net::Spread,
    pacing::{self, Schedule, Slots},
    report::{Report, Step},
    stats::Shared,
    targets,
    ws::{self, Socket},
};

const MARKER: &str = "lt|";

struct StepState {
    stats: Shared,
    received: AtomicU64,
}

struct State {
    epoch: Instant,
    steps: Vec<StepState>,
    current: AtomicUsize,
    misc: Shared,
    closed: AtomicU64,
}

fn defaults() -> Ramp {
    Ramp {
        rate: 100.0,
        step: 100.0,
        max_rate: 6000.0,
        duration: Duration::from_secs(5),
        stop_p99_ms: targets::FANOUT_P99_MS.value,
    }
}

/// The room of socket `k`: consecutive sockets go to different replicas first, so
/// every room has members on every replica.
fn room_of(k: usize, replicas: usize, rooms: usize) -> usize {
    (k / replicas.max(1)) % rooms.max(1)
}

/// `lt|step|seq|micros` → (step, scheduled micros since the run's epoch).
fn parse_body(body: &str) -> Option<(usize, u64)> {
    let mut parts = body.strip_prefix(MARKER)?.split('|');
    let step = parts.next()?.parse().ok()?;
    let _seq = parts.next()?;
    let micros = parts.next()?.parse().ok()?;
    Some((step, micros))
}

pub async fn run(common: &Common, args: &FanoutArgs) -> anyhow::Result<Report> {
    let started = Instant::now();
    let mut report = Report::new("chat-fanout");
    let ramp = Ramp::from_args(&args.ramp, defaults());
    ramp.describe(&mut report);
    report.setting("sockets", args.sockets);
    report.setting("rooms", args.rooms);
    report.setting("replicas", args.url.len());
    let spread = Spread::new(&args.url, &common.source_addrs, common.allow_remote).await?;
    report.setting("source_addrs", spread.sources.len());
    let run = super::run_id(args.run_id.as_deref());
    let replicas = spread.endpoints.len();
    let rooms = args.rooms.max(1);

    let tokens = super::obtain_tokens(&args.tokens, common, args.sockets, &run).await?;
    report.setting(
        "tokens",
        if args.tokens.login_url.is_some() {
            "login"
        } else {
            "minted"
        },
    );
    let paths = tokens
        .iter()
        .enumerate()
        .map(|(k, token)| {
            ws::path(
                Some(&format!("fan-{run}-{}", room_of(k, replicas, rooms))),
                token,
            )
        })
        .collect();
    let connecting = Instant::now();
    let sockets = super::open_sockets(&spread, paths, 64).await?;
    eprintln!(
        "chat-fanout: {} sockets joined in {:.1} s",
        sockets.len(),
        connecting.elapsed().as_secs_f64()
    );

    let rates = ramp.rates();
    let state = Arc::new(State {
        epoch: Instant::now(),
        steps: (0..rates.len())
            .map(|_| StepState {
                stats: Shared::default(),
                received: AtomicU64::new(0),
            })
            .collect(),
        current: AtomicUsize::new(0),
        misc: Shared::default(),
        closed: AtomicU64::new(0),
    });
    let mut members = vec![0u64; rooms];
    let mut writers = Vec::with_capacity(sockets.len());
    let mut tasks = JoinSet::new();
    for (k, socket) in sockets.into_iter().enumerate() {
        members[room_of(k, replicas, rooms)] += 1;
        let (sink, stream) = socket.split();
        let (tx, rx) = mpsc::channel::<Message>(1024);
        writers.push(tx);
        tasks.spawn(write_all(sink, rx));
        tasks.spawn(read_all(k, stream, Arc::clone(&state)));
    }

    let mut best: Option<Step> = None;
    let mut missing_total = 0u64;
    for (n, rate) in rates.iter().copied().enumerate() {
        state.current.store(n, Ordering::Relaxed);
        let step = run_step(
            &state, n, rate, &ramp, args.grace, &writers, &members, replicas, rooms,
        )
        .await;
        eprintln!(
            "chat-fanout step {}: {:.0} msg/s, delivered {:.0}/s, {:?}, {:?}",
            n + 1,
            rate,
            step.achieved_per_sec,
            step.latency
                .get("delivery")
                .map(|l| (l.p50_ms, l.p99_ms, l.p999_ms)),
            step.counts
        );
        missing_total += step.counts.get("missing").copied().unwrap_or(0);
        let kept_up = step.kept_up;
        if kept_up
            && best
                .as_ref()
                .is_none_or(|b| step.achieved_per_sec > b.achieved_per_sec)
        {
            best = Some(step.clone());
        }
        report.steps.push(step);
        if !kept_up {
            break;
        }
    }
    drop(writers);
    tasks.abort_all();

    let shown = best.clone().or_else(|| report.steps.first().cloned());
    if let Some(step) = &shown {
        let rate = if best.is_some() {
            step.achieved_per_sec
        } else {
            0.0
        };
        report.figure(
            "deliveries/s (highest step with p99 < 50 ms, none missing)",
            rate,
            "per s",
            Some(targets::FANOUT_DELIVERIES_PER_SEC),
        );
        if let Some(l) = step.latency.get("delivery") {
            report.figure("delivery p50 at that step", l.p50_ms, "ms", None);
            report.figure(
                "delivery p99 at that step",
                l.p99_ms,
                "ms",
                Some(targets::FANOUT_P99_MS),
            );
            report.figure("delivery p99.9 at that step", l.p999_ms, "ms", None);
        }
        #[allow(clippy::cast_precision_loss)]
        let missing = step.counts.get("missing").copied().unwrap_or(0) as f64;
        report.figure(
            "missing deliveries at that step",
            missing,
            "deliveries",
            Some(targets::NONE_MISSING),
        );
    }
    #[allow(clippy::cast_precision_loss)]
    report.figure(
        "missing deliveries, all steps",
        missing_total as f64,
        "deliveries",
        None,
    );
    let misc = state.misc.take();
    if !misc.counts.is_empty() {
        report.note(format!("socket events: {:?}", misc.counts));
    }
    report.note("offered and achieved are deliveries per second (messages × room members, the sender's own copy included); latency counts from each message's scheduled send time to its arrival at each member");
    report.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
async fn run_step(
    state: &Arc<State>,
    n: usize,
    rate: f64,
    ramp: &Ramp,
    grace: Duration,
    writers: &[mpsc::Sender<Message>],
    members: &[u64],
    replicas: usize,
    rooms: usize,
) -> Step {
    let schedule = Schedule::new(
        Instant::now() + Duration::from_millis(5),
        rate,
        ramp.duration,
    );
    let slots = Slots::new(schedule);
    let mut expected = 0u64;
    let mut queue_full = 0u64;
    let mut sent = 0u64;
    let sockets = writers.len().max(1);
    while let Some((i, due)) = slots.claim() {
        pacing::wait_until(due).await;
        let origin = pacing::origin(due, Instant::now());
        let micros = (origin - state.epoch).as_micros();
        let k = usize::try_from(i).unwrap_or(0) % sockets;
        let frame = format!(r#"{{"message":"{MARKER}{n}|{i}|{micros}"}}"#);
        match writers[k].try_send(Message::text(frame)) {
            Ok(()) => {
                sent += 1;
                expected += members[room_of(k, replicas, rooms)];
            }
            Err(_) => queue_full += 1,
        }
    }
    let sending_done = Instant::now();
    let step = &state.steps[n];
    let deadline = sending_done + grace;
    while step.received.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let done = Instant::now();
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
    stats.add("messages_sent", sent);
    stats.add("expected", expected);
    stats.add("received", received);
    stats.add("missing", missing);
    if queue_full > 0 {
        stats.add("client_queue_full", queue_full);
    }
    let closed = state.closed.load(Ordering::Relaxed);
    if closed > 0 {
        stats.add("sockets_closed", closed);
    }
    let elapsed = (done - schedule.start())
        .as_secs_f64()
        .max(ramp.duration.as_secs_f64());
    #[allow(clippy::cast_precision_loss)]
    let achieved = received as f64 / elapsed;
    let p99 = stats
        .latency("delivery")
        .map_or(f64::INFINITY, |l| l.quantile_ms(0.99));
    #[allow(clippy::cast_precision_loss)]
    let offered = rate * (expected as f64 / sent.max(1) as f64);
    Step {
        label: (n + 1).to_string(),
        offered_per_sec: offered.round(),
        achieved_per_sec: achieved.round(),
        unit: "deliveries".into(),
        latency: stats.summaries(),
        kept_up: p99 < ramp.stop_p99_ms
            && missing == 0
            && refused == 0
            && queue_full == 0
            && closed == 0,
        counts: stats.counts,
    }
}

async fn write_all(
    mut sink: futures_util::stream::SplitSink<Socket, Message>,
    mut rx: mpsc::Receiver<Message>,
) {
    while let Some(message) = rx.recv().await {
        if sink.feed(message).await.is_err() {
            return;
        }
        while let Ok(message) = rx.try_recv() {
            if sink.feed(message).await.is_err() {
                return;
            }
        }
        if sink.flush().await.is_err() {
            return;
        }
    }
}

async fn read_all(k: usize, mut stream: SplitStream<Socket>, state: Arc<State>) {
    while let Some(frame) = stream.next().await {
        match frame {
            Ok(Message::Text(text)) => {
                let now = Instant::now();
                if let Some((step, micros)) =
                    ws::body_with_marker(&text, MARKER).and_then(parse_body)
                {
                    let Some(step_state) = state.steps.get(step) else {
                        continue;
                    };
                    let latency = (now - state.epoch).saturating_sub(Duration::from_micros(micros));
                    step_state.stats.with(k, |s| s.record("delivery", latency));
                    step_state.received.fetch_add(1, Ordering::Relaxed);
                } else if let Some(code) = ws::error_code(&text) {
                    let step = state.current.load(Ordering::Relaxed);
                    if let Some(step_state) = state.steps.get(step) {
                        step_state
                            .stats
                            .with(k, |s| s.add(&format!("error_{code}"), 1));
                    }
                }
            }
            Ok(Message::Close(frame)) => {
                let code =
                    frame.map_or_else(|| "none".to_owned(), |f| u16::from(f.code).to_string());
                state.misc.with(k, |s| s.add(&format!("closed_{code}"), 1));
                break;
            }
            Ok(_) => {}
            Err(_) => {
                state.misc.with(k, |s| s.add("socket_error", 1));
                break;
            }
        }
    }
    state.closed.fetch_add(1, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_room_spans_every_replica() {
        let (replicas, rooms) = (2, 10);
        for room in 0..rooms {
            let on: std::collections::BTreeSet<usize> = (0..1000)
                .filter(|k| room_of(*k, replicas, rooms) == room)
                .map(|k| k % replicas)
                .collect();
            assert_eq!(on.len(), replicas, "room {room}");
        }
        let sizes: Vec<usize> = (0..rooms)
            .map(|r| (0..1000).filter(|k| room_of(*k, 2, 10) == r).count())
            .collect();
        assert!(sizes.iter().all(|s| *s == 100), "{sizes:?}");
    }

    #[test]
    fn message_bodies_carry_step_and_time() {
        assert_eq!(parse_body("lt|3|991|1234567"), Some((3, 1_234_567)));
        assert_eq!(parse_body("st|3|991|1"), None);
        assert_eq!(parse_body("lt|x|1|2"), None);
    }
}
