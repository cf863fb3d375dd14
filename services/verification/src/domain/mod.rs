//! The rules: who may be sent a code and when, what a guess does, how logins
//! start, rotate and end. Each part takes the dependencies it uses when it is
//! built (in `startup`, held by `state::AppState`), never the whole application state.

pub mod codes;
pub mod email;
pub mod refresh_token;
pub mod sessions;
pub mod sign_in;
pub mod user_upserts;
pub mod users;
pub mod verification;

/// Whole seconds for Retry-After: rounded up, and never 0.
pub fn retry_secs(ms: i64) -> u64 {
    u64::try_from(ms).unwrap_or(0).div_ceil(1000).max(1)
}

/// A random (version 4) UUID from the thread's CSPRNG, without a system call
/// (see [`codes::Code::generate`]).
pub fn random_uuid() -> uuid::Uuid {
    use rand::RngExt;
    uuid::Builder::from_random_bytes(rand::rng().random()).into_uuid()
}
