//! Pending codes and send rate limits in Redis. Every decision that must be atomic
//! (check limits and store; count a wrong guess; consume a code) is one Lua script.

use deadpool_redis::redis::{self, Script};
use std::sync::LazyLock;

use super::Keys;

/// Checks the cooldown and both hourly caps, then counts the send, starts the
/// cooldown and replaces any pending code. Returns {outcome, ms until retry}.
static SEND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local cooldown = redis.call('PTTL', KEYS[2])
if cooldown > 0 then return {1, cooldown} end
local to_address = tonumber(redis.call('GET', KEYS[3]) or '0')
if to_address >= tonumber(ARGV[4]) then return {2, redis.call('PTTL', KEYS[3])} end
local from_ip = tonumber(redis.call('GET', KEYS[4]) or '0')
if from_ip >= tonumber(ARGV[5]) then return {3, redis.call('PTTL', KEYS[4])} end
if redis.call('INCR', KEYS[3]) == 1 then redis.call('EXPIRE', KEYS[3], ARGV[6]) end
if redis.call('INCR', KEYS[4]) == 1 then redis.call('EXPIRE', KEYS[4], ARGV[6]) end
if tonumber(ARGV[3]) > 0 then redis.call('SET', KEYS[2], '1', 'EX', ARGV[3]) end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'hash', ARGV[1], 'attempts', 0)
redis.call('EXPIRE', KEYS[1], ARGV[2])
return {0, 0}
",
    )
});

/// Consumes the code if it is still the one the caller matched and not burned.
static CONSUME: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('HEXISTS', KEYS[1], 'burned') == 1 then return 0 end
if redis.call('HGET', KEYS[1], 'hash') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
",
    )
});

/// Counts a wrong guess against the code the caller saw; burns it at the limit.
static WRONG_GUESS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('HGET', KEYS[1], 'hash') ~= ARGV[1] then return 0 end
if redis.call('HEXISTS', KEYS[1], 'burned') == 1 then return 2 end
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
if attempts >= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'burned', 1)
  return 2
end
return 1
",
    )
});

/// One hour, the window of both send caps.
const WINDOW_SECS: u64 = 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    Stored,
    Cooldown { retry_after_ms: i64 },
    AddressCap { retry_after_ms: i64 },
    IpCap { retry_after_ms: i64 },
}

pub struct SendLimits {
    pub code_ttl_secs: u64,
    pub cooldown_secs: u64,
    pub per_address: u32,
    pub per_ip: u32,
}

pub async fn store_new_code(
    conn: &mut deadpool_redis::Connection,
    keys: &Keys,
    email: &str,
    client_ip: &str,
    code_hash: &str,
    limits: &SendLimits,
) -> redis::RedisResult<SendOutcome> {
    let (outcome, retry_ms): (i64, i64) = SEND
        .key(keys.code(email))
        .key(keys.cooldown(email))
        .key(keys.sends_to_address(email))
        .key(keys.sends_from_ip(client_ip))
        .arg(code_hash)
        .arg(limits.code_ttl_secs)
        .arg(limits.cooldown_secs)
        .arg(limits.per_address)
        .arg(limits.per_ip)
        .arg(WINDOW_SECS)
        .invoke_async(conn)
        .await?;
    Ok(match outcome {
        0 => SendOutcome::Stored,
        1 => SendOutcome::Cooldown {
            retry_after_ms: retry_ms,
        },
        2 => SendOutcome::AddressCap {
            retry_after_ms: retry_ms,
        },
        _ => SendOutcome::IpCap {
            retry_after_ms: retry_ms,
        },
    })
}

/// What Redis holds for an address: the code's keyed hash, and whether it burned.
pub struct Pending {
    pub hash: String,
    pub burned: bool,
}

pub async fn pending(
    conn: &mut deadpool_redis::Connection,
    keys: &Keys,
    email: &str,
) -> redis::RedisResult<Option<Pending>> {
    let (hash, burned): (Option<String>, Option<String>) = redis::cmd("HMGET")
        .arg(keys.code(email))
        .arg("hash")
        .arg("burned")
        .query_async(conn)
        .await?;
    Ok(hash.map(|hash| Pending {
        hash,
        burned: burned.is_some(),
    }))
}

/// True if this caller consumed the code; false if another request got there first.
pub async fn consume(
    conn: &mut deadpool_redis::Connection,
    keys: &Keys,
    email: &str,
    hash: &str,
) -> redis::RedisResult<bool> {
    let consumed: i64 = CONSUME
        .key(keys.code(email))
        .arg(hash)
        .invoke_async(conn)
        .await?;
    Ok(consumed == 1)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrongGuess {
    /// The code was replaced or consumed meanwhile.
    Gone,
    Counted,
    Burned,
}

pub async fn count_wrong_guess(
    conn: &mut deadpool_redis::Connection,
    keys: &Keys,
    email: &str,
    seen_hash: &str,
    max_attempts: u32,
) -> redis::RedisResult<WrongGuess> {
    let result: i64 = WRONG_GUESS
        .key(keys.code(email))
        .arg(seen_hash)
        .arg(max_attempts)
        .invoke_async(conn)
        .await?;
    Ok(match result {
        0 => WrongGuess::Gone,
        1 => WrongGuess::Counted,
        _ => WrongGuess::Burned,
    })
}

/// Milliseconds left of the address's resend cooldown (0 when none).
pub async fn cooldown_remaining_ms(
    conn: &mut deadpool_redis::Connection,
    keys: &Keys,
    email: &str,
) -> redis::RedisResult<i64> {
    let ms: i64 = redis::cmd("PTTL")
        .arg(keys.cooldown(email))
        .query_async(conn)
        .await?;
    Ok(ms.max(0))
}
