//! A code decision (send, guess) together with the per-client hourly limit it
//! counts against, in as few round trips as the deployment allows.
//!
//! On one Redis node every key is reachable from one script, so the client's
//! counter is checked and counted inside the code's own script: one round trip
//! for a send, one for a guess, and nothing to give back afterwards. On a
//! Redis Cluster the counter lives in another hash slot than the address's
//! keys, so a request takes its place first in a call of its own and gives it
//! back when the work turns out not to count (`client_limits.rs`). Before, both
//! deployments took the second path: 5 Redis round trips per login, then 3 on
//! one node, and 2 since a successful guess's script also stores the new login's
//! session (`sessions.rs`): the session's key is in yet another slot, so a
//! cluster stores it in a round trip of its own after the guess.

use std::sync::LazyLock;

use deadpool_redis::redis::{self, Script, aio::ConnectionLike};

use super::{
    Keys,
    client_limits::{self, Place, Reservation, WINDOW_SECS},
    codes::{self, CONFIRM_BODY, ClientCounter, Guess, SendLimits, SendOutcome},
    sessions::{self, NewSession},
};

/// The per-client limit a request counts against: its counter and the limit.
#[derive(Debug, Clone)]
pub struct ClientLimit {
    pub key: String,
    pub limit: u32,
}

/// `KEYS[n]` is the client's counter, `ARGV[m]` its limit and `ARGV[m + 1]` the
/// window: refused before the decision when full; counted after it when the
/// decision's outcome is one that counts. The decision's `return`s leave the
/// inner function, not the script; `then` runs after the counting, before the
/// script returns the decision `r`.
fn with_client_limit(body: &str, key: usize, arg: usize, counts: &str, then: &str) -> String {
    format!(
        r"
local spent = tonumber(redis.call('GET', KEYS[{key}]) or '0')
if spent >= tonumber(ARGV[{arg}]) then return {{4, redis.call('PTTL', KEYS[{key}])}} end
local function decide()
{body}
end
local r = decide()
if {counts} and redis.call('INCR', KEYS[{key}]) == 1 then
  redis.call('EXPIRE', KEYS[{key}], ARGV[{next}])
end
{then}
return r
",
        next = arg + 1
    )
}

/// A send counts once stored (outcome 0); its script reads the client's
/// counter together with the address's (`codes::send_script`).
static SEND_LIMITED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&codes::send_script(Some(ClientCounter {
        key: 4,
        limit: 6,
    })))
});

/// Every guess but a success counts (wrong, no code, burned); a success stores
/// the new login's session (`KEYS[4]`, `ARGV[5..8]`).
static CONFIRM_LIMITED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&with_client_limit(
        CONFIRM_BODY,
        3,
        3,
        "r[1] ~= 1",
        &sessions::create_in_script(4, 5, "r[1] == 1"),
    ))
});

/// A guess at an address's code, from a client, for a login to start on success.
#[derive(Clone, Copy)]
pub struct Attempt<'a> {
    pub email: &'a str,
    /// The guess's keyed hash (see `codes::CONFIRM_BODY`).
    pub guess_hash: &'a str,
    pub max_attempts: u32,
    pub client: &'a ClientLimit,
    pub session: &'a NewSession,
}

/// What a guess decided, and what its caller still has to do on a success.
#[derive(Debug)]
pub struct Decided {
    pub guess: Guess,
    /// On a cluster, the per-client place a success took, to give back.
    pub place: Option<Place>,
    /// The session was stored with the guess (one node); otherwise the caller
    /// stores it after a success.
    pub session_stored: bool,
}

/// Stores a new code for `email` unless the client or the address is over a
/// limit (`one_node`: all keys on one Redis, see the module).
pub async fn send<C: ConnectionLike + Send>(
    conn: &mut C,
    keys: &Keys,
    email: &str,
    code_hash: &str,
    limits: &SendLimits,
    client: &ClientLimit,
    one_node: bool,
) -> redis::RedisResult<SendOutcome> {
    if one_node {
        let (outcome, retry_ms): (i64, i64) = SEND_LIMITED
            .key(keys.code(email))
            .key(keys.cooldown(email))
            .key(keys.sends_to_address(email))
            .key(&client.key)
            .arg(code_hash)
            .arg(limits.code_ttl_secs)
            .arg(limits.cooldown_secs)
            .arg(limits.per_address)
            .arg(WINDOW_SECS)
            .arg(client.limit)
            .arg(WINDOW_SECS)
            .invoke_async(conn)
            .await?;
        return Ok(codes::send_outcome(outcome, retry_ms));
    }
    let place = match reserve(conn, client).await? {
        Ok(place) => place,
        Err(retry_after_ms) => return Ok(SendOutcome::ClientCap { retry_after_ms }),
    };
    let stored = codes::store_new_code(conn, keys, email, code_hash, limits).await;
    if !matches!(stored, Ok(SendOutcome::Stored)) {
        // Nothing was sent: the client's hourly allowance is not spent.
        release(conn, &place).await;
    }
    stored
}

/// Decides a guess unless the client is over its limit; on one node a success
/// also stores `session`. On a cluster a success returns the place it took, to
/// give back with the session's write.
pub async fn guess<C: ConnectionLike + Send>(
    conn: &mut C,
    keys: &Keys,
    attempt: &Attempt<'_>,
    one_node: bool,
) -> redis::RedisResult<Decided> {
    let Attempt {
        email,
        guess_hash,
        max_attempts,
        client,
        session,
    } = *attempt;
    if one_node {
        let mut invocation = CONFIRM_LIMITED.prepare_invoke();
        invocation
            .key(keys.code(email))
            .key(keys.cooldown(email))
            .key(&client.key)
            .arg(guess_hash)
            .arg(max_attempts)
            .arg(client.limit)
            .arg(WINDOW_SECS);
        session.bind(keys, &mut invocation);
        let (outcome, ms): (i64, i64) = invocation.invoke_async(conn).await?;
        return Ok(Decided {
            guess: codes::guess_outcome(outcome, ms),
            place: None,
            session_stored: true,
        });
    }
    // The place is taken before the guess is checked and given back on
    // success, so concurrent guesses cannot all slip under the limit.
    let place = match reserve(conn, client).await? {
        Ok(place) => place,
        Err(retry_after_ms) => {
            return Ok(Decided {
                guess: Guess::ClientLimited { retry_after_ms },
                place: None,
                session_stored: false,
            });
        }
    };
    match codes::check_guess(conn, keys, email, guess_hash, max_attempts).await {
        Ok(guess) => Ok(Decided {
            place: (guess == Guess::Consumed).then_some(place),
            guess,
            session_stored: false,
        }),
        Err(e) => {
            // Not a failed guess (Redis failed): it must not count.
            release(conn, &place).await;
            Err(e)
        }
    }
}

/// The place taken, or how long until the client's window ends.
async fn reserve<C: ConnectionLike + Send>(
    conn: &mut C,
    client: &ClientLimit,
) -> redis::RedisResult<Result<Place, i64>> {
    Ok(
        match client_limits::reserve(conn, &client.key, client.limit).await? {
            Reservation::Counted => Ok(Place {
                key: client.key.clone(),
            }),
            Reservation::Full { retry_after_ms } => Err(retry_after_ms),
        },
    )
}

/// Gives a per-client place back; if Redis fails here the place stays taken
/// until the window ends, which errs on the side of the limit.
pub async fn release<C: ConnectionLike + Send>(conn: &mut C, place: &Place) {
    if let Err(e) = client_limits::release(conn, place).await {
        tracing::warn!(error = %e, "could not give back a per-client place");
    }
}
