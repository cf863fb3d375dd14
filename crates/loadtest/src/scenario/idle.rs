//! `chat-idle`: as many idle authenticated sockets on one replica as the file
//! limit allows; the server's resident memory (VmRSS) before and after gives the
//! cost of one idle socket.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::Context;
use futures_util::{StreamExt, stream};
use tokio::{task::JoinSet, time::Instant};

use crate::{
    cli::{Common, IdleArgs},
    net::Spread,
    procfs,
    report::Report,
    targets,
    ws::{self, Socket},
};

/// File descriptors this process keeps for everything but the sockets.
const SPARE_FDS: u64 = 200;

pub async fn run(common: &Common, args: &IdleArgs) -> anyhow::Result<Report> {
    let started = Instant::now();
    let mut report = Report::new("chat-idle");
    let limit = procfs::open_files_limit().unwrap_or(1024);
    let fit = usize::try_from(limit.saturating_sub(SPARE_FDS)).unwrap_or(usize::MAX);
    let wanted = args.sockets.unwrap_or(fit);
    let sockets = wanted.min(fit);
    if sockets < wanted {
        report.note(format!(
            "{wanted} sockets asked for, {sockets} fit under this process's file limit ({limit})"
        ));
    }
    report.setting("sockets", sockets);
    report.setting("open_files_limit", limit);
    report.setting("concurrency", args.concurrency);
    let spread = Spread::new(
        std::slice::from_ref(&args.url),
        &common.source_addrs,
        common.allow_remote,
    )
    .await?;
    report.setting("source_addrs", spread.sources.len());
    let run = super::run_id(args.run_id.as_deref());
    let tokens = super::obtain_tokens(&args.tokens, common, sockets, &run).await?;

    tokio::time::sleep(args.settle).await;
    let empty = match args.server_pid {
        Some(pid) => Some(procfs::rss_kib(pid)?),
        None => None,
    };

    let failures = Arc::new(AtomicU64::new(0));
    let closed = Arc::new(AtomicU64::new(0));
    let mut held = JoinSet::new();
    let connecting = Instant::now();
    let mut opened = stream::iter(tokens.iter().enumerate())
        .map(|(k, token)| {
            let (endpoint, source) = spread.pick(k);
            let endpoint = endpoint.clone();
            let path = ws::path(None, token);
            async move { ws::connect(source, &endpoint, &path, Duration::from_secs(60)).await }
        })
        .buffer_unordered(args.concurrency.max(1));
    let mut connected = 0u64;
    let mut first_error = None;
    while let Some(result) = opened.next().await {
        match result {
            Ok(socket) => {
                connected += 1;
                held.spawn(hold(socket, Arc::clone(&closed)));
            }
            Err(e) => {
                failures.fetch_add(1, Ordering::Relaxed);
                first_error.get_or_insert_with(|| format!("{e:#}"));
            }
        }
    }
    let connect_secs = connecting.elapsed().as_secs_f64();
    drop(opened);
    eprintln!("chat-idle: {connected} sockets joined in {connect_secs:.1} s");

    tokio::time::sleep(args.settle).await;
    let full = match args.server_pid {
        Some(pid) => Some(procfs::rss_kib(pid).context("server RSS with the sockets open")?),
        None => None,
    };
    let still_open = connected - closed.load(Ordering::Relaxed);

    #[allow(clippy::cast_precision_loss)]
    {
        report.figure(
            "idle sockets held",
            still_open as f64,
            "sockets",
            Some(targets::IDLE_SOCKETS),
        );
        report.figure(
            "connect rate (handshake, token check, joined)",
            (connected as f64 / connect_secs).round(),
            "per s",
            None,
        );
        if let (Some(empty), Some(full)) = (empty, full) {
            let per_socket = full.saturating_sub(empty) as f64 / still_open.max(1) as f64;
            report.figure(
                "server memory per idle socket",
                (per_socket * 100.0).round() / 100.0,
                "KiB",
                Some(targets::IDLE_KIB_PER_SOCKET),
            );
            report.figure(
                "server RSS, no sockets",
                (empty as f64 / 1024.0 * 10.0).round() / 10.0,
                "MiB",
                None,
            );
            report.figure(
                "server RSS, sockets open",
                (full as f64 / 1024.0 * 10.0).round() / 10.0,
                "MiB",
                None,
            );
        } else {
            report.note("no --server-pid: server memory not measured");
        }
    }
    let failed = failures.load(Ordering::Relaxed);
    if failed > 0 {
        report.note(format!(
            "{failed} sockets failed to connect; first error: {}",
            first_error.unwrap_or_default()
        ));
    }
    held.abort_all();
    report.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Keeps a socket open, answering the server's pings, until aborted.
async fn hold(mut socket: Socket, closed: Arc<AtomicU64>) {
    loop {
        match socket.next().await {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_)) | Err(_)) | None => break,
            Some(Ok(_)) => {}
        }
    }
    closed.fetch_add(1, Ordering::Relaxed);
}
