//! The replica's one Redis subscriber connection: room channels while they have
//! local members, plus the auth revocation channel. It uses RESP3 so the same
//! connection can be named (`CLIENT SETNAME`, for operators and tests) and pinged.
//!
//! Subscription changes are coalesced by the hub: however many joins and
//! leaves happened since the last turn, one `SUBSCRIBE` and one `UNSUBSCRIBE`
//! carry them all. A room goes live only once its channel is subscribed.
//!
//! When the connection drops (on a cluster: any node's), the replica reports
//! not ready, reconnects with backoff, resubscribes every room that has local
//! members, asks the hub for a sweep (every room's last id read from
//! PostgreSQL: what was published during the gap is filled from there), and
//! re-checks the revocation markers of its open sockets, since announcements
//! sent during the gap were lost.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use auth::{Revocation, RevocationKeys};
use deadpool_redis::redis::{self, PushInfo, PushKind};
use platform::{
    redis::{
        pubsub::{self, Subscription},
        push_queue::Pushes,
    },
    settings::RedisSettings,
};
use tokio_util::sync::CancellationToken;

use self::decode::Push;
use super::{Channels, Delivery, Topic};
use crate::{
    fanout::{Hub, hub::Event},
    metrics::Metrics,
};

mod decode;

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
    pub settings: RedisSettings,
    /// `CLIENT SETNAME` value; names the replica in `CLIENT LIST`.
    pub client_name: String,
    pub channels: Channels,
    pub hub: Arc<Hub>,
    pub metrics: Metrics,
    pub status: FanoutStatus,
    pub revocation_keys: RevocationKeys,
    /// Request-path commands (the revocation re-check).
    pub redis: platform::redis::Shared,
    /// This process's id in event origins: its own sockets' typing is not sent back.
    pub replica: uuid::Uuid,
    pub shutdown: CancellationToken,
}

/// Most pushes taken from the queue before the loop looks at its other work.
const PUSH_BATCH_MAX: usize = 1024;

/// What the caller must do after a run of pushes.
enum Pushed {
    Handled,
    /// A node's connection dropped: this subscription is over, on a cluster
    /// as on one Redis. redis-rs would move a lost master's sharded
    /// subscriptions to the replica that takes over only when this connection
    /// refreshes its slot map, and nothing on it asks for that after a
    /// failover (its `PING` goes to any node): 30 s after a promotion the
    /// subscriber still heard nothing on the lost master's channels, so their
    /// events were lost and their messages came from sweeps alone. A new
    /// connection, once the cluster is whole, subscribes every topic where its
    /// slot now is.
    Lost,
    /// The server unsubscribed these topics (see [`Subscriber::resubscribe`]).
    Unsubscribed(Vec<Topic>),
}

/// What a turn has decoded and not yet handed to the hub. Events wait in the
/// hub for their room's next release (`hub/linger.rs`), so a turn's events are
/// parked before its messages are offered and ride in front of them: split at
/// every change of kind, as when events were handed over at once, a room
/// whose messages each came after a `typing` was offered one message at a
/// time, a run and a wake per socket per message (typing mixed in at 40,000
/// deliveries/s: p99 6.7 → 37.4 ms).
#[derive(Default)]
struct Pending {
    messages: Vec<Arc<Delivery>>,
    events: Vec<Event>,
}

impl Pending {
    fn flush(&mut self, hub: &Hub) {
        if !self.events.is_empty() {
            hub.events(std::mem::take(&mut self.events));
        }
        if !self.messages.is_empty() {
            hub.offer(&std::mem::take(&mut self.messages));
        }
    }
}

struct Connected {
    sub: Subscription,
    subscribed: HashSet<Topic>,
    /// Confirmations still to come of this connection's own unsubscribes,
    /// per topic: those are not the server taking a topic away.
    unsubscribing: HashMap<Topic, usize>,
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
        let mut sub = Subscription::connect(&self.settings, &self.client_name).await?;
        // Changes queued before now are covered by subscribing to every topic.
        let _ = self.hub.subscription_changes();
        let topics = self.hub.topics();
        let names: Vec<String> = topics.iter().map(|t| self.channels.of(t)).collect();
        sub.subscribe(&names).await?;
        sub.subscribe_broadcast(self.channels.revocations()).await?;
        self.hub.subscribed(&rooms_of(&topics));
        let connected = Connected {
            sub,
            subscribed: topics.into_iter().collect(),
            unsubscribing: HashMap::new(),
        };
        self.count_rooms(&connected);
        Ok(connected)
    }

    /// Runs until shutdown (`Ok`) or until the connection fails (`Err`).
    async fn serve(&self, c: &mut Connected) -> anyhow::Result<()> {
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = self.shutdown.cancelled() => return Ok(()),
                push = c.sub.pushes.recv() => match push {
                    Some(p) => match self.on_pushes(p, &mut c.sub.pushes) {
                        Pushed::Handled => {}
                        Pushed::Lost => anyhow::bail!("a Redis connection dropped"),
                        Pushed::Unsubscribed(topics) => self.resubscribe(c, topics).await?,
                    },
                    None => anyhow::bail!("push channel closed"),
                },
                () = self.hub.subscriptions_changed() => self.apply_changes(c).await?,
                _ = ping.tick() => {
                    if let Err(e) = c.sub.ping().await {
                        if !c.sub.survives_disconnection() {
                            return Err(e.into());
                        }
                        tracing::warn!(error = %e, "a redis cluster node did not answer");
                        self.hub.request_sweep();
                    }
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
            match (change.wanted, c.subscribed.contains(&change.topic)) {
                (true, true) => confirmed.push(change.topic),
                (true, false) => subscribe.push(change.topic),
                (false, true) => unsubscribe.push(change.topic),
                (false, false) => {}
            }
        }
        if !subscribe.is_empty() {
            let names: Vec<String> = subscribe.iter().map(|t| self.channels.of(t)).collect();
            c.sub.subscribe(&names).await?;
            c.subscribed.extend(subscribe.iter().cloned());
            confirmed.extend(subscribe);
        }
        if !unsubscribe.is_empty() {
            let names: Vec<String> = unsubscribe.iter().map(|t| self.channels.of(t)).collect();
            c.sub.unsubscribe(&names).await?;
            for topic in unsubscribe {
                c.subscribed.remove(&topic);
                *c.unsubscribing.entry(topic).or_default() += 1;
            }
        }
        // A room created again while its channel stayed subscribed needs its
        // baseline as much as a newly subscribed one.
        let rooms = rooms_of(&confirmed);
        if !rooms.is_empty() {
            self.hub.subscribed(&rooms);
        }
        self.count_rooms(c);
        Ok(())
    }

    fn count_rooms(&self, c: &Connected) {
        let rooms = c
            .subscribed
            .iter()
            .filter(|t| matches!(t, Topic::Room(_)))
            .count();
        self.metrics
            .rooms_subscribed
            .set(i64::try_from(rooms).unwrap_or(i64::MAX));
    }

    /// Unsubscribe confirmations arrived for these topics. Those this
    /// connection did not ask for are the server taking the topic away (on a
    /// cluster, the slot moved to another master: Redis unsubscribes its
    /// channels and redis-rs forgets them); the ones still wanted are
    /// subscribed again, where the slot now is, and what was published
    /// meanwhile is swept from PostgreSQL. (Told apart by count, not by
    /// whether the topic is wanted: a room left and joined again before the
    /// confirmation of its unsubscribe is read is wanted, and needs nothing.)
    async fn resubscribe(&self, c: &mut Connected, topics: Vec<Topic>) -> anyhow::Result<()> {
        let mut names = Vec::new();
        for topic in topics {
            if let Some(own) = c.unsubscribing.get_mut(&topic) {
                *own -= 1;
                if *own == 0 {
                    c.unsubscribing.remove(&topic);
                }
            } else if c.subscribed.contains(&topic) {
                names.push(self.channels.of(&topic));
            }
        }
        if names.is_empty() {
            return Ok(());
        }
        tracing::warn!(
            channels = names.len(),
            "redis unsubscribed channels; subscribing again"
        );
        c.sub.subscribe(&names).await?;
        self.hub.request_sweep();
        Ok(())
    }

    /// Handles `first` and every push already waiting behind it, offering the
    /// room messages among them to the hub as one batch, with the events among
    /// them parked just before (events are outside the message order); both
    /// are handed over before a revocation.
    fn on_pushes(&self, first: PushInfo, pushes: &mut Pushes) -> Pushed {
        let mut pending = Pending::default();
        let mut unsubscribed = Vec::new();
        let mut next = Some(first);
        let mut taken = 0;
        while let Some(push) = next.take() {
            if push.kind == PushKind::Disconnection {
                pending.flush(&self.hub);
                return Pushed::Lost;
            }
            if let Some(channel) = pubsub::unsubscribed(&push) {
                unsubscribed.extend(self.topic_of(&channel));
            }
            match self.decode(push) {
                Some(Push::Room(delivery)) => pending.messages.push(delivery),
                Some(Push::Event(event)) => pending.events.push(event),
                Some(Push::Revocation(payload)) => {
                    pending.flush(&self.hub);
                    self.on_revocation(&payload);
                }
                None => {}
            }
            taken += 1;
            if taken < PUSH_BATCH_MAX {
                next = pushes.try_recv();
            }
        }
        pending.flush(&self.hub);
        if unsubscribed.is_empty() {
            Pushed::Handled
        } else {
            Pushed::Unsubscribed(unsubscribed)
        }
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
        let mut conn = self.redis.clone();
        for (sid, jti) in logins {
            let mut pipe = redis::pipe();
            pipe.exists(self.revocation_keys.sid(sid))
                .exists(self.revocation_keys.jti(sid, jti));
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

fn rooms_of(topics: &[Topic]) -> Vec<Arc<str>> {
    topics
        .iter()
        .filter_map(|t| match t {
            Topic::Room(room) => Some(Arc::clone(room)),
            Topic::User(_) => None,
        })
        .collect()
}
