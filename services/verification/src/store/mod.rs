//! Where state lives: codes, rate limits and login sessions in Redis, users in
//! PostgreSQL. Each function takes the connection it runs on and answers with the
//! client library's own error; the domain decides what an error means.
//!
//! On a Redis Cluster every script or MULTI here touches the keys of one hash
//! slot only. An address's keys share the slot of its contract-named code key
//! (by a tag that hashes there, whatever the address holds), a login's session
//! shares the slot of its revocation mark, and per-IP counters are updated in
//! blocks of their own (on one node they are counted inside the code's script
//! instead: `code_limits.rs`).

pub mod client_limits;
pub mod code_limits;
pub mod codes;
pub mod legacy_sessions;
pub mod sessions;
pub mod users;

use platform::redis::slots;
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

    /// In the code key's hash slot. The code key is named by the contract and
    /// holds the address verbatim, braces included, so it cannot serve as a
    /// tag itself; a short tag that hashes to its slot can.
    pub fn cooldown(&self, email: &str) -> String {
        format!(
            "{}email_verification_cooldown:{{{}}}:{email}",
            self.prefix,
            slots::tag_for(&self.code(email))
        )
    }

    /// In the code key's hash slot, like [`Keys::cooldown`].
    pub fn sends_to_address(&self, email: &str) -> String {
        format!(
            "{}rate:send:address:{{{}}}:{email}",
            self.prefix,
            slots::tag_for(&self.code(email))
        )
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

    use platform::redis::slots::slot;

    #[test]
    fn an_addresss_keys_share_one_slot_whatever_braces_it_holds() {
        let keys = Keys::new("tenant:");
        for email in [
            "ann.lee+x@example.com",
            "{ann}@example.com",
            "a}b{c@x.io",
            "{}@x.io",
        ] {
            let code = slot(&keys.code(email));
            assert_eq!(slot(&keys.cooldown(email)), code, "{email}");
            assert_eq!(slot(&keys.sends_to_address(email)), code, "{email}");
            assert_eq!(
                keys.code(email),
                format!("tenant:email_verification:{email}")
            );
        }
        assert_ne!(keys.cooldown("a@x.io"), keys.cooldown("b@x.io"));
    }

    #[test]
    fn a_logins_session_shares_the_slot_of_its_revocation_mark() {
        let keys = Keys::new("tenant:");
        let sid = Uuid::new_v4();
        assert_eq!(slot(&keys.session(sid)), slot(&keys.revoked_sid(sid)));
        assert!(keys.session(sid).starts_with("tenant:auth:session:"));
    }
}
