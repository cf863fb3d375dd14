//! What request handlers get: the domain's parts, built once at start-up with
//! the dependencies each one uses.

use platform::{client_ip::TrustedProxies, database::PgPool};

use crate::domain::{sessions::Sessions, sign_in::SignIn, users::Users, verification::Codes};

pub struct AppState {
    pub codes: Codes,
    pub users: Users,
    pub sessions: Sessions,
    pub trusted_proxies: TrustedProxies,
    /// For readiness only.
    pub redis: platform::redis::Shared,
    /// For readiness only.
    pub db: PgPool,
}

impl AppState {
    pub fn sign_in(&self) -> SignIn<'_> {
        SignIn {
            codes: &self.codes,
            users: &self.users,
            sessions: &self.sessions,
        }
    }
}
