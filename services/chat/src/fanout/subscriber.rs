//! The replica's one Redis subscriber connection: room channels while they have
//! local members, plus the auth revocation channel. It uses RESP3 so the same
//! connection can be named (`CLIENT SETNAME`, for operators and tests) and pinged.
//!
//! Subscription changes are coalesced by the hub: however many joins and
//! leaves happened since the last turn, one `SUBSCRIBE` and one `UNSUBSCRIBE`
//! carry them all. A room goes live only once its channel is subscribed.
//!
//! When the connection drops, the replica reports not ready, reconnects with
//! backoff, resubscribes every room that has local members, asks the hub for a
//! sweep (every room's last id read from PostgreSQL: what was published during
//! the gap is filled from there), and re-checks the revocation markers of its
//! open sockets, since announcements sent during the gap were lost.

use std::{
    collections::HashSet,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use auth::{Revocation, RevocationKeys};
use deadpool_redis::redis::{
    self, AsyncConnectionConfig, IntoConnectionInfo, ProtocolVersion, PushInfo, PushKind, Value,
    aio::MultiplexedConnection,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Channels, Delivery, wire};
use crate::{fanout::Hub, metrics::Metrics};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);
const PING_EVERY: Duration = Duration::from_secs(5);
const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Whether the subscriber is connected; `/readyz` reports it.
#[derive(Debug, Clone, Default)]
pub struct FanoutStatus(Arc<AtomicBool>);

impl FanoutStatus {
    pub fn is_connected(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn set(&self, up: bool) {
        self.0.store(up, Ordering::Release);
    }
}

pub struct Subscriber {
    pub redis_url: String,
    /// `CLIENT SETNAME` value; names the replica in `CLIENT LIST`.
    pub client_name: String,
    pub channels: Channels,
    pub hub: Arc<Hub>,
    pub metrics: Metrics,
    pub status: FanoutStatus,
    pub revocation_keys: RevocationKeys,
    pub pool: deadpool_redis::Pool,
    pub shutdown: CancellationToken,
}

/// Most pushes taken from the queue before the loop looks at its other work.
const PUSH_BATCH_MAX: usize = 1024;

/// A push this subscriber acts on.
enum Push {
    Room(Arc<Delivery>),
    Revocation(Vec<u8>),
}

struct Connected {
    conn: MultiplexedConnection,
    pushes: mpsc::UnboundedReceiver<PushInfo>,
    subscribed: HashSet<Arc<str>>,
}

impl Subscriber {
    pub async fn run(self) {
        let mut backoff = BACKOFF_START;
        let mut ever_connected = false;
        while !self.shutdown.is_cancelled() {
            match self.connect().await {
                Ok(mut connected) => {
                    backoff = BACKOFF_START;
                    self.status.set(true);
                    if ever_connected {
                        self.metrics.redis_reconnects.inc();
                        tracing::info!("redis subscriber reconnected");
                        self.hub.request_sweep();
                        self.recheck_revocations().await;
                    }
                    ever_connected = true;
                    let why = self.serve(&mut connected).await;
                    self.status.set(false);
                    self.metrics.rooms_subscribed.set(0);
                    match why {
                        Ok(()) => return,
                        Err(e) => {
                            tracing::warn!(error = %e, "redis subscriber connection lost");
                            // Until it is back, gaps are found by sweeping.
                            self.hub.request_sweep();
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, ?backoff, "redis subscriber cannot connect"),
            }
            tokio::select! {
                () = self.shutdown.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    async fn connect(&self) -> anyhow::Result<Connected> {
        let info = self.redis_url.as_str().into_connection_info()?;
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let tcp = info.tcp_settings().clone().set_nodelay(true);
        let client = redis::Client::open(info.set_redis_settings(settings).set_tcp_settings(tcp))?;
        let (tx, pushes) = mpsc::unbounded_channel();
        let config = AsyncConnectionConfig::new()
            .set_push_sender(tx)
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT));
        let mut conn = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        redis::cmd("CLIENT")
            .arg("SETNAME")
            .arg(&self.client_name)
            .query_async::<()>(&mut conn)
            .await?;
        // Changes queued before now are covered by subscribing to every room.
        let _ = self.hub.subscription_changes();
        let rooms = self.hub.rooms();
        let mut names: Vec<String> = rooms.iter().map(|r| self.channels.room(r)).collect();
        names.push(self.channels.revocations().to_owned());
        conn.subscribe(&names).await?;
        self.hub.subscribed(&rooms);
        self.metrics
            .rooms_subscribed
            .set(i64::try_from(rooms.len()).unwrap_or(i64::MAX));
        Ok(Connected {
            conn,
            pushes,
            subscribed: rooms.into_iter().collect(),
        })
    }

    /// Runs until shutdown (`Ok`) or until the connection fails (`Err`).
    async fn serve(&self, c: &mut Connected) -> anyhow::Result<()> {
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = self.shutdown.cancelled() => return Ok(()),
                push = c.pushes.recv() => match push {
                    Some(p) => self.on_pushes(p, &mut c.pushes)?,
                    None => anyhow::bail!("push channel closed"),
                },
                () = self.hub.subscriptions_changed() => self.apply_changes(c).await?,
                _ = ping.tick() => {
                    redis::cmd("PING").query_async::<Value>(&mut c.conn).await?;
                }
            }
        }
    }

    /// One `SUBSCRIBE` and one `UNSUBSCRIBE` for every change since the last turn.
    async fn apply_changes(&self, c: &mut Connected) -> anyhow::Result<()> {
        let changes = self.hub.subscription_changes();
        let mut subscribe = Vec::new();
        let mut confirmed = Vec::new();
        let mut unsubscribe = Vec::new();
        for change in changes {
            match (change.wanted, c.subscribed.contains(&change.room)) {
                (true, true) => confirmed.push(change.room),
                (true, false) => subscribe.push(change.room),
                (false, true) => unsubscribe.push(change.room),
                (false, false) => {}
            }
        }
        if !subscribe.is_empty() {
            let names: Vec<String> = subscribe.iter().map(|r| self.channels.room(r)).collect();
            c.conn.subscribe(&names).await?;
            c.subscribed.extend(subscribe.iter().cloned());
            confirmed.extend(subscribe);
        }
        if !unsubscribe.is_empty() {
            let names: Vec<String> = unsubscribe.iter().map(|r| self.channels.room(r)).collect();
            c.conn.unsubscribe(&names).await?;
            for room in &unsubscribe {
                c.subscribed.remove(room);
            }
        }
        // A room created again while its channel stayed subscribed needs its
        // baseline as much as a newly subscribed one.
        if !confirmed.is_empty() {
            self.hub.subscribed(&confirmed);
        }
        self.metrics
            .rooms_subscribed
            .set(i64::try_from(c.subscribed.len()).unwrap_or(i64::MAX));
        Ok(())
    }

    /// Handles `first` and every push already waiting behind it, offering the
    /// room messages among them to the hub as one batch. Pushes keep their
    /// order: a revocation first offers what came before it.
    fn on_pushes(
        &self,
        first: PushInfo,
        pushes: &mut mpsc::UnboundedReceiver<PushInfo>,
    ) -> anyhow::Result<()> {
        let mut batch = Vec::new();
        let mut next = Some(first);
        let mut taken = 0;
        while let Some(push) = next.take() {
            if push.kind == PushKind::Disconnection {
                self.hub.offer(&batch);
                anyhow::bail!("disconnected");
            }
            match self.decode(push) {
                Some(Push::Room(delivery)) => batch.push(delivery),
                Some(Push::Revocation(payload)) => {
                    self.hub.offer(&std::mem::take(&mut batch));
                    self.on_revocation(&payload);
                }
                None => {}
            }
            taken += 1;
            if taken < PUSH_BATCH_MAX {
                next = pushes.try_recv().ok();
            }
        }
        self.hub.offer(&batch);
        Ok(())
    }

    fn decode(&self, push: PushInfo) -> Option<Push> {
        if push.kind != PushKind::Message {
            return None;
        }
        let mut data = push.data.into_iter();
        let (Some(channel), Some(payload)) = (data.next(), data.next()) else {
            return None;
        };
        let (Ok(channel), Ok(payload)) = (
            redis::from_redis_value::<String>(channel),
            redis::from_redis_value::<Vec<u8>>(payload),
        ) else {
            return None;
        };
        if channel == self.channels.revocations() {
            return Some(Push::Revocation(payload));
        }
        let room = self.channels.room_of(&channel)?;
        let Some((delivery, published_at)) = wire::decode(Arc::from(room), payload) else {
            tracing::warn!(%channel, "ignoring a malformed room payload");
            return None;
        };
        let micros = wire::now_micros().saturating_sub(published_at).max(0);
        #[allow(clippy::cast_precision_loss)] // microseconds to seconds, for a histogram
        self.metrics
            .fanout_latency_seconds
            .observe(micros as f64 / 1e6);
        Some(Push::Room(Arc::new(delivery)))
    }

    fn on_revocation(&self, payload: &[u8]) {
        match serde_json::from_slice::<Revocation>(payload) {
            Ok(r) => {
                let closed = self.hub.revoke(r.sid);
                tracing::info!(sid = %r.sid, reason = ?r.reason, closed, "login revoked");
            }
            Err(e) => tracing::warn!(error = %e, "ignoring a malformed revocation"),
        }
    }

    async fn recheck_revocations(&self) {
        let logins = self.hub.logins();
        if logins.is_empty() {
            return;
        }
        let Ok(mut conn) = self.pool.get().await else {
            tracing::warn!("cannot re-check revocations: no redis connection");
            return;
        };
        for (sid, jti) in logins {
            let mut pipe = redis::pipe();
            pipe.exists(self.revocation_keys.sid(sid))
                .exists(self.revocation_keys.jti(jti));
            match pipe.query_async::<(bool, bool)>(&mut conn).await {
                Ok((true, _)) => {
                    self.hub.revoke(sid);
                }
                Ok((false, true)) => self.hub.revoke_jti(jti),
                Ok((false, false)) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "revocation re-check failed");
                    return;
                }
            }
        }
    }
}
