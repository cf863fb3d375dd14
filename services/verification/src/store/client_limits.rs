//! Hourly per-client counters (sends and failed confirms from one IPv4 address or
//! IPv6 /64), each updated in a call of its own: they live in other hash slots
//! than the per-address state they guard.
//!
//! A request takes its place before the work it limits (`reserve`), and gives it
//! back when the work turns out not to count (`release`). Checking first and
//! counting afterwards would let a client with many requests in flight pass the
//! check with all of them before any was counted.

use deadpool_redis::redis::{self, Script, aio::ConnectionLike};
use std::sync::LazyLock;

/// Counts one more unless the window is full; returns {1, 0} when counted, or
/// {0, ms until the window ends} when full. A refused request is not counted.
static RESERVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then return {0, redis.call('PTTL', KEYS[1])} end
if redis.call('INCR', KEYS[1]) == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return {1, 0}
",
    )
});

/// Gives one place back, if the window it was taken in is still open (a
/// counter recreated without expiry would never reset).
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then redis.call('DECR', KEYS[1]) end
return 0
",
    )
});

/// One hour: the window of every per-client limit.
pub const WINDOW_SECS: u64 = 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    Counted,
    Full { retry_after_ms: i64 },
}

pub async fn reserve<C: ConnectionLike + Send>(
    conn: &mut C,
    key: &str,
    limit: u32,
) -> redis::RedisResult<Reservation> {
    let (counted, retry_ms): (i64, i64) = RESERVE
        .key(key)
        .arg(limit)
        .arg(WINDOW_SECS)
        .invoke_async(conn)
        .await?;
    Ok(if counted == 1 {
        Reservation::Counted
    } else {
        Reservation::Full {
            retry_after_ms: retry_ms,
        }
    })
}

pub async fn release<C: ConnectionLike + Send>(conn: &mut C, key: &str) -> redis::RedisResult<()> {
    let _: i64 = RELEASE.key(key).invoke_async(conn).await?;
    Ok(())
}
