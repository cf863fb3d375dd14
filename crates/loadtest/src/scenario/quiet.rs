//! `chat-quiet`: the delivery latency to an idle socket on the other replica.
//! A busy socket's frames ride behind each other, so fan-out throughput hides
//! what one lone frame costs: before `TCP_NODELAY`, a message to a socket whose
//! last server frame was a pong waited for the client's delayed ACK, about
//! 40 ms on the other replica instead of 3 (issue 9). Each pair here is a
//! sender on one replica and a receiver on the other, alone in their room; the
//! receiver pings and reads its pong (so the server's last frame to it is a
//! pong), stays idle for a while, and the sender's message is timed from its
//! send to its arrival on the receiver.

use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use futures_util::{SinkExt, StreamExt};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::{
    cli::{Common, TokenArgs, duration},
    hist::Latency,
    net::Spread,
    report::{Report, Target},
    ws::{self, Socket},
};

#[derive(Debug, Clone, Args)]
pub struct QuietArgs {
    /// Two chat replicas' base URLs: senders on the first, receivers on the second.
    #[arg(long, value_delimiter = ',', required = true)]
    pub url: Vec<String>,
    /// Sender/receiver pairs, each in a room of its own, run at once.
    #[arg(long, default_value_t = 20)]
    pub pairs: usize,
    /// Messages each pair times.
    #[arg(long, default_value_t = 40)]
    pub messages: usize,
    /// Shortest and longest idle time before a message (uniform in between).
    #[arg(long, default_value = "100ms", value_parser = duration)]
    pub idle_min: Duration,
    #[arg(long, default_value = "600ms", value_parser = duration)]
    pub idle_max: Duration,
    #[command(flatten)]
    pub tokens: TokenArgs,
    /// Label for this run's names (default: random).
    #[arg(long)]
    pub run_id: Option<String>,
}

/// How long one frame may take before the run counts it lost.
const FRAME_TIMEOUT: Duration = Duration::from_secs(5);
/// The latency a lone message to an idle socket should stay under: far below
/// a delayed ACK (40 ms), which is what this scenario exists to catch.
const QUIET_P99_MS: Target = Target::below(20.0);

const MARKER: &str = "quiet|";

pub async fn run(common: &Common, args: &QuietArgs) -> anyhow::Result<Report> {
    let started = Instant::now();
    let mut report = Report::new("chat-quiet");
    report.setting("pairs", args.pairs);
    report.setting("messages_per_pair", args.messages);
    report.setting(
        "idle_ms",
        format!(
            "{}–{}",
            args.idle_min.as_millis(),
            args.idle_max.as_millis()
        ),
    );
    if args.url.len() != 2 {
        bail!("--url takes two replicas, comma-separated (senders', receivers')");
    }
    let spread = Spread::new(&args.url, &common.source_addrs, common.allow_remote).await?;
    let run = super::run_id(args.run_id.as_deref());
    let tokens = super::obtain_tokens(&args.tokens, common, 2 * args.pairs, &run).await?;
    let (senders, receivers) = (&spread.endpoints[0], &spread.endpoints[1]);
    let source = spread.sources[0];
    let mut pairs = tokio::task::JoinSet::new();
    for i in 0..args.pairs {
        let room = format!("quiet-{run}-{i}");
        let sender = ws::connect(
            source,
            senders,
            &ws::path(Some(&room), &tokens[2 * i]),
            FRAME_TIMEOUT,
        )
        .await
        .context("sender")?;
        let receiver = ws::connect(
            source,
            receivers,
            &ws::path(Some(&room), &tokens[2 * i + 1]),
            FRAME_TIMEOUT,
        )
        .await
        .context("receiver")?;
        pairs.spawn(time_pair(i, sender, receiver, args.clone()));
    }
    let mut latency = Latency::new();
    let mut lost = 0u64;
    let mut out_of_order = 0u64;
    while let Some(done) = pairs.join_next().await {
        let pair = done.context("a pair's task")??;
        latency.merge(&pair.latency);
        lost += pair.lost;
        out_of_order += pair.out_of_order;
    }
    let summary = latency.summary();
    #[allow(clippy::cast_precision_loss)]
    {
        report.figure("messages timed", latency.count() as f64, "messages", None);
        report.figure(
            "delivery to an idle socket on the other replica, p50",
            summary.p50_ms,
            "ms",
            None,
        );
        report.figure(
            "delivery to an idle socket on the other replica, p99",
            summary.p99_ms,
            "ms",
            Some(QUIET_P99_MS),
        );
        report.figure(
            "delivery to an idle socket on the other replica, max",
            summary.max_ms,
            "ms",
            None,
        );
        report.figure(
            "messages lost",
            lost as f64,
            "messages",
            Some(crate::targets::NONE_MISSING),
        );
        report.figure(
            "ids out of order on a receiver",
            out_of_order as f64,
            "messages",
            Some(crate::targets::NONE_MISSING),
        );
    }
    report.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(report)
}

#[derive(Debug, Default)]
struct PairResult {
    latency: Latency,
    lost: u64,
    out_of_order: u64,
}

async fn time_pair(
    pair: usize,
    mut sender: Socket,
    mut receiver: Socket,
    args: QuietArgs,
) -> anyhow::Result<PairResult> {
    let mut result = PairResult::default();
    let mut last_id = 0;
    for n in 0..args.messages {
        receiver.send(Message::text(r#"{"type":"ping"}"#)).await?;
        if next_of(&mut receiver, |f| ws::is_type(f, "pong"))
            .await?
            .is_none()
        {
            bail!("no pong within {FRAME_TIMEOUT:?}");
        }
        let idle = idle_time(&args, pair, n);
        tokio::time::sleep(idle).await;
        let body = format!("{MARKER}{n}");
        let sent = Instant::now();
        sender
            .send(Message::text(format!(r#"{{"message":"{body}"}}"#)))
            .await?;
        let arrived = next_of(&mut receiver, |f| {
            ws::body_with_marker(f, MARKER) == Some(body.as_str())
        })
        .await?;
        match arrived {
            Some(frame) => {
                result.latency.record(sent.elapsed());
                let id = ws::message_id(&frame).unwrap_or_default();
                if id <= last_id {
                    result.out_of_order += 1;
                }
                last_id = id;
            }
            None => result.lost += 1,
        }
        // The sender's own echo, so its socket never backs up.
        next_of(&mut sender, |f| {
            ws::body_with_marker(f, MARKER) == Some(body.as_str())
        })
        .await?;
    }
    Ok(result)
}

/// An idle time spread over `[idle_min, idle_max]`, different per pair and
/// message (a fixed sequence, so runs repeat), so that no two pairs keep step.
fn idle_time(args: &QuietArgs, pair: usize, n: usize) -> Duration {
    let span = args.idle_max.saturating_sub(args.idle_min);
    let step = (pair * 7919 + n * 104_729) % 1000;
    args.idle_min + span.mul_f64(step as f64 / 1000.0)
}

/// The next text frame `wanted` accepts, skipping others; `None` on timeout.
async fn next_of(
    socket: &mut Socket,
    wanted: impl Fn(&str) -> bool,
) -> anyhow::Result<Option<String>> {
    let deadline = Instant::now() + FRAME_TIMEOUT;
    loop {
        let Ok(frame) = tokio::time::timeout_at(deadline, socket.next()).await else {
            return Ok(None);
        };
        match frame {
            Some(Ok(Message::Text(text))) if wanted(&text) => return Ok(Some(text.to_string())),
            Some(Ok(Message::Close(frame))) => bail!("closed: {frame:?}"),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => bail!("socket ended"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        quiet: QuietArgs,
    }

    #[test]
    fn idle_times_stay_in_range_and_differ_between_pairs() {
        let args = Cli::parse_from(["x", "--url", "ws://a,ws://b"]).quiet;
        assert_eq!(args.url.len(), 2);
        let times: Vec<Duration> = (0..4).map(|pair| idle_time(&args, pair, 3)).collect();
        for t in &times {
            assert!((args.idle_min..=args.idle_max).contains(t), "{t:?}");
        }
        assert!(times.windows(2).all(|w| w[0] != w[1]), "{times:?}");
    }
}
