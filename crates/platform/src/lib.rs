//! What both services run on. Each module is one concern; nothing here knows about
//! verification codes or chat rooms.

pub mod api_docs;
pub mod client_ip;
pub mod database;
pub mod env;
pub mod fallback;
pub mod http_error;
pub mod http_metrics;
pub mod net;
pub mod origins;
pub mod readiness;
pub mod redis;
pub mod settings;
pub mod shutdown;
pub mod telemetry;
