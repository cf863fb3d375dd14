//! Settings from the environment. Those both services read (listen address,
//! PostgreSQL, Redis, workers, origins, proxies, logs) are parsed once in
//! `platform::settings`; the chat's own are here. The contract's variables keep
//! the contract's defaults; every setting added has a default and an upper bound,
//! so the service starts with only `JWT_PUBLIC_KEYS` set. Every error names its
//! variable.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use platform::{
    env::{self, EnvError},
    settings::{ServiceDefaults, SharedSettings, count},
};

#[derive(Debug, Clone)]
pub struct Config {
    pub shared: SharedSettings,
    pub jwt_public_keys: Vec<PathBuf>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub limits: Limits,
    pub tuning: Tuning,
}

/// What a client may do: the contract's chat limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `MAX_MESSAGE_CHARS`, counted in Unicode scalar values.
    pub max_message_chars: usize,
    /// `MAX_FRAME_BYTES`: a larger incoming frame closes the socket with 1009.
    pub max_frame_bytes: usize,
    /// `CHAT_RATE`: tokens a socket's bucket regains per second.
    pub rate_per_sec: u32,
    /// `CHAT_BURST`: the bucket's size.
    pub burst: u32,
    /// `CHAT_MAX_ROOMS_PER_SOCKET`: joins beyond this are refused.
    pub max_rooms_per_socket: usize,
    /// `CHAT_CONTROL_RATE` / `CHAT_CONTROL_BURST`: every frame that is not a
    /// message (joins, leaves, pings, malformed ones) has a bucket of its own.
    pub control_rate_per_sec: u32,
    pub control_burst: u32,
    /// `CHAT_MAX_SOCKETS_PER_USER`: sockets one user may hold on one replica;
    /// the handshake beyond it answers `429 rate_limited`.
    pub max_sockets_per_user: usize,
    /// `CHAT_MAX_MEMBERSHIPS`: memberships one user may hold. Every join of a
    /// new room name stores one, so without a cap one account churning joins
    /// at its control rate over its sockets (32 × 50 a second) adds millions of
    /// rows an hour; a join past the cap still delivers, and is not stored.
    pub max_memberships: usize,
}

/// Operational knobs beyond the contract, all defaulted.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// `CHAT_HEARTBEAT_SECS`: how often an idle socket is pinged.
    pub heartbeat_interval: Duration,
    /// `CHAT_CLIENT_TIMEOUT_SECS`: a socket silent this long (no pong, no frame) is dropped.
    pub client_timeout: Duration,
    /// `CHAT_OUTBOX_CAPACITY` / `CHAT_OUTBOX_BYTES`: frames, and their bytes,
    /// queued for one socket before it counts as too far behind and is closed
    /// with 1013 (the catch-up buffer of a joining room has the same bounds).
    /// The bytes are the bound that matters (Centrifugo's 1 MiB): a socket
    /// whose outbox stays above them for 2 s is closed, and one that gets
    /// eight times as much at once (see `socket::BURST_FACTOR`). The count
    /// must hold one release whole (a write batch, a read of pushes or a gap:
    /// up to ~1000 frames), or a reading client is closed for a burst alone —
    /// at 256, eight senders of 40 messages each closed readers that kept up.
    pub outbox_capacity: usize,
    pub outbox_bytes: usize,
    /// `CHAT_WRITE_BATCH`: most messages stored in one transaction.
    pub write_batch: usize,
    /// `CHAT_WRITE_QUEUE` / `CHAT_WRITE_QUEUE_BYTES`: messages waiting for the
    /// writer, and their bytes, before senders get `unavailable`.
    pub write_queue: usize,
    pub write_queue_bytes: usize,
    /// `CHAT_PUBLISH_QUEUE` / `CHAT_PUBLISH_QUEUE_BYTES`: stored messages waiting
    /// to be published; beyond them the oldest are let go (receivers read them
    /// from PostgreSQL).
    pub publish_queue: usize,
    pub publish_queue_bytes: usize,
    /// `CHAT_GAP_WAIT_MS`: how long a replica waits for a missing id before it
    /// reads the gap from PostgreSQL.
    pub gap_wait: Duration,
    /// `CHAT_SWEEP_SECS`: how often each followed room's last id is compared with
    /// PostgreSQL, which finds a message whose publish never arrived.
    pub sweep_interval: Duration,
    /// `CHAT_REPLAY_CONCURRENCY`: history and catch-up reads at once per replica.
    pub replay_concurrency: usize,
    /// `CHAT_RELAY_JOBS`: releases queued for one worker thread before its
    /// sockets in the next one count as too far behind (1013).
    pub relay_jobs: usize,
    /// `PRESENCE_TTL`: after this long a silent replica's sockets no longer
    /// count as present.
    pub presence_ttl: Duration,
    /// `CHAT_PRESENCE_EVENTS_MAX`: rooms with more users present get no
    /// `presence` events (each would reach every socket: n² frames as a crowd
    /// joins); GET /v1/rooms/{room}/presence still answers.
    pub presence_events_max: usize,
    /// `CHAT_READ_FLUSH_MS`: a user's read marker in a room is written and
    /// announced at most once this long, the first change at once.
    pub read_flush: Duration,
    /// `CHAT_ROOM_RECEIPTS_PER_SEC`: read receipts a room's replicas announce
    /// per second together, each its share by the users it holds; past it the
    /// room's members take turns (`receipts.rs`).
    pub room_receipts_per_sec: u32,
    /// `CHAT_DRAIN_SECS`: on SIGTERM, how long queued messages may take to be
    /// stored, published and echoed before every socket is closed with 1001.
    pub drain_timeout: Duration,
}

impl Config {
    pub fn from_env() -> Result<Self, EnvError> {
        let jwt_public_keys: Vec<PathBuf> = env::list("JWT_PUBLIC_KEYS")
            .into_iter()
            .map(PathBuf::from)
            .collect();
        if jwt_public_keys.is_empty() {
            return Err(EnvError::Missing {
                name: "JWT_PUBLIC_KEYS",
            });
        }
        let shared = SharedSettings::from_env(ServiceDefaults {
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 8082)),
            workers_var: "CHAT_WORKERS",
        })?;
        Ok(Self {
            shared,
            jwt_public_keys,
            jwt_issuer: env::or("JWT_ISSUER", "chatverify"),
            jwt_audience: env::or("JWT_AUDIENCE", "chatverify"),
            limits: Limits::from_env()?,
            tuning: Tuning::from_env()?,
        })
    }

    /// The defaults with the given backends: what tests start from.
    pub fn with_backends(database_url: &str, redis_url: &str, public_keys: Vec<PathBuf>) -> Self {
        let mut shared = SharedSettings::for_tests(database_url, redis_url);
        // Replays, history, gap reads and the room list share the pool.
        shared.database.pool_size = 10;
        Self {
            shared,
            jwt_public_keys: public_keys,
            jwt_issuer: "chatverify".into(),
            jwt_audience: "chatverify".into(),
            limits: Limits::DEFAULT,
            tuning: Tuning::DEFAULT,
        }
    }
}

/// A client's queue, as Centrifugo bounds it: 1 MiB.
const DEFAULT_OUTBOX_BYTES: usize = 1 << 20;
const MIB: usize = 1 << 20;

impl Limits {
    pub const DEFAULT: Self = Self {
        max_message_chars: 4000,
        max_frame_bytes: 65536,
        rate_per_sec: 20,
        burst: 40,
        max_rooms_per_socket: 100,
        control_rate_per_sec: 50,
        control_burst: 100,
        max_sockets_per_user: 32,
        max_memberships: 1000,
    };

    fn from_env() -> Result<Self, EnvError> {
        let d = Self::DEFAULT;
        Ok(Self {
            max_message_chars: count("MAX_MESSAGE_CHARS", d.max_message_chars, 1_000_000)?,
            max_frame_bytes: count("MAX_FRAME_BYTES", d.max_frame_bytes, 16 * MIB)?,
            rate_per_sec: count_u32("CHAT_RATE", d.rate_per_sec)?,
            burst: count_u32("CHAT_BURST", d.burst)?,
            max_rooms_per_socket: count(
                "CHAT_MAX_ROOMS_PER_SOCKET",
                d.max_rooms_per_socket,
                10_000,
            )?,
            control_rate_per_sec: count_u32("CHAT_CONTROL_RATE", d.control_rate_per_sec)?,
            control_burst: count_u32("CHAT_CONTROL_BURST", d.control_burst)?,
            max_sockets_per_user: count(
                "CHAT_MAX_SOCKETS_PER_USER",
                d.max_sockets_per_user,
                100_000,
            )?,
            max_memberships: count("CHAT_MAX_MEMBERSHIPS", d.max_memberships, 1_000_000)?,
        })
    }
}

impl Tuning {
    pub const DEFAULT: Self = Self {
        heartbeat_interval: Duration::from_secs(15),
        client_timeout: Duration::from_secs(45),
        outbox_capacity: 4096,
        outbox_bytes: DEFAULT_OUTBOX_BYTES,
        write_batch: 256,
        write_queue: 4096,
        write_queue_bytes: 16 * MIB,
        publish_queue: 16_384,
        publish_queue_bytes: 32 * MIB,
        gap_wait: Duration::from_millis(100),
        sweep_interval: Duration::from_secs(5),
        replay_concurrency: 6,
        relay_jobs: 1024,
        presence_ttl: Duration::from_secs(30),
        presence_events_max: 200,
        read_flush: Duration::from_millis(1000),
        room_receipts_per_sec: 10,
        drain_timeout: Duration::from_secs(10),
    };

    fn from_env() -> Result<Self, EnvError> {
        let d = Self::DEFAULT;
        let tuning = Self {
            heartbeat_interval: secs("CHAT_HEARTBEAT_SECS", d.heartbeat_interval, 3600)?,
            client_timeout: secs("CHAT_CLIENT_TIMEOUT_SECS", d.client_timeout, 3600)?,
            outbox_capacity: count("CHAT_OUTBOX_CAPACITY", d.outbox_capacity, 1_000_000)?,
            outbox_bytes: count("CHAT_OUTBOX_BYTES", d.outbox_bytes, 1024 * MIB)?,
            write_batch: count("CHAT_WRITE_BATCH", d.write_batch, 10_000)?,
            write_queue: count("CHAT_WRITE_QUEUE", d.write_queue, 1_000_000)?,
            // The byte bound is a semaphore of u32 permits.
            write_queue_bytes: count("CHAT_WRITE_QUEUE_BYTES", d.write_queue_bytes, 4095 * MIB)?,
            publish_queue: count("CHAT_PUBLISH_QUEUE", d.publish_queue, 10_000_000)?,
            publish_queue_bytes: count(
                "CHAT_PUBLISH_QUEUE_BYTES",
                d.publish_queue_bytes,
                64 * 1024 * MIB,
            )?,
            gap_wait: millis("CHAT_GAP_WAIT_MS", d.gap_wait, 60_000)?,
            sweep_interval: secs("CHAT_SWEEP_SECS", d.sweep_interval, 3600)?,
            replay_concurrency: count("CHAT_REPLAY_CONCURRENCY", d.replay_concurrency, 10_000)?,
            relay_jobs: count("CHAT_RELAY_JOBS", d.relay_jobs, 1_000_000)?,
            presence_ttl: secs("PRESENCE_TTL", d.presence_ttl, 86_400)?,
            presence_events_max: count(
                "CHAT_PRESENCE_EVENTS_MAX",
                d.presence_events_max,
                1_000_000,
            )?,
            read_flush: millis("CHAT_READ_FLUSH_MS", d.read_flush, 60_000)?,
            room_receipts_per_sec: count_u32(
                "CHAT_ROOM_RECEIPTS_PER_SEC",
                d.room_receipts_per_sec,
            )?,
            drain_timeout: secs("CHAT_DRAIN_SECS", d.drain_timeout, 3600)?,
        };
        if tuning.presence_ttl < Duration::from_secs(3) {
            return Err(env::invalid(
                "PRESENCE_TTL",
                &tuning.presence_ttl.as_secs().to_string(),
                "must be at least 3 seconds",
            ));
        }
        if tuning.client_timeout <= tuning.heartbeat_interval {
            return Err(env::invalid(
                "CHAT_CLIENT_TIMEOUT_SECS",
                &tuning.client_timeout.as_secs().to_string(),
                "must be longer than CHAT_HEARTBEAT_SECS",
            ));
        }
        Ok(tuning)
    }
}

fn count_u32(name: &'static str, default: u32) -> Result<u32, EnvError> {
    let value = count(
        name,
        usize::try_from(default).unwrap_or(usize::MAX),
        1_000_000,
    )?;
    u32::try_from(value).map_err(|_| env::invalid(name, &value.to_string(), "too large"))
}

fn secs(name: &'static str, default: Duration, max: usize) -> Result<Duration, EnvError> {
    let default = usize::try_from(default.as_secs()).unwrap_or(max);
    let value = count(name, default, max)?;
    Ok(Duration::from_secs(
        u64::try_from(value).unwrap_or(u64::MAX),
    ))
}

fn millis(name: &'static str, default: Duration, max: usize) -> Result<Duration, EnvError> {
    let default = usize::try_from(default.as_millis()).unwrap_or(max);
    let value = count(name, default, max)?;
    Ok(Duration::from_millis(
        u64::try_from(value).unwrap_or(u64::MAX),
    ))
}
