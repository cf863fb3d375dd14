//! The project's load tool: speaks the public contract over real sockets, paces
//! load open-loop (latency counts from the scheduled send time, so queueing is
//! never hidden), records HDR histograms, and writes JSON reports that
//! `loadtest summarize` turns into the results table and plot.
//!
//! - [`pacing`], [`hist`], [`stats`]: schedules and measurements, free of I/O.
//! - [`net`], [`http`], [`ws`], [`smtp`]: loopback-only sockets, spread over
//!   replicas and source addresses; the built-in SMTP receiver.
//! - [`tokens`]: access tokens, minted with the development key or obtained
//!   through the real verification flow.
//! - [`cpu`], [`procfs`], [`metrics`]: what the watched processes used.
//! - [`scenario`]: the benchmark scenarios; [`report`], [`targets`],
//!   [`series`], [`markdown`], [`plot`]: what a run produces and how
//!   `loadtest summarize` shows it.

pub mod cli;
pub mod cpu;
pub mod hist;
pub mod http;
pub mod markdown;
pub mod metrics;
pub mod net;
pub mod pacing;
pub mod plot;
pub mod procfs;
pub mod report;
pub mod scenario;
pub mod series;
pub mod smtp;
pub mod stats;
pub mod summarize;
pub mod targets;
pub mod tokens;
pub mod ws;
