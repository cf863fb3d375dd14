//! Pending codes and the per-address send limits in Redis: one script per
//! decision, each on the keys of one address (one hash slot).

use deadpool_redis::redis::{self, Script, aio::ConnectionLike};
use std::sync::LazyLock;

use super::{Keys, client_limits::WINDOW_SECS};

/// Where a send script finds the client's hourly counter: `KEYS[key]`, its
/// limit `ARGV[limit]` and window `ARGV[limit + 1]` (see `code_limits.rs`).
#[derive(Debug, Clone, Copy)]
pub(super) struct ClientCounter {
    pub key: usize,
    pub limit: usize,
}

/// Checks the client's hourly cap (when `client` is given), the address's
/// cooldown and hourly cap, then counts the send, starts the cooldown and
/// replaces any pending code. Returns {outcome, ms until retry}: 0 stored, 1
/// cooldown, 2 the address's cap, 4 the client's.
///
/// Every counter is read with one `MGET`, and a counter's expiry is set only
/// when the send creates it: 8 `redis.call`s where a send made 11. Each costs
/// Redis a few µs of Lua's own work besides the command: at 1,373 logins/s
/// (`INFO commandstats`) `EVALSHA` went from 50.5 to 47.0 µs per call, the
/// send's and the guess's together.
pub(super) fn send_script(client: Option<ClientCounter>) -> String {
    let (read_client, check_client, count_client) = match client {
        Some(ClientCounter { key, limit }) => (
            format!("KEYS[{key}], "),
            format!(
                "if tonumber(v[1] or '0') >= tonumber(ARGV[{limit}]) then return {{4, redis.call('PTTL', KEYS[{key}])}} end\n"
            ),
            format!(
                "if redis.call('INCR', KEYS[{key}]) == 1 then redis.call('EXPIRE', KEYS[{key}], ARGV[{window}]) end\n",
                window = limit + 1
            ),
        ),
        None => (String::new(), String::new(), String::new()),
    };
    let (cooldown, sent) = if client.is_some() { (2, 3) } else { (1, 2) };
    format!(
        r"
local v = redis.call('MGET', {read_client}KEYS[2], KEYS[3])
{check_client}if v[{cooldown}] then
  local cooldown = redis.call('PTTL', KEYS[2])
  if cooldown > 0 then return {{1, cooldown}} end
end
if tonumber(v[{sent}] or '0') >= tonumber(ARGV[4]) then return {{2, redis.call('PTTL', KEYS[3])}} end
if redis.call('INCR', KEYS[3]) == 1 then redis.call('EXPIRE', KEYS[3], ARGV[5]) end
if tonumber(ARGV[3]) > 0 then redis.call('SET', KEYS[2], '1', 'EX', ARGV[3]) end
redis.call('UNLINK', KEYS[1])
redis.call('HSET', KEYS[1], 'hash', ARGV[1], 'attempts', 0)
redis.call('EXPIRE', KEYS[1], ARGV[2])
{count_client}return {{0, 0}}
"
    )
}

static SEND: LazyLock<Script> = LazyLock::new(|| Script::new(&send_script(None)));

/// A guess, decided in one step: {0} no code, {1} consumed (this caller won any
/// race), {2} wrong and counted, {3, ms until a new code may be sent} burned (now
/// or before).
///
/// The guess is compared here with `==` rather than in constant time in the
/// service: both sides are HMACs under the server's key, so a timing difference
/// could at most reveal a prefix of an HMAC, and without the key nobody can find
/// which code has which HMAC. Comparing here saves a round trip per confirm.
pub(super) const CONFIRM_BODY: &str = r"
local code = redis.call('HMGET', KEYS[1], 'hash', 'burned')
if not code[1] then return {0, 0} end
if not code[2] then
  if code[1] == ARGV[1] then
    redis.call('UNLINK', KEYS[1])
    return {1, 0}
  end
  if redis.call('HINCRBY', KEYS[1], 'attempts', 1) < tonumber(ARGV[2]) then return {2, 0} end
  redis.call('HSET', KEYS[1], 'burned', 1)
end
local cooldown = redis.call('PTTL', KEYS[2])
if cooldown < 0 then cooldown = 0 end
return {3, cooldown}
";

static CONFIRM: LazyLock<Script> = LazyLock::new(|| Script::new(CONFIRM_BODY));

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    Stored,
    Cooldown {
        retry_after_ms: i64,
    },
    AddressCap {
        retry_after_ms: i64,
    },
    /// The client's network has had its sends this hour (`SEND_LIMIT_PER_IP`).
    ClientCap {
        retry_after_ms: i64,
    },
}

pub struct SendLimits {
    pub code_ttl_secs: u64,
    pub cooldown_secs: u64,
    pub per_address: u32,
}

pub async fn store_new_code<C: ConnectionLike + Send>(
    conn: &mut C,
    keys: &Keys,
    email: &str,
    code_hash: &str,
    limits: &SendLimits,
) -> redis::RedisResult<SendOutcome> {
    let (outcome, retry_ms): (i64, i64) = SEND
        .key(keys.code(email))
        .key(keys.cooldown(email))
        .key(keys.sends_to_address(email))
        .arg(code_hash)
        .arg(limits.code_ttl_secs)
        .arg(limits.cooldown_secs)
        .arg(limits.per_address)
        .arg(WINDOW_SECS)
        .invoke_async(conn)
        .await?;
    Ok(send_outcome(outcome, retry_ms))
}

/// A send script's {outcome, ms}; 4 is the client's cap (`code_limits.rs`).
pub(super) fn send_outcome(outcome: i64, retry_after_ms: i64) -> SendOutcome {
    match outcome {
        0 => SendOutcome::Stored,
        1 => SendOutcome::Cooldown { retry_after_ms },
        4 => SendOutcome::ClientCap { retry_after_ms },
        _ => SendOutcome::AddressCap { retry_after_ms },
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guess {
    /// No code is pending (never sent, expired, consumed or replaced).
    NoCode,
    Consumed,
    Wrong,
    /// Burned by too many wrong guesses; a new code may be sent after this long.
    Burned {
        resend_after_ms: i64,
    },
    /// Not looked at: the client's network has had its failed guesses this
    /// hour (`CONFIRM_LIMIT_PER_IP`).
    ClientLimited {
        retry_after_ms: i64,
    },
}

pub async fn check_guess<C: ConnectionLike + Send>(
    conn: &mut C,
    keys: &Keys,
    email: &str,
    guess_hash: &str,
    max_attempts: u32,
) -> redis::RedisResult<Guess> {
    let (outcome, ms): (i64, i64) = CONFIRM
        .key(keys.code(email))
        .key(keys.cooldown(email))
        .arg(guess_hash)
        .arg(max_attempts)
        .invoke_async(conn)
        .await?;
    Ok(guess_outcome(outcome, ms))
}

/// A guess script's {outcome, ms}; 4 is the client's limit (`code_limits.rs`).
pub(super) fn guess_outcome(outcome: i64, ms: i64) -> Guess {
    match outcome {
        1 => Guess::Consumed,
        2 => Guess::Wrong,
        3 => Guess::Burned {
            resend_after_ms: ms,
        },
        4 => Guess::ClientLimited { retry_after_ms: ms },
        _ => Guess::NoCode,
    }
}
