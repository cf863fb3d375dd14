//! The verification service: mails one-time codes, confirms them, and issues tokens.
//!
//! Modules depend one way only: `startup` builds `state` from `config`; `routes`
//! parse requests and call `domain`; `domain` holds the rules and uses `store`
//! (Redis and SQL) and `mail`; `error` and `metrics` are leaves.

pub mod api_docs;
pub mod config;
pub mod domain;
pub mod error;
pub mod mail;
pub mod metrics;
pub mod routes;
pub mod startup;
pub mod state;
pub mod store;
