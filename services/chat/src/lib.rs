//! The chat service: WebSocket rooms, stored history, fan-out across replicas.
//!
//! - [`domain`]: room names, frames and message rules, free of I/O.
//! - [`store`]: PostgreSQL, and nothing else.
//! - [`fanout`]: this replica's sockets and rooms, their delivery order, Redis
//!   pub/sub in and out.
//! - [`pipeline`]: the write path and the reads that keep delivery whole, above
//!   `store` and `fanout`.
//! - [`socket`]: one task per WebSocket.
//! - [`routes`]: the HTTP handlers; [`startup`]: wiring, run by `main` and tests.

pub mod api_docs;
pub mod config;
pub mod domain;
pub mod error;
pub mod fanout;
pub mod metrics;
pub mod pipeline;
pub mod routes;
pub mod socket;
pub mod startup;
pub mod store;
mod telemetry;

pub use config::Config;
pub use startup::Application;
