//! Pub/sub on one Redis or on a cluster. On a cluster, channels are sharded
//! (`SSUBSCRIBE`/`SPUBLISH`): a channel lives on the node that owns its slot, so
//! a message crosses one shard instead of being broadcast to every node as a
//! classic `PUBLISH` is. redis-rs's cluster connection resubscribes a lost
//! node's channels only when it next refreshes its slot map, which after a
//! failover nothing on a subscribing connection triggers: a
//! [`PushKind::Disconnection`] is passed on to the caller, which should make a
//! new subscription once the cluster is whole (and reconcile from its store
//! what was published meanwhile).
//!
//! Rare, cluster-wide announcements (token revocations) stay on a classic
//! channel: one message reaches every node, and publishing it needs no slot, so
//! it can ride inside another key's `MULTI`.

use std::collections::HashMap;

use super::{
    Topology, cluster_client, connection_info,
    push_queue::{self, Bounds, Pushes},
};
use crate::settings::RedisSettings;
use redis::{
    PushInfo, PushKind, Value, aio::MultiplexedConnection, cluster_async::ClusterConnection,
    cluster_routing::Slot,
};

/// A subscribing connection and the pushes it receives.
pub struct Subscription {
    conn: Conn,
    pub pushes: Pushes,
}

enum Conn {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

/// A received channel message: `(channel, payload)`, from either kind of channel.
pub fn message(push: PushInfo) -> Option<(Value, Value)> {
    if !matches!(push.kind, PushKind::Message | PushKind::SMessage) {
        return None;
    }
    let mut data = push.data.into_iter();
    Some((data.next()?, data.next()?))
}

/// The channel of an unsubscribe confirmation. Besides answering this
/// connection's own `UNSUBSCRIBE`, a cluster node sends one unasked for every
/// sharded channel of a slot it stops serving (a resharding moved the slot).
pub fn unsubscribed(push: &PushInfo) -> Option<String> {
    if !matches!(push.kind, PushKind::Unsubscribe | PushKind::SUnsubscribe) {
        return None;
    }
    redis::from_redis_value_ref(push.data.first()?).ok()
}

impl Subscription {
    /// Connects; on one Redis the connection is named `name` (`CLIENT LIST`).
    pub async fn connect(settings: &RedisSettings, name: &str) -> anyhow::Result<Self> {
        let (tx, pushes) = push_queue::channel(Bounds::DEFAULT);
        let topology = Topology::parse(&settings.url).map_err(|e| anyhow::anyhow!(e))?;
        let conn = match topology {
            Topology::Single(url) => {
                let info = connection_info(&url)?;
                let redis_settings = info
                    .redis_settings()
                    .clone()
                    .set_protocol(redis::ProtocolVersion::RESP3);
                let client = redis::Client::open(info.set_redis_settings(redis_settings))?;
                let config = redis::AsyncConnectionConfig::new()
                    .set_push_sender(tx)
                    .set_connection_timeout(Some(settings.timeout))
                    .set_response_timeout(Some(settings.timeout));
                let mut conn = client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await?;
                redis::cmd("CLIENT")
                    .arg("SETNAME")
                    .arg(name)
                    .query_async::<()>(&mut conn)
                    .await?;
                Conn::Single(conn)
            }
            Topology::Cluster(nodes) => {
                let client = cluster_client(&nodes, settings.timeout, Some(tx))?;
                let conn = tokio::time::timeout(settings.timeout, client.get_async_connection())
                    .await
                    .map_err(|_| anyhow::anyhow!("connecting to the Redis Cluster timed out"))??;
                Conn::Cluster(conn)
            }
        };
        Ok(Self { conn, pushes })
    }

    /// Whether the connection outlives one node failing to answer (a cluster:
    /// the other nodes' channels still arrive) or is over (one Redis).
    pub fn survives_disconnection(&self) -> bool {
        matches!(self.conn, Conn::Cluster(_))
    }

    /// Subscribes to channels that carry many messages: sharded on a cluster
    /// (one `SSUBSCRIBE` per slot, as the command must keep to one).
    pub async fn subscribe(&mut self, channels: &[String]) -> redis::RedisResult<()> {
        match &mut self.conn {
            Conn::Single(conn) if !channels.is_empty() => conn.subscribe(channels).await,
            Conn::Single(_) => Ok(()),
            Conn::Cluster(conn) => {
                for group in by_slot(channels) {
                    conn.ssubscribe(&group).await?;
                }
                Ok(())
            }
        }
    }

    pub async fn unsubscribe(&mut self, channels: &[String]) -> redis::RedisResult<()> {
        match &mut self.conn {
            Conn::Single(conn) if !channels.is_empty() => conn.unsubscribe(channels).await,
            Conn::Single(_) => Ok(()),
            Conn::Cluster(conn) => {
                for group in by_slot(channels) {
                    conn.sunsubscribe(&group).await?;
                }
                Ok(())
            }
        }
    }

    /// Subscribes to a classic, cluster-wide channel.
    pub async fn subscribe_broadcast(&mut self, channel: &str) -> redis::RedisResult<()> {
        match &mut self.conn {
            Conn::Single(conn) => conn.subscribe(channel).await,
            Conn::Cluster(conn) => conn.subscribe(channel).await,
        }
    }

    pub async fn ping(&mut self) -> redis::RedisResult<()> {
        let ping = redis::cmd("PING");
        match &mut self.conn {
            Conn::Single(conn) => ping.query_async::<Value>(conn).await.map(drop),
            Conn::Cluster(conn) => ping.query_async::<Value>(conn).await.map(drop),
        }
    }
}

/// The command that publishes on a channel subscribed with [`Subscription::subscribe`].
pub fn publish_command(cluster: bool) -> &'static str {
    if cluster { "SPUBLISH" } else { "PUBLISH" }
}

/// Channels grouped by slot, each group in the order given.
pub fn by_slot(channels: &[String]) -> Vec<Vec<String>> {
    let mut groups: HashMap<Slot, Vec<String>> = HashMap::new();
    let mut order: Vec<Slot> = Vec::new();
    for channel in channels {
        let slot = Slot::for_key(channel.as_bytes());
        let group = groups.entry(slot).or_insert_with(|| {
            order.push(slot);
            Vec::new()
        });
        group.push(channel.clone());
    }
    order
        .into_iter()
        .filter_map(|slot| groups.remove(&slot))
        .collect()
}
