//! The chat service's integration tests: one binary, real PostgreSQL and Redis.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_docs;
mod catchup;
mod client;
mod delivery;
mod direct;
mod failover;
mod fanout;
mod faults;
mod frames;
mod frames_schema;
mod handshake;
mod helpers;
mod history;
mod hostile;
mod idle;
mod ops;
mod outages;
mod pgfaults;
mod presence;
mod rejoin;
mod rooms;
mod sessions;
mod slow;
mod storage;
mod watch;
