//! Where state lives: codes, rate limits and login sessions in Redis, users in
//! PostgreSQL. Each function takes the connection it runs on and answers with the
//! client library's own error; the domain decides what an error means.
//!
//! Redis Cluster is planned: every script or MULTI here touches the keys of one
//! hash slot only. An address's keys share the slot of its contract-named code
//! key, a login's session shares the slot of its revocation mark (both by a hash
//! tag naming that key), and per-IP counters are updated in calls of their own.

pub mod client_limits;
pub mod codes;
pub mod legacy_sessions;
pub mod sessions;
pub mod users;

use uuid::Uuid;

/// Redis key names, all under `REDIS_KEY_PREFIX`.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
    revocation: auth::RevocationKeys,
}

impl Keys {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            revocation: auth::RevocationKeys::new(prefix),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The contract names this key: `email_verification:{email}`.
    pub fn code(&self, email: &str) -> String {
        format!("{}email_verification:{email}", self.prefix)
    }

    /// In the code key's hash slot (addresses never hold braces, so the code
    /// key is its own hash input, and naming it as the tag lands here there).
    pub fn cooldown(&self, email: &str) -> String {
        format!(
            "{}email_verification_cooldown:{{{}}}",
            self.prefix,
            self.code(email)
        )
    }

    /// In the code key's hash slot, like [`Keys::cooldown`].
    pub fn sends_to_address(&self, email: &str) -> String {
        format!("{}rate:send:address:{{{}}}", self.prefix, self.code(email))
    }

    /// `client` is a [`platform::client_ip::limit_key`]: an IPv4 address or an
    /// IPv6 /64.
    pub fn sends_from_ip(&self, client: &str) -> String {
        format!("{}rate:send:ip:{client}", self.prefix)
    }

    pub fn failed_confirms_from_ip(&self, client: &str) -> String {
        format!("{}rate:confirm:ip:{client}", self.prefix)
    }

    /// The revocation mark of a login (the auth crate's name, read by chat too).
    pub fn revoked_sid(&self, sid: Uuid) -> String {
        self.revocation.sid(sid)
    }

    /// In the hash slot of the login's revocation mark, so that ending a login
    /// (delete the session, mark it revoked) is one atomic step on one slot.
    pub fn session(&self, sid: Uuid) -> String {
        format!("{}auth:session:{{{}}}", self.prefix, self.revoked_sid(sid))
    }

    pub fn revocation_channel(&self) -> String {
        self.revocation.channel()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Redis Cluster's key slot: CRC16-XMODEM of the hash tag (the text inside
    /// the first `{…}` pair, if non-empty) or else of the whole key, mod 16384.
    fn slot(key: &str) -> u16 {
        let bytes = key.as_bytes();
        let hashed = bytes
            .iter()
            .position(|b| *b == b'{')
            .and_then(|open| {
                let close = bytes[open + 1..].iter().position(|b| *b == b'}')?;
                (close > 0).then(|| &bytes[open + 1..open + 1 + close])
            })
            .unwrap_or(bytes);
        let mut crc: u16 = 0;
        for byte in hashed {
            crc ^= u16::from(*byte) << 8;
            for _ in 0..8 {
                crc = if crc & 0x8000 != 0 {
                    (crc << 1) ^ 0x1021
                } else {
                    crc << 1
                };
            }
        }
        crc % 16384
    }

    #[test]
    fn crc16_matches_the_cluster_specification() {
        // The reference value from the Redis Cluster specification.
        assert_eq!(slot("123456789"), 0x31c3);
        assert_eq!(slot("{user1000}.following"), slot("{user1000}.followers"));
    }

    #[test]
    fn an_addresss_keys_share_one_slot() {
        let keys = Keys::new("tenant:");
        let email = "ann.lee+x@example.com";
        let code = slot(&keys.code(email));
        assert_eq!(slot(&keys.cooldown(email)), code);
        assert_eq!(slot(&keys.sends_to_address(email)), code);
        assert!(keys.code(email).starts_with("tenant:email_verification:"));
    }

    #[test]
    fn a_logins_session_shares_the_slot_of_its_revocation_mark() {
        let keys = Keys::new("tenant:");
        let sid = Uuid::new_v4();
        assert_eq!(slot(&keys.session(sid)), slot(&keys.revoked_sid(sid)));
        assert!(keys.session(sid).starts_with("tenant:auth:session:"));
    }
}
