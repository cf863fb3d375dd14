//! Where state lives: codes, rate limits and login sessions in Redis, users in
//! PostgreSQL.

pub mod codes;
pub mod sessions;
pub mod users;

/// Redis key names, all under `REDIS_KEY_PREFIX`.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    /// The contract names this key: `email_verification:{email}`.
    pub fn code(&self, email: &str) -> String {
        format!("{}email_verification:{email}", self.prefix)
    }

    pub fn cooldown(&self, email: &str) -> String {
        format!("{}email_verification_cooldown:{email}", self.prefix)
    }

    pub fn sends_to_address(&self, email: &str) -> String {
        format!("{}rate:send:address:{email}", self.prefix)
    }

    pub fn sends_from_ip(&self, ip: &str) -> String {
        format!("{}rate:send:ip:{ip}", self.prefix)
    }

    pub fn session(&self, sid: uuid::Uuid) -> String {
        format!("{}auth:session:{sid}", self.prefix)
    }
}
