//! Access-token claims, as the contract lists them.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id.
    pub sub: Uuid,
    pub email: String,
    /// The user's display name when the token was issued.
    pub name: String,
    /// Login session id: every token refreshed from one login shares it, and
    /// revoking it (logout, refresh-token reuse) kills them all.
    pub sid: Uuid,
    pub jti: Uuid,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
}

impl Claims {
    /// Seconds until expiry, floored at zero.
    pub fn remaining_secs(&self, now: i64) -> u64 {
        u64::try_from(self.exp.saturating_sub(now)).unwrap_or(0)
    }
}

/// Who a token is issued to.
#[derive(Debug, Clone)]
pub struct TokenUser {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
}
