//! Redis clients built from [`RedisSettings`], for one Redis or a Redis Cluster.
//!
//! [`shared`] is what request paths use: one multiplexed connection (per node,
//! on a cluster) that every task of a process pipelines its commands over,
//! reconnecting on its own. deadpool-redis, by contrast, sends `UNWATCH` and
//! `PING` on every checkout (a round trip before each request's real work).
//!
//! On a cluster every command is routed to the node owning its keys' slot, a
//! pipeline or script must keep to one slot ([`slots`] helps name keys that
//! share one), and pub/sub is sharded ([`pubsub`]).

pub mod pubsub;
pub mod push_queue;
pub mod slots;
mod split;
pub mod topology;

use std::{sync::Arc, time::Duration};

use redis::{
    Cmd, IntoConnectionInfo, Pipeline, RedisFuture, Value,
    aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig},
    cluster::ClusterClient,
    cluster_async::ClusterConnection,
    io::tcp::TcpSettings,
};
use tokio::sync::OnceCell;

pub use self::topology::Topology;
use crate::settings::RedisSettings;

/// A cheap-to-clone handle on the process's Redis connection(s).
#[derive(Clone)]
pub enum Shared {
    Single(ConnectionManager),
    Cluster(LazyCluster),
}

/// A cluster connection made on first use, so a service starts (and reports
/// not ready) while the cluster is down; a failed attempt is tried again by the
/// next command.
#[derive(Clone)]
pub struct LazyCluster {
    client: Arc<ClusterClient>,
    conn: Arc<OnceCell<ClusterConnection>>,
    timeout: Duration,
}

impl LazyCluster {
    async fn get(&self) -> redis::RedisResult<ClusterConnection> {
        self.conn
            .get_or_try_init(|| async {
                tokio::time::timeout(self.timeout, self.client.get_async_connection())
                    .await
                    .map_err(|_| {
                        redis::RedisError::from(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "connecting to the Redis Cluster timed out",
                        ))
                    })?
            })
            .await
            .cloned()
    }
}

impl ConnectionLike for Shared {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(conn) => conn.req_packed_command(cmd),
            Self::Cluster(lazy) => Box::pin(async move {
                let mut conn = lazy.get().await?;
                conn.req_packed_command(cmd).await
            }),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Cluster(lazy) => Box::pin(async move {
                let mut conn = lazy.get().await?;
                split::send(&mut conn, pipeline, offset, count).await
            }),
        }
    }

    fn get_db(&self) -> i64 {
        0
    }
}

impl Shared {
    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }
}

/// Connects lazily. Every wait (connecting, a reply) is bounded by
/// `settings.timeout`, after which the command fails.
pub fn shared(settings: &RedisSettings) -> anyhow::Result<Shared> {
    match Topology::parse(&settings.url).map_err(|e| anyhow::anyhow!("REDIS_URL: {e}"))? {
        Topology::Single(url) => {
            let client = redis::Client::open(connection_info(&url)?)
                .map_err(|e| anyhow::anyhow!("REDIS_URL: {e}"))?;
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(settings.timeout))
                .set_response_timeout(Some(settings.timeout))
                // One quick retry; after that the request fails fast as
                // unavailable and the next one tries again.
                .set_number_of_retries(1)
                .set_max_delay(Duration::from_millis(100));
            Ok(Shared::Single(
                ConnectionManager::new_lazy_with_config(client, config)
                    .map_err(|e| anyhow::anyhow!("REDIS_URL: {e}"))?,
            ))
        }
        Topology::Cluster(nodes) => Ok(Shared::Cluster(LazyCluster {
            client: Arc::new(cluster_client(&nodes, settings.timeout, None)?),
            conn: Arc::new(OnceCell::new()),
            timeout: settings.timeout,
        })),
    }
}

/// A cluster client, with Nagle off on every node connection; `pushes` makes
/// it a RESP3 client that hands pub/sub messages there.
pub(crate) fn cluster_client(
    nodes: &[String],
    timeout: Duration,
    pushes: Option<push_queue::PushSender>,
) -> anyhow::Result<ClusterClient> {
    let mut builder = redis::cluster::ClusterClientBuilder::new(nodes.to_vec())
        .tcp_settings(TcpSettings::default().set_nodelay(true))
        .connection_timeout(timeout)
        .response_timeout(timeout)
        .retries(2);
    if let Some(pushes) = pushes {
        builder = builder
            .use_protocol(redis::ProtocolVersion::RESP3)
            .push_sender(pushes);
    }
    builder
        .build()
        .map_err(|e| anyhow::anyhow!("REDIS_URL: {e}"))
}

/// A single node's URL with `TCP_NODELAY` set: many requests write to one
/// socket, and a small write behind an unacknowledged one would wait for the
/// peer's delayed ACK (40 ms).
pub(crate) fn connection_info(url: &str) -> anyhow::Result<redis::ConnectionInfo> {
    Ok(url
        .into_connection_info()
        .map_err(|e| anyhow::anyhow!("REDIS_URL: {e}"))?
        .set_tcp_settings(TcpSettings::default().set_nodelay(true)))
}
