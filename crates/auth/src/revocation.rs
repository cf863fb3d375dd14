//! Revocation state in Redis, shared by both services.
//!
//! - `auth:revoked:jti:{jti}`: an access token denylisted until it would expire anyway.
//! - `auth:revoked:sid:{sid}`: a whole login revoked (logout, refresh-token reuse).
//! - `auth:revocations`: the pub/sub channel announcing a revoked `sid`, so chat
//!   replicas close that login's sockets at once instead of at the next check.

use deadpool_redis::redis;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::claims::Claims;

/// The channel name before `REDIS_KEY_PREFIX`; use [`RevocationKeys::channel`].
pub const REVOCATION_CHANNEL: &str = "auth:revocations";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationReason {
    Logout,
    RefreshReuse,
}

/// The message published on the revocation channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    pub sid: Uuid,
    pub reason: RevocationReason,
}

/// Key and channel names with `REDIS_KEY_PREFIX` applied.
#[derive(Debug, Clone, Default)]
pub struct RevocationKeys {
    prefix: String,
}

impl RevocationKeys {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    /// A denylisted access token. Named with its login's mark as the hash tag,
    /// so that checking both (one `EXISTS`) and revoking both (one `MULTI`)
    /// keep to one Redis Cluster slot.
    pub fn jti(&self, sid: Uuid, jti: Uuid) -> String {
        format!(
            "{}auth:revoked:jti:{{{}}}:{jti}",
            self.prefix,
            self.sid(sid)
        )
    }

    pub fn sid(&self, sid: Uuid) -> String {
        format!("{}auth:revoked:sid:{sid}", self.prefix)
    }

    pub fn channel(&self) -> String {
        format!("{}{REVOCATION_CHANNEL}", self.prefix)
    }

    /// True when the token's `jti` or its login `sid` has been revoked.
    pub async fn is_revoked<C>(&self, conn: &mut C, claims: &Claims) -> redis::RedisResult<bool>
    where
        C: redis::aio::ConnectionLike + Send,
    {
        let found: u32 = redis::cmd("EXISTS")
            .arg(self.jti(claims.sid, claims.jti))
            .arg(self.sid(claims.sid))
            .query_async(conn)
            .await?;
        Ok(found > 0)
    }

    /// Revokes a login: marks the `sid` for `sid_ttl_secs`, denylists the presented
    /// access token's `jti` until it expires, and announces the `sid` on the channel.
    /// One atomic pipeline, so a reader never sees the announcement before the mark;
    /// on a cluster the keys share a slot and the channel is a classic one (no slot).
    pub async fn revoke<C>(
        &self,
        conn: &mut C,
        sid: Uuid,
        access: Option<(Uuid, u64)>,
        sid_ttl_secs: u64,
        reason: RevocationReason,
    ) -> redis::RedisResult<()>
    where
        C: redis::aio::ConnectionLike + Send,
    {
        let mut pipe = redis::pipe();
        pipe.atomic()
            .set_ex(self.sid(sid), reason_str(reason), sid_ttl_secs.max(1))
            .ignore();
        if let Some((jti, ttl)) = access {
            pipe.set_ex(self.jti(sid, jti), "1", ttl.max(1)).ignore();
        }
        let payload = serde_json::to_string(&Revocation { sid, reason }).map_err(|e| {
            redis::RedisError::from((redis::ErrorKind::Client, "serialize", e.to_string()))
        })?;
        pipe.publish(self.channel(), payload).ignore();
        pipe.query_async::<()>(conn).await
    }
}

fn reason_str(reason: RevocationReason) -> &'static str {
    match reason {
        RevocationReason::Logout => "logout",
        RevocationReason::RefreshReuse => "refresh_reuse",
    }
}
