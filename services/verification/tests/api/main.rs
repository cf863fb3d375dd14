//! Verification service tests: the real app on a random port, against real Redis,
//! a fresh PostgreSQL database and a real SMTP listener per test.

mod account;
mod api_docs;
mod client_limits;
mod confirm;
mod emails;
mod failover;
mod helpers;
mod mail;
mod operations;
mod send;
mod sessions;
mod tokens;
mod users;
