//! Sessions stored before generation numbers (`auth:session:<sid>`, a hash of the
//! user, the `current` secret digest and a `used:<digest>` field per rotation),
//! read only to move a login that presents its old `<sid>.<secret>` refresh token
//! into the current form, so that the upgrade logs nobody out. Nothing writes
//! this form any more; its keys expire with `REFRESH_TOKEN_TTL`.

use deadpool_redis::redis::{self, Script, aio::ConnectionLike};
use std::sync::LazyLock;
use uuid::Uuid;

use super::Keys;

/// {1, user} the current secret (now marked used, so presenting it again is
/// reuse), {2, user} a rotated-away one (reuse; the old session is gone), {0, ''}
/// anything else.
static TAKE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local user = redis.call('HGET', KEYS[1], 'user')
if not user then return {0, ''} end
if redis.call('HGET', KEYS[1], 'current') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'current')
  redis.call('HSET', KEYS[1], 'used:' .. ARGV[1], 1)
  return {1, user}
end
if redis.call('HEXISTS', KEYS[1], 'used:' .. ARGV[1]) == 1 then
  redis.call('UNLINK', KEYS[1])
  return {2, user}
end
return {0, ''}
",
    )
});

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    Current { user_id: Uuid },
    Reused,
    Invalid,
}

pub fn key(keys: &Keys, sid: Uuid) -> String {
    format!("{}auth:session:{sid}", keys.prefix())
}

/// The user of an old-form session, read before anything changes.
pub async fn user_of<C: ConnectionLike + Send>(
    conn: &mut C,
    keys: &Keys,
    sid: Uuid,
) -> redis::RedisResult<Option<Uuid>> {
    let user: Option<String> = redis::cmd("HGET")
        .arg(key(keys, sid))
        .arg("user")
        .query_async(conn)
        .await?;
    Ok(user.and_then(|u| Uuid::parse_str(&u).ok()))
}

pub async fn take<C: ConnectionLike + Send>(
    conn: &mut C,
    keys: &Keys,
    sid: Uuid,
    digest: &str,
) -> redis::RedisResult<Taken> {
    let (outcome, user): (i64, String) = TAKE
        .key(key(keys, sid))
        .arg(digest)
        .invoke_async(conn)
        .await?;
    Ok(match (outcome, Uuid::parse_str(&user)) {
        (1, Ok(user_id)) => Taken::Current { user_id },
        (2, _) => Taken::Reused,
        _ => Taken::Invalid,
    })
}
