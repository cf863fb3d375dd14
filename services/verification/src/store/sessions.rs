//! Login sessions and their rotating refresh tokens.
//!
//! Per login (`sid`) Redis keeps one small hash of fixed size: whose login it is
//! (the user's address; sessions stored before 2026-12 name the user's id), the
//! current generation, the SHA-256 of the current refresh secret, and when the
//! login began. The owner is the address rather than the id so that, on one Redis
//! node, the script that checks a successful guess can store the session in the
//! same round trip, before PostgreSQL has said which user the address is
//! (`code_limits.rs`). Each refresh bumps the generation and replaces the digest, so a
//! session stays the same size however often it is refreshed. A token of an
//! older generation (its tag proves the service issued it) is reuse: the login
//! ends in the same script that notices it.

use deadpool_redis::redis::{self, Script, aio::ConnectionLike};
use std::sync::LazyLock;
use uuid::Uuid;

use super::Keys;

/// KEYS: session, revocation mark (one slot). ARGV: presented generation, its
/// digest, the next digest, idle TTL, absolute lifetime, now (unix seconds), the
/// mark's TTL, the revocation channel and message, the mark's reason, and '1'
/// if the token is proven issued by the service (only then is an older
/// generation reuse).
///
/// The digests are SHA-256 of 256-bit secrets, so comparing them with `==`
/// leaks nothing usable (at most a prefix of a digest whose preimage nobody can
/// find).
static ROTATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local s = redis.call('HMGET', KEYS[1], 'gen', 'hash', 'born')
if not s[1] then return {0, 0} end
local gen = tonumber(s[1])
local presented = tonumber(ARGV[1])
if presented == gen then
  if s[2] ~= ARGV[2] then return {0, 0} end
  local ttl = math.min(tonumber(ARGV[4]), tonumber(s[3]) + tonumber(ARGV[5]) - tonumber(ARGV[6]))
  if ttl <= 0 then
    redis.call('UNLINK', KEYS[1])
    return {0, 0}
  end
  redis.call('HSET', KEYS[1], 'gen', gen + 1, 'hash', ARGV[3])
  redis.call('EXPIRE', KEYS[1], ttl)
  return {1, gen + 1}
end
if presented < gen and ARGV[11] == '1' then
  redis.call('UNLINK', KEYS[1])
  redis.call('SET', KEYS[2], ARGV[10], 'EX', ARGV[7])
  redis.call('PUBLISH', ARGV[8], ARGV[9])
  return {2, 0}
end
return {0, 0}
",
    )
});

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    Rotated {
        generation: u64,
    },
    /// An older generation was presented: the login has been ended and announced.
    Reused,
    Invalid,
}

/// What a refresh presents, and what it would store next.
pub struct Presented<'a> {
    pub sid: Uuid,
    pub generation: u64,
    pub genuine: bool,
    pub digest: &'a str,
    pub next_digest: &'a str,
}

pub struct Lifetimes {
    pub idle_secs: u64,
    pub absolute_secs: u64,
    pub now_unix: i64,
}

/// How a login ends: its revocation mark, its TTL, and the announcement.
pub struct Ending<'a> {
    pub mark_ttl_secs: u64,
    pub reason: &'a str,
    pub message: &'a str,
}

/// A login's session as it starts: generation 1 of its refresh token.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub sid: Uuid,
    /// The owner: the address the login proved (lower-cased, as stored in `users`).
    pub email: String,
    /// The SHA-256 of the first refresh secret.
    pub digest: String,
    pub born_unix: i64,
    pub ttl_secs: u64,
}

/// Stores a new session in a script, as its `KEYS[key]` and `ARGV[arg..arg + 3]`
/// (see [`NewSession::bind`]); `when` is the Lua condition under which it is stored.
pub fn create_in_script(key: usize, arg: usize, when: &str) -> String {
    format!(
        r"
if {when} then
  redis.call('HSET', KEYS[{key}], 'email', ARGV[{arg}], 'gen', 1, 'hash', ARGV[{digest}], 'born', ARGV[{born}])
  redis.call('EXPIRE', KEYS[{key}], ARGV[{ttl}])
end",
        digest = arg + 1,
        born = arg + 2,
        ttl = arg + 3,
    )
}

impl NewSession {
    /// Adds the session's key and arguments to a script invocation made by
    /// [`create_in_script`], in that order.
    pub fn bind(&self, keys: &Keys, invocation: &mut redis::ScriptInvocation<'_>) {
        invocation
            .key(keys.session(self.sid))
            .arg(&self.email)
            .arg(&self.digest)
            .arg(self.born_unix)
            .arg(ttl(self.ttl_secs));
    }
}

/// Adds a new session to a pipeline, as an atomic block of its own.
pub fn create_into(pipe: &mut redis::Pipeline, keys: &Keys, session: &NewSession) {
    let key = keys.session(session.sid);
    pipe.cmd("MULTI")
        .ignore()
        .cmd("HSET")
        .arg(&key)
        .arg("email")
        .arg(&session.email)
        .arg("gen")
        .arg(1)
        .arg("hash")
        .arg(&session.digest)
        .arg("born")
        .arg(session.born_unix)
        .ignore()
        .expire(&key, ttl(session.ttl_secs))
        .ignore()
        .cmd("EXEC")
        .ignore();
}

/// Whose login a session is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    Email(String),
    /// A session stored before sessions named their owner by address.
    User(Uuid),
}

/// The owner of a live session, read before anything changes.
pub async fn owner_of<C: ConnectionLike + Send>(
    conn: &mut C,
    keys: &Keys,
    sid: Uuid,
) -> redis::RedisResult<Option<Owner>> {
    let (email, user): (Option<String>, Option<String>) = redis::cmd("HMGET")
        .arg(keys.session(sid))
        .arg("email")
        .arg("user")
        .query_async(conn)
        .await?;
    Ok(email
        .map(Owner::Email)
        .or_else(|| user.and_then(|u| Uuid::parse_str(&u).ok()).map(Owner::User)))
}

pub async fn rotate<C: ConnectionLike + Send>(
    conn: &mut C,
    keys: &Keys,
    presented: &Presented<'_>,
    lifetimes: &Lifetimes,
    reuse: &Ending<'_>,
) -> redis::RedisResult<Rotation> {
    let (outcome, generation): (i64, u64) = ROTATE
        .key(keys.session(presented.sid))
        .key(keys.revoked_sid(presented.sid))
        .arg(presented.generation)
        .arg(presented.digest)
        .arg(presented.next_digest)
        .arg(lifetimes.idle_secs)
        .arg(lifetimes.absolute_secs)
        .arg(lifetimes.now_unix)
        .arg(reuse.mark_ttl_secs.max(1))
        .arg(keys.revocation_channel())
        .arg(reuse.message)
        .arg(reuse.reason)
        .arg(if presented.genuine { "1" } else { "0" })
        .invoke_async(conn)
        .await?;
    Ok(match outcome {
        1 => Rotation::Rotated { generation },
        2 => Rotation::Reused,
        _ => Rotation::Invalid,
    })
}

/// The current generation and digest of a live session.
pub async fn current<C: ConnectionLike + Send>(
    conn: &mut C,
    keys: &Keys,
    sid: Uuid,
) -> redis::RedisResult<Option<(u64, String)>> {
    let (generation, digest): (Option<u64>, Option<String>) = redis::cmd("HMGET")
        .arg(keys.session(sid))
        .arg("gen")
        .arg("hash")
        .query_async(conn)
        .await?;
    Ok(generation.zip(digest))
}

/// Ends a login in one atomic step on one slot: the session goes (`UNLINK`, so
/// Redis frees it off its main thread), the revocation mark is set, and the end
/// is announced to chat replicas. Either all of it happens or none of it. A
/// session of the old form, if the login still has one, is removed in the same
/// round trip as a call of its own (another slot).
pub async fn end<C: ConnectionLike + Send>(
    conn: &mut C,
    keys: &Keys,
    sid: Uuid,
    ending: &Ending<'_>,
) -> redis::RedisResult<()> {
    redis::pipe()
        .cmd("MULTI")
        .ignore()
        .unlink(keys.session(sid))
        .ignore()
        .set_ex(
            keys.revoked_sid(sid),
            ending.reason,
            ending.mark_ttl_secs.max(1),
        )
        .ignore()
        .publish(keys.revocation_channel(), ending.message)
        .ignore()
        .cmd("EXEC")
        .ignore()
        .unlink(super::legacy_sessions::key(keys, sid))
        .ignore()
        .query_async(conn)
        .await
}

fn ttl(secs: u64) -> i64 {
    i64::try_from(secs.max(1)).unwrap_or(i64::MAX)
}
