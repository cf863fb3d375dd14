//! Test support for the services' integration tests: real PostgreSQL, real Redis,
//! a real SMTP listener. Nothing here is mocked; each helper isolates one test.

pub mod chaos;
pub mod committed;
pub mod keys;
pub mod logs;
pub mod postgres;
pub mod redis;
pub mod redis_cluster;
pub mod redis_server;
pub mod smtp;
