//! Login sessions and their rotating refresh tokens.
//!
//! A refresh token is `<sid>.<secret>`; Redis keeps, per `sid`, the user, the
//! SHA-256 of the current secret and of every secret already rotated away. Showing
//! a rotated-away secret again means the token was copied: the session dies.

use deadpool_redis::redis::{self, Script};
use std::sync::LazyLock;
use uuid::Uuid;

use super::Keys;

/// The stored values are SHA-256 digests of 256-bit random secrets, so comparing
/// them in Lua leaks nothing an attacker could use (a timing difference would only
/// reveal a prefix of a digest whose preimage they cannot find).
static ROTATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local current = redis.call('HGET', KEYS[1], 'current')
if not current then return {0, ''} end
if current == ARGV[1] then
  redis.call('HSET', KEYS[1], 'current', ARGV[2], 'used:' .. ARGV[1], 1)
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return {1, redis.call('HGET', KEYS[1], 'user')}
end
if redis.call('HEXISTS', KEYS[1], 'used:' .. ARGV[1]) == 1 then
  local user = redis.call('HGET', KEYS[1], 'user')
  redis.call('DEL', KEYS[1])
  return {2, user}
end
return {0, ''}
",
    )
});

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    Rotated {
        user_id: Uuid,
    },
    /// An already-used token was presented: the session has been deleted.
    Reused,
    Invalid,
}

pub async fn create(
    conn: &mut deadpool_redis::Connection,
    keys: &Keys,
    sid: Uuid,
    user_id: Uuid,
    secret_hash: &str,
    ttl_secs: u64,
) -> redis::RedisResult<()> {
    redis::pipe()
        .atomic()
        .hset_multiple(
            keys.session(sid),
            &[
                ("user", user_id.to_string()),
                ("current", secret_hash.to_owned()),
            ],
        )
        .ignore()
        .expire(
            keys.session(sid),
            i64::try_from(ttl_secs).unwrap_or(i64::MAX),
        )
        .ignore()
        .query_async(conn)
        .await
}

pub async fn rotate(
    conn: &mut deadpool_redis::Connection,
    keys: &Keys,
    sid: Uuid,
    presented_hash: &str,
    new_hash: &str,
    ttl_secs: u64,
) -> redis::RedisResult<Rotation> {
    let (outcome, user): (i64, String) = ROTATE
        .key(keys.session(sid))
        .arg(presented_hash)
        .arg(new_hash)
        .arg(ttl_secs)
        .invoke_async(conn)
        .await?;
    Ok(match (outcome, Uuid::parse_str(&user)) {
        (1, Ok(user_id)) => Rotation::Rotated { user_id },
        (2, _) => Rotation::Reused,
        _ => Rotation::Invalid,
    })
}

/// The session's current secret digest, if the session is alive.
pub async fn current_hash(
    conn: &mut deadpool_redis::Connection,
    keys: &Keys,
    sid: Uuid,
) -> redis::RedisResult<Option<String>> {
    redis::cmd("HGET")
        .arg(keys.session(sid))
        .arg("current")
        .query_async(conn)
        .await
}

pub async fn delete(
    conn: &mut deadpool_redis::Connection,
    keys: &Keys,
    sid: Uuid,
) -> redis::RedisResult<()> {
    redis::cmd("DEL")
        .arg(keys.session(sid))
        .query_async(conn)
        .await
}
