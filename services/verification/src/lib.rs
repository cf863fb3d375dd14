//! The verification service: mails one-time codes, confirms them, and issues tokens.

pub mod codes;
pub mod config;
pub mod email;
pub mod error;
pub mod mail;
pub mod metrics;
pub mod routes;
pub mod startup;
pub mod store;
pub mod tokens;
pub mod verification;
