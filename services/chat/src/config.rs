//! Settings from the environment. The contract's variables keep the contract's
//! defaults; every setting added here has a default too, so the service starts with
//! only `JWT_PUBLIC_KEYS` set. Every error names its variable.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use platform::{
    client_ip::TrustedProxies,
    env::{self, EnvError, LogFormat},
    origins::AllowedOrigins,
};

#[derive(Debug, Clone)]
pub struct Config {
    pub listen_addr: SocketAddr,
    pub redis_url: String,
    pub database_url: String,
    pub jwt_public_keys: Vec<PathBuf>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub allowed_origins: AllowedOrigins,
    pub trusted_proxies: TrustedProxies,
    pub redis_key_prefix: String,
    pub log_format: LogFormat,
    pub migrate_on_start: bool,
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
    /// The bytes are the bound that matters (Centrifugo's 1 MiB); the count
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
    /// `CHAT_READ_FLUSH_MS`: read markers are coalesced per user and room this
    /// long before they are written and announced.
    pub read_flush: Duration,
    /// `CHAT_DRAIN_SECS`: on SIGTERM, how long queued messages may take to be
    /// stored, published and echoed before every socket is closed with 1001.
    pub drain_timeout: Duration,
    /// `DATABASE_POOL_SIZE`.
    pub database_pool_size: usize,
    /// `CHAT_WORKERS`: HTTP worker threads (default: one per CPU).
    pub workers: usize,
}

impl Config {
    pub fn from_env() -> Result<Self, EnvError> {
        let listen = env::or("LISTEN_ADDR", "127.0.0.1:8082");
        let jwt_public_keys: Vec<PathBuf> = env::list("JWT_PUBLIC_KEYS")
            .into_iter()
            .map(PathBuf::from)
            .collect();
        if jwt_public_keys.is_empty() {
            return Err(EnvError::Missing {
                name: "JWT_PUBLIC_KEYS",
            });
        }
        let limits = Limits {
            max_message_chars: positive_usize("MAX_MESSAGE_CHARS", 4000)?,
            max_frame_bytes: positive_usize("MAX_FRAME_BYTES", 65536)?,
            rate_per_sec: positive_u32("CHAT_RATE", 20)?,
            burst: positive_u32("CHAT_BURST", 40)?,
            max_rooms_per_socket: positive_usize("CHAT_MAX_ROOMS_PER_SOCKET", 100)?,
            control_rate_per_sec: positive_u32("CHAT_CONTROL_RATE", 50)?,
            control_burst: positive_u32("CHAT_CONTROL_BURST", 100)?,
            max_sockets_per_user: positive_usize("CHAT_MAX_SOCKETS_PER_USER", 32)?,
        };
        let tuning = Tuning {
            heartbeat_interval: Duration::from_secs(env::positive_or("CHAT_HEARTBEAT_SECS", 15)?),
            client_timeout: Duration::from_secs(env::positive_or("CHAT_CLIENT_TIMEOUT_SECS", 45)?),
            outbox_capacity: positive_usize("CHAT_OUTBOX_CAPACITY", 4096)?,
            outbox_bytes: positive_usize("CHAT_OUTBOX_BYTES", DEFAULT_OUTBOX_BYTES)?,
            write_batch: positive_usize("CHAT_WRITE_BATCH", 256)?,
            write_queue: positive_usize("CHAT_WRITE_QUEUE", 4096)?,
            write_queue_bytes: positive_usize("CHAT_WRITE_QUEUE_BYTES", 16 << 20)?,
            publish_queue: positive_usize("CHAT_PUBLISH_QUEUE", 16_384)?,
            publish_queue_bytes: positive_usize("CHAT_PUBLISH_QUEUE_BYTES", 32 << 20)?,
            gap_wait: Duration::from_millis(env::positive_or("CHAT_GAP_WAIT_MS", 100)?),
            sweep_interval: Duration::from_secs(env::positive_or("CHAT_SWEEP_SECS", 5)?),
            replay_concurrency: positive_usize("CHAT_REPLAY_CONCURRENCY", 6)?,
            relay_jobs: positive_usize("CHAT_RELAY_JOBS", 1024)?,
            presence_ttl: Duration::from_secs(env::positive_or("PRESENCE_TTL", 30)?),
            presence_events_max: positive_usize("CHAT_PRESENCE_EVENTS_MAX", 200)?,
            read_flush: Duration::from_millis(env::positive_or("CHAT_READ_FLUSH_MS", 250)?),
            drain_timeout: Duration::from_secs(env::positive_or("CHAT_DRAIN_SECS", 10)?),
            database_pool_size: positive_usize("DATABASE_POOL_SIZE", 10)?,
            workers: positive_usize("CHAT_WORKERS", default_workers())?,
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
        let redis_url = env::or("REDIS_URL", "redis://127.0.0.1:6379");
        if let Err(e) = deadpool_redis::redis::Client::open(redis_url.as_str()) {
            return Err(env::invalid("REDIS_URL", &redis_url, e.to_string()));
        }
        Ok(Self {
            listen_addr: env::parse("LISTEN_ADDR", &listen)?,
            redis_url,
            database_url: env::or(
                "DATABASE_URL",
                "postgres://postgres@127.0.0.1:5432/chatverify",
            ),
            jwt_public_keys,
            jwt_issuer: env::or("JWT_ISSUER", "chatverify"),
            jwt_audience: env::or("JWT_AUDIENCE", "chatverify"),
            allowed_origins: AllowedOrigins::from_env()?,
            trusted_proxies: TrustedProxies::from_env()?,
            redis_key_prefix: std::env::var("REDIS_KEY_PREFIX").unwrap_or_default(),
            log_format: LogFormat::from_env()?,
            migrate_on_start: env::bool_or("MIGRATE_ON_START", true)?,
            limits,
            tuning,
        })
    }

    /// The defaults with the given backends: what tests start from.
    pub fn with_backends(database_url: &str, redis_url: &str, public_keys: Vec<PathBuf>) -> Self {
        Self {
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            redis_url: redis_url.to_owned(),
            database_url: database_url.to_owned(),
            jwt_public_keys: public_keys,
            jwt_issuer: "chatverify".into(),
            jwt_audience: "chatverify".into(),
            allowed_origins: AllowedOrigins::default(),
            trusted_proxies: TrustedProxies::default(),
            redis_key_prefix: String::new(),
            log_format: LogFormat::Pretty,
            migrate_on_start: true,
            limits: Limits {
                max_message_chars: 4000,
                max_frame_bytes: 65536,
                rate_per_sec: 20,
                burst: 40,
                max_rooms_per_socket: 100,
                control_rate_per_sec: 50,
                control_burst: 100,
                max_sockets_per_user: 32,
            },
            tuning: Tuning {
                heartbeat_interval: Duration::from_secs(15),
                client_timeout: Duration::from_secs(45),
                outbox_capacity: 4096,
                outbox_bytes: DEFAULT_OUTBOX_BYTES,
                write_batch: 256,
                write_queue: 4096,
                write_queue_bytes: 16 << 20,
                publish_queue: 16_384,
                publish_queue_bytes: 32 << 20,
                gap_wait: Duration::from_millis(100),
                sweep_interval: Duration::from_secs(5),
                replay_concurrency: 6,
                relay_jobs: 1024,
                presence_ttl: Duration::from_secs(30),
                presence_events_max: 200,
                read_flush: Duration::from_millis(250),
                drain_timeout: Duration::from_secs(10),
                database_pool_size: 10,
                workers: 1,
            },
        }
    }
}

/// A client's queue, as Centrifugo bounds it: 1 MiB.
const DEFAULT_OUTBOX_BYTES: usize = 1 << 20;

fn positive_usize(name: &'static str, default: usize) -> Result<usize, EnvError> {
    let value = env::positive_or(name, u64::try_from(default).unwrap_or(u64::MAX))?;
    usize::try_from(value).map_err(|_| env::invalid(name, &value.to_string(), "too large"))
}

fn positive_u32(name: &'static str, default: u32) -> Result<u32, EnvError> {
    let value = env::positive_or(name, u64::from(default))?;
    u32::try_from(value).map_err(|_| env::invalid(name, &value.to_string(), "too large"))
}

fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
