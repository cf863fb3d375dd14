//! Redis clients built from [`RedisSettings`].
//!
//! [`shared`] is what request paths use: one multiplexed connection that every
//! task of a process pipelines its commands over, reconnecting on its own.
//! deadpool-redis, by contrast, sends `UNWATCH` and `PING` on every checkout (a
//! round trip before each request's real work) and keeps a connection out of
//! the pool for as long as the caller holds it.

use deadpool_redis::redis::{
    self, IntoConnectionInfo,
    aio::{ConnectionManager, ConnectionManagerConfig},
    io::tcp::TcpSettings,
};

use crate::settings::RedisSettings;

/// A cheap-to-clone handle on one auto-reconnecting multiplexed connection.
pub type Shared = ConnectionManager;

/// Connects lazily: nothing is dialled until the first command, so a service
/// starts (and reports not-ready) while Redis is down. Every wait (connecting,
/// a reply) is bounded by `settings.timeout`, after which the command fails.
pub fn shared(settings: &RedisSettings) -> anyhow::Result<Shared> {
    // Nagle off: many requests write to the one socket, and a small write
    // behind an unacknowledged one would wait for Redis' delayed ACK (40 ms).
    let info = connection_info(settings)?;
    let client = redis::Client::open(info).map_err(|e| anyhow::anyhow!("REDIS_URL: {e}"))?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(settings.timeout))
        .set_response_timeout(Some(settings.timeout))
        // One quick retry; after that the request fails fast as unavailable and
        // the next one tries again.
        .set_number_of_retries(1)
        .set_max_delay(std::time::Duration::from_millis(100));
    ConnectionManager::new_lazy_with_config(client, config)
        .map_err(|e| anyhow::anyhow!("REDIS_URL: {e}"))
}

/// A deadpool-redis pool with every wait bounded (its defaults wait forever for
/// a free connection), for code that needs one (the auth crate's
/// `Authenticator`, pub/sub helpers).
pub fn pool(settings: &RedisSettings) -> anyhow::Result<deadpool_redis::Pool> {
    // Built from the manager rather than `deadpool_redis::Config`, which drops
    // the TCP settings: Nagle off here too.
    let manager = deadpool_redis::Manager::new(connection_info(settings)?)
        .map_err(|e| anyhow::anyhow!("REDIS_URL: {e}"))?;
    deadpool_redis::Pool::builder(manager)
        .max_size(settings.pool_size)
        .wait_timeout(Some(settings.timeout))
        .create_timeout(Some(settings.timeout))
        .recycle_timeout(Some(settings.timeout))
        .runtime(deadpool_redis::Runtime::Tokio1)
        .build()
        .map_err(|e| anyhow::anyhow!("REDIS_URL: {e}"))
}

/// `REDIS_URL` with `TCP_NODELAY` set.
fn connection_info(settings: &RedisSettings) -> anyhow::Result<redis::ConnectionInfo> {
    Ok(settings
        .url
        .as_str()
        .into_connection_info()
        .map_err(|e| anyhow::anyhow!("REDIS_URL: {e}"))?
        .set_tcp_settings(TcpSettings::default().set_nodelay(true)))
}
