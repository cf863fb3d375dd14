//! `chat-store`: senders alone in their rooms, each keeping a window of messages
//! in flight, as fast as the service stores them. A message's echo comes only
//! after it is committed, so acknowledged messages are counted against a
//! `count(*)` afterwards, and a sample of them is read back the moment the echo
//! arrives (it must already be in the table). The mean INSERT batch comes from the
//! replicas' `chat_store_batch_size` histograms.

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use tokio::{task::JoinSet, time::Instant};
use tokio_tungstenite::tungstenite::Message;

use crate::{
    cli::{Common, StoreArgs},
    metrics,
    net::{Endpoint, Spread},
    report::Report,
    stats::Shared,
    targets,
    ws::{self, Socket},
};

const MARKER: &str = "st|";

struct State {
    epoch: Instant,
    end: Instant,
    window: usize,
    acked: AtomicU64,
    stats: Shared,
    check_every: u64,
    db: Option<Arc<tokio_postgres::Client>>,
    checked: AtomicU64,
    absent: AtomicU64,
}

pub async fn run(common: &Common, args: &StoreArgs) -> anyhow::Result<Report> {
    let started = Instant::now();
    let mut report = Report::new("chat-store");
    report.setting("senders", args.senders);
    report.setting("window", args.window);
    report.setting("duration_s", args.duration.as_secs_f64());
    report.setting("replicas", args.url.len());
    let spread = Spread::new(&args.url, &common.source_addrs, common.allow_remote).await?;
    let run = super::run_id(args.run_id.as_deref());
    let prefix = format!("st-{run}-");

    let db = match &args.database_url {
        Some(url) => {
            Endpoint::resolve(url, common.allow_remote).await?;
            Some(Arc::new(connect_db(url).await?))
        }
        None => None,
    };
    let tokens = super::obtain_tokens(&args.tokens, common, args.senders, &run).await?;
    let paths = tokens
        .iter()
        .enumerate()
        .map(|(k, token)| ws::path(Some(&format!("{prefix}{k}")), token))
        .collect();
    let sockets = super::open_sockets(&spread, paths, 64).await?;
    let before = scrape_all(&spread).await;

    let epoch = Instant::now();
    let state = Arc::new(State {
        epoch,
        end: epoch + args.duration,
        window: args.window.max(1),
        acked: AtomicU64::new(0),
        stats: Shared::default(),
        check_every: args.check_every.max(1),
        db: db.clone(),
        checked: AtomicU64::new(0),
        absent: AtomicU64::new(0),
    });
    let mut tasks = JoinSet::new();
    for (k, socket) in sockets.into_iter().enumerate() {
        tasks.spawn(sender(k, socket, Arc::clone(&state)));
    }
    let drain = args.duration + Duration::from_secs(10);
    let all_done =
        tokio::time::timeout(drain, async { while tasks.join_next().await.is_some() {} }).await;
    let unfinished = tasks.len();
    tasks.abort_all();
    let elapsed = epoch.elapsed().as_secs_f64();
    let after = scrape_all(&spread).await;
    let acked = state.acked.load(Ordering::Relaxed);
    let stats = state.stats.take();
    let checks_result = db.is_some().then(|| {
        (
            state.checked.load(Ordering::Relaxed),
            state.absent.load(Ordering::Relaxed),
        )
    });

    #[allow(clippy::cast_precision_loss)]
    let rate = acked as f64 / elapsed;
    report.figure(
        "messages stored/s (acknowledged)",
        rate.round(),
        "per s",
        Some(targets::STORE_PER_SEC),
    );
    if let Some(l) = stats.latency("echo") {
        let s = l.summary();
        report.figure("send → own echo p50", s.p50_ms, "ms", None);
        report.figure("send → own echo p99", s.p99_ms, "ms", None);
    }
    if let Some(db) = &db {
        let rows = count_rows(db, &prefix).await?;
        #[allow(clippy::cast_precision_loss)]
        {
            report.figure("rows counted afterwards", rows as f64, "rows", None);
            report.figure(
                "acknowledged messages missing from the table",
                acked.saturating_sub(rows) as f64,
                "messages",
                Some(targets::NONE_MISSING),
            );
        }
        if rows > acked {
            report.note(format!(
                "{} rows were stored without their echo arriving before the end (in flight when the run stopped)",
                rows - acked
            ));
        }
    } else {
        report.note("no --database-url: stored rows were not counted");
    }
    if let Some((checked, absent)) = checks_result {
        #[allow(clippy::cast_precision_loss)]
        report.figure(
            "echoed messages not yet stored when read back",
            absent as f64,
            "messages",
            Some(targets::NONE_MISSING),
        );
        report.note(format!(
            "{checked} echoed messages were read back from PostgreSQL the moment their echo arrived"
        ));
    }
    match (before, after) {
        (Ok(b), Ok(a)) => {
            let sum = a.get("chat_store_batch_size_sum").copied().unwrap_or(0.0)
                - b.get("chat_store_batch_size_sum").copied().unwrap_or(0.0);
            let count = a.get("chat_store_batch_size_count").copied().unwrap_or(0.0)
                - b.get("chat_store_batch_size_count").copied().unwrap_or(0.0);
            if count > 0.0 {
                report.figure(
                    "mean INSERT batch",
                    (sum / count * 10.0).round() / 10.0,
                    "messages",
                    None,
                );
                report.figure("INSERT batches/s", (count / elapsed).round(), "per s", None);
            }
        }
        (Err(e), _) | (_, Err(e)) => report.note(format!("metrics not read: {e:#}")),
    }
    let mut counts: BTreeMap<String, u64> = stats.counts;
    counts.insert("acknowledged".into(), acked);
    if all_done.is_err() {
        counts.insert("senders_unfinished".into(), unfinished as u64);
    }
    report.note(format!("counts: {counts:?}"));
    report.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(report)
}

async fn sender(k: usize, mut socket: Socket, state: Arc<State>) {
    let mut seq = 0u64;
    let mut in_flight = 0usize;
    let send = |seq: u64| {
        let micros = state.epoch.elapsed().as_micros();
        Message::text(format!(r#"{{"message":"{MARKER}{k}|{seq}|{micros}"}}"#))
    };
    while in_flight < state.window {
        if socket.feed(send(seq)).await.is_err() {
            return;
        }
        seq += 1;
        in_flight += 1;
    }
    if socket.flush().await.is_err() {
        return;
    }
    while in_flight > 0 {
        let Some(Ok(frame)) = socket.next().await else {
            state.stats.with(k, |s| s.add("socket_closed", 1));
            return;
        };
        let Message::Text(text) = frame else { continue };
        let now = Instant::now();
        if let Some(body) = ws::body_with_marker(&text, MARKER) {
            let micros = body
                .rsplit('|')
                .next()
                .and_then(|m| m.parse::<u64>().ok())
                .unwrap_or(0);
            let latency = (now - state.epoch).saturating_sub(Duration::from_micros(micros));
            state.stats.with(k, |s| s.record("echo", latency));
            let n = state.acked.fetch_add(1, Ordering::Relaxed);
            if n.is_multiple_of(state.check_every)
                && let (Some(db), Some(id), Some(room)) =
                    (&state.db, ws::message_id(&text), ws::room(&text))
            {
                read_back(db, room, id, &state).await;
            }
        } else if let Some(code) = ws::error_code(&text) {
            state.stats.with(k, |s| s.add(&format!("error_{code}"), 1));
            tokio::time::sleep(Duration::from_millis(5)).await;
        } else {
            continue;
        }
        in_flight -= 1;
        if now < state.end {
            if socket.send(send(seq)).await.is_err() {
                return;
            }
            seq += 1;
            in_flight += 1;
        }
    }
}

async fn connect_db(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .context("connecting to --database-url")?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

async fn count_rows(db: &tokio_postgres::Client, prefix: &str) -> anyhow::Result<u64> {
    let row = db
        .query_one(
            "SELECT count(*) FROM messages WHERE room LIKE $1",
            &[&format!("{prefix}%")],
        )
        .await
        .context("counting stored messages")?;
    let n: i64 = row.get(0);
    u64::try_from(n).context("negative count")
}

/// Reads one echoed message back at once: the echo came after the commit, so the
/// row must be there.
async fn read_back(db: &tokio_postgres::Client, room: &str, id: i64, state: &State) {
    let found = db
        .query_one(
            "SELECT count(*) FROM messages WHERE room = $1 AND id = $2",
            &[&room, &id],
        )
        .await;
    if let Ok(row) = found {
        state.checked.fetch_add(1, Ordering::Relaxed);
        if row.get::<_, i64>(0) != 1 {
            state.absent.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The replicas' metrics, summed.
async fn scrape_all(spread: &Spread) -> anyhow::Result<BTreeMap<String, f64>> {
    let mut total = BTreeMap::new();
    for endpoint in spread.endpoints.iter() {
        let m = metrics::scrape(endpoint).await?;
        for (k, v) in m {
            *total.entry(k).or_insert(0.0) += v;
        }
    }
    if total.is_empty() {
        bail!("no metrics");
    }
    Ok(total)
}
