//! `chat-fanout`: sockets spread over the replicas and the rooms; open-loop
//! senders stepped up in offered load until p99 passes the limit. Every message
//! carries its step and scheduled time, so each delivery's latency is measured
//! from when the message should have been sent, and every member's deliveries are
//! counted against what was sent to its room; each socket also checks that its
//! room's ids arrive in order, each once, none skipped.
//!
//! With `--mixed` every step runs twice, back to back on the same sockets: the
//! messages alone, and the same messages with what real clients send beside
//! them (read markers for what they receive, typing before what they send;
//! `chatter.rs`), whose `read` and `typing` frames the replicas fan out to every
//! member. The order alternates (alone first, then mixed first at the next
//! rate), so a drift in the machine's other load does not favour either.
//!
//! - `step.rs`: one step's sending, waiting and accounting;
//! - `client.rs`: each socket's reader and writer tasks;
//! - `figures.rs`: the report's headline figures from its steps.

mod chatter;
mod client;
mod figures;
mod refine;
mod step;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use futures_util::StreamExt;
use tokio::{sync::mpsc, task::JoinSet, time::Instant};
use tokio_tungstenite::tungstenite::Message;

use super::Ramp;
use crate::{
    cli::{Common, FanoutArgs, MixedFrame},
    cpu::CpuWatch,
    net::Spread,
    report::Report,
    series::FIXED_RATES,
    stats::Shared,
    targets, ws,
};

const MARKER: &str = "lt|";

/// How a step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Messages only.
    Alone,
    /// Messages with read markers and typing, as real clients send them.
    Mixed,
}

impl Variant {
    pub fn name(self) -> &'static str {
        match self {
            Self::Alone => "alone",
            Self::Mixed => "mixed",
        }
    }
}

/// What one step's sockets saw.
#[derive(Default)]
struct StepState {
    stats: Shared,
    /// Message deliveries.
    received: AtomicU64,
    reads_received: AtomicU64,
    typing_received: AtomicU64,
    reads_sent: AtomicU64,
}

struct State {
    epoch: Instant,
    steps: Vec<StepState>,
    current: AtomicUsize,
    /// Whether the sockets send read markers now (a mixed step is running).
    chatter: AtomicBool,
    misc: Shared,
    /// Frames that are neither messages nor receipts nor typing (presence as
    /// the sockets join), counted to see when the joins have settled.
    other_frames: AtomicU64,
    closed: AtomicU64,
}

/// The open sockets, as the senders see them.
struct Fleet {
    writers: Vec<mpsc::Sender<Message>>,
    /// Sockets per room.
    members: Vec<u64>,
    rooms: Vec<Arc<str>>,
    replicas: usize,
}

impl Fleet {
    fn room_of(&self, k: usize) -> usize {
        room_of(k, self.replicas, self.rooms.len())
    }
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
    let variants: &[Variant] = if args.mixed {
        &[Variant::Alone, Variant::Mixed]
    } else {
        &[Variant::Alone]
    };
    let name = args.name.clone().unwrap_or_else(|| {
        if args.mixed {
            "chat-fanout-mixed".to_owned()
        } else {
            "chat-fanout".to_owned()
        }
    });
    let mut report = Report::new(&name);
    let ramp = Ramp::from_args(&args.ramp, defaults());
    ramp.describe(&mut report);
    report.setting("sockets", args.sockets);
    report.setting("rooms", args.rooms);
    report.setting("replicas", args.url.len());
    for (key, value) in &args.labels {
        report.setting(key, value);
    }
    if args.mixed {
        if args.mixed_frames.contains(&MixedFrame::Read) {
            report.setting("read_every_ms", chatter::READ_EVERY.as_millis());
        }
        if args.mixed_frames.contains(&MixedFrame::Typing) {
            report.setting("typing_every_ms", chatter::TYPING_EVERY.as_millis());
        }
    }
    let spread = Spread::new(&args.url, &common.source_addrs, common.allow_remote).await?;
    report.setting("source_addrs", spread.sources.len());
    let run = super::run_id(args.run_id.as_deref());
    let replicas = spread.endpoints.len();
    let rooms = args.rooms.max(1);
    let room_names: Vec<Arc<str>> = (0..rooms)
        .map(|r| Arc::from(format!("fan-{run}-{r}")))
        .collect();

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
        .map(|(k, token)| ws::path(Some(&room_names[room_of(k, replicas, rooms)]), token))
        .collect();
    let connecting = Instant::now();
    let sockets = super::open_sockets(&spread, paths, 64).await?;
    eprintln!(
        "{name}: {} sockets joined in {:.1} s",
        sockets.len(),
        connecting.elapsed().as_secs_f64()
    );

    let rates = ramp.rates();
    let state = Arc::new(State {
        epoch: Instant::now(),
        steps: (0..(rates.len() + refine::FINE_STEPS) * variants.len())
            .map(|_| StepState::default())
            .collect(),
        current: AtomicUsize::new(0),
        chatter: AtomicBool::new(false),
        misc: Shared::default(),
        other_frames: AtomicU64::new(0),
        closed: AtomicU64::new(0),
    });
    let mut fleet = Fleet {
        writers: Vec::with_capacity(sockets.len()),
        members: vec![0; rooms],
        rooms: room_names,
        replicas,
    };
    let mut tasks = JoinSet::new();
    for (k, socket) in sockets.into_iter().enumerate() {
        let room = fleet.room_of(k);
        fleet.members[room] += 1;
        let (sink, stream) = socket.split();
        let (tx, rx) = mpsc::channel::<Message>(1024);
        let member = client::Member {
            k,
            room: Arc::clone(&fleet.rooms[room]),
            writer: tx.clone(),
        };
        fleet.writers.push(tx);
        tasks.spawn(client::write_all(sink, rx));
        tasks.spawn(client::read_all(member, stream, Arc::clone(&state)));
    }

    let settled = settle(&state).await;
    eprintln!("{name}: joins settled in {:.1} s", settled.as_secs_f64());

    let mut cpu = CpuWatch {
        pids: args.cpu_pids.clone(),
        postgres_db: args.cpu_postgres_db.clone(),
    };
    cpu.pids.push(("loadtest".to_owned(), std::process::id()));
    let plan = step::Plan {
        ramp,
        grace: args.grace,
        cpu,
        reads: args.mixed_frames.contains(&MixedFrame::Read),
        typing: args.mixed_frames.contains(&MixedFrame::Typing),
    };
    let mut runner = step::Runner {
        name: &name,
        state: &state,
        fleet: &fleet,
        plan: &plan,
        typing: chatter::Typing::new(fleet.writers.len(), chatter::TYPING_EVERY),
        variants,
        mixed: args.mixed,
    };
    let mut kept_up: Vec<Vec<bool>> = vec![Vec::new(); variants.len()];
    let mut active = vec![true; variants.len()];
    for (n, rate) in rates.iter().copied().enumerate() {
        // ABBA: alternate which variant goes first.
        let mut order: Vec<usize> = (0..variants.len()).collect();
        if n % 2 == 1 {
            order.reverse();
        }
        for v in order {
            if !active[v] {
                continue;
            }
            let index = n * variants.len() + v;
            let step = runner.step(index, (n + 1).to_string(), rate, v).await;
            kept_up[v].push(step.kept_up);
            active[v] = !runner.closed() && goes_on(&kept_up[v], step.offered_per_sec);
            report.steps.push(step);
        }
        if !active.iter().any(|a| *a) {
            break;
        }
    }
    let first_free = rates.len() * variants.len();
    let fine = refine::climb(&mut runner, &rates, &kept_up, first_free).await;
    report.steps.extend(fine);
    drop(fleet);
    tasks.abort_all();

    figures::add(&mut report, args.mixed);
    let misc = state.misc.take();
    if !misc.counts.is_empty() {
        report.note(format!("socket events: {:?}", misc.counts));
    }
    report.note("offered and achieved are message deliveries per second (messages × room members, the sender's own copy included); latency counts from each message's scheduled send time to its arrival at each member");
    report.note("the ramp always reaches 40,000 deliveries/s, and past that goes on until two steps in a row did not keep up (p99 under 50 ms, none missing, ids in order): one step's tail on this shared machine is not the end of a run");
    report.note(format!(
        "then each variant climbs again from its knee (the highest step below the first one that did not keep up) in {n} steps of 1/{d} of the ramp's, numbered after the knee's (7.1, 7.2, …), until one does not keep up: the knee is known to 1/{d} of a step",
        n = refine::FINE_STEPS,
        d = refine::FINE_STEPS + 1
    ));
    if args.mixed {
        report.note(format!(
            "each rate runs twice on the same sockets, back to back, the order alternating: alone, and mixed (every socket marks what it received read, at most every {} ms; a sender sends typing before a message, at most once every {} s); read and typing frames are counted apart from the messages",
            chatter::READ_EVERY.as_millis(),
            chatter::TYPING_EVERY.as_secs()
        ));
    }
    report.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Whether a variant runs the next rate, after steps that kept up or not
/// (`kept_up`, the last one offered `offered` deliveries/s). Always up to the
/// fixed rates both variants are compared at; past them, until two steps in a
/// row did not keep up: on this shared machine one step's p99 is now and then
/// pushed past the limit by other work (a 10,000/s step with p99 366 ms
/// between two that kept up), which alone would end the run and leave the
/// comparison without its higher steps.
fn goes_on(kept_up: &[bool], offered: f64) -> bool {
    let highest_fixed = FIXED_RATES.iter().copied().fold(0.0, f64::max);
    match kept_up {
        [] => true,
        _ if offered < highest_fixed * 0.99 => true,
        [.., false, false] => false,
        _ => true,
    }
}

/// Waits until the joins' own traffic is over: every join announces the user's
/// presence to the room (100 users a room: about 5,000 presence frames per
/// room, 60,000 here), and the replicas write the memberships. Measured steps
/// start once no such frame came for half a second, or after 10 s at most, so
/// the first step (alone, in a mixed run) is not charged with them.
async fn settle(state: &State) -> Duration {
    let started = Instant::now();
    let mut last = state.other_frames.load(Ordering::Relaxed);
    let mut quiet = 0;
    while quiet < 2 && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = state.other_frames.load(Ordering::Relaxed);
        quiet = if now == last { quiet + 1 } else { 0 };
        last = now;
    }
    started.elapsed()
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
    fn a_variant_stops_after_two_misses_in_a_row_once_past_the_fixed_rates() {
        assert!(goes_on(&[], 0.0));
        assert!(
            goes_on(&[false, false], 30_000.0),
            "below 40,000/s it goes on"
        );
        assert!(goes_on(&[true, false], 50_000.0), "one miss may be noise");
        assert!(goes_on(&[false, true], 50_000.0));
        assert!(!goes_on(&[true, false, false], 50_000.0));
        assert!(!goes_on(&[false, false], 40_000.0));
    }

    #[test]
    fn message_bodies_carry_step_and_time() {
        assert_eq!(parse_body("lt|3|991|1234567"), Some((3, 1_234_567)));
        assert_eq!(parse_body("st|3|991|1"), None);
        assert_eq!(parse_body("lt|x|1|2"), None);
    }
}
