//! What a socket does with the answers to work it started: joins the hub
//! started, replayed pages, the store's answers, the revocation check; and
//! with the live messages the hub queues to it.

use std::{sync::Arc, time::Duration};

use super::{
    Connection, Stop,
    event::{Event, ReplayRequest},
    rooms::{Live, Replayed, Started},
};
use crate::{
    domain::{FrameError, RoomName, ServerFrame, SocketClose, StoredMessage},
    fanout::{Delivery, JoinStart, KillReason, Kind},
    pipeline::writer::WriteReply,
    store::{Outcome, Page, Store},
};

/// Stored messages sent per replay read.
const REPLAY_PAGE: i64 = 500;
/// How long a join waits for this replica to follow the room (Redis
/// subscribed, the room's last id read) before it is refused.
const JOIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Waits before the retries of a failed replay read.
const REPLAY_RETRIES: [Duration; 2] = [Duration::from_millis(200), Duration::from_secs(1)];

impl Connection {
    /// Joins the hub's room. A live room answers at once; otherwise the hub
    /// answers once this replica follows the room, and the socket reads no
    /// frames meanwhile (its own messages must not race its start).
    pub(super) async fn start_join(
        &mut self,
        room: RoomName,
        since: Option<i64>,
    ) -> Result<(), Stop> {
        let generation = self.rooms.begin(room.shared(), since);
        match self.ctx.hub.join(self.id, &room) {
            JoinStart::Live(start) => self.on_started(room, generation, Some(start)).await,
            JoinStart::Pending(answer) => {
                self.pending.push(Box::pin(async move {
                    let start = tokio::time::timeout(JOIN_TIMEOUT, answer)
                        .await
                        .ok()
                        .and_then(Result::ok);
                    Event::Started {
                        room,
                        generation,
                        start,
                    }
                }));
                Ok(())
            }
            JoinStart::Gone => Err(Stop::Gone),
        }
    }

    pub(super) async fn on_event(&mut self, event: Event) -> Result<(), Stop> {
        match event {
            Event::Started {
                room,
                generation,
                start,
            } => self.on_started(room, generation, start).await,
            Event::Replayed { request, page } => self.on_replayed(request, page).await,
            Event::Written(reply) => {
                self.writes_in_flight = self.writes_in_flight.saturating_sub(1);
                self.on_written(reply).await
            }
            Event::RevocationChecked(true) => {
                self.kill.kill(KillReason::Revoked);
                Err(self.killed())
            }
            Event::RevocationChecked(false) => Ok(()),
        }
    }

    async fn on_started(
        &mut self,
        room: RoomName,
        generation: u64,
        start: Option<i64>,
    ) -> Result<(), Stop> {
        let Some(start) = start else {
            return self.join_failed(&room, generation).await;
        };
        let joined = ServerFrame::Joined {
            room: room.as_str(),
        }
        .encode();
        let started = self.rooms.started(room.as_str(), generation, start);
        if !matches!(started, Started::Stale) {
            self.forget_lost_echoes();
            // The room's newest id as this replica knows it when the join started.
            self.ctx
                .memberships
                .joined(self.claims.sub, room.shared(), start);
        }
        match started {
            Started::Stale => Ok(()),
            Started::Live(buffered) => {
                self.send(&joined).await?;
                for delivery in buffered {
                    self.send_live(&delivery).await?;
                }
                Ok(())
            }
            Started::Replay { after, upto } => {
                self.send(&joined).await?;
                self.replays.push_back(ReplayRequest {
                    room,
                    generation,
                    after,
                    upto,
                });
                self.next_replay();
                Ok(())
            }
        }
    }

    /// The room could not be followed in time (Redis or PostgreSQL down).
    async fn join_failed(&mut self, room: &RoomName, generation: u64) -> Result<(), Stop> {
        if !self.rooms.abandon(room.as_str(), generation) {
            return Ok(()); // stale: left or joined again since
        }
        self.ctx.hub.leave(self.id, room.as_str());
        self.forget_lost_echoes();
        // The first join is the URL's room: without it the socket has nothing.
        if generation == 1 {
            return Err(Stop::Close(
                SocketClose::TooFarBehind,
                "cannot join the room now; try again",
            ));
        }
        self.reply_error(&FrameError::Unavailable).await
    }

    async fn on_written(&mut self, reply: WriteReply) -> Result<(), Stop> {
        match reply {
            // The echo comes through the room's delivery, in id order.
            Ok(Outcome::Stored(m)) => {
                if self.rooms.will_deliver(&m.room, m.id) {
                    self.awaiting_echo.push((Arc::from(m.room.as_str()), m.id));
                }
                Ok(())
            }
            // A retry: its echo is the one repeat the contract allows, to the
            // sender only; unless the original is still on its way here.
            Ok(Outcome::Duplicate(m)) => {
                if self.rooms.will_deliver(&m.room, m.id) {
                    self.awaiting_echo.push((Arc::from(m.room.as_str()), m.id));
                    return Ok(());
                }
                self.send(&ServerFrame::message(&m).encode()).await
            }
            Err(e) => self.reply_error(&e).await,
        }
    }

    pub(super) async fn on_live(&mut self, delivery: &Arc<Delivery>) -> Result<(), Stop> {
        match delivery.kind {
            Kind::Message => {}
            // Events are outside the message order: a room's to the sockets
            // that have been told `joined`, a user's to every socket.
            Kind::RoomEvent if !self.rooms.is_started(&delivery.room) => return Ok(()),
            Kind::RoomEvent | Kind::UserEvent => return self.send(&delivery.frame).await,
        }
        match self.rooms.on_live(delivery) {
            Live::Send => self.send_live(delivery).await,
            Live::Held | Live::Ignore => Ok(()),
            Live::Overflow => {
                if self.kill.kill(KillReason::SlowConsumer) {
                    self.ctx.hub.count_slow_consumer();
                }
                Err(self.killed())
            }
        }
    }

    /// Sends a message frame the room's order allows here.
    async fn send_live(&mut self, delivery: &Delivery) -> Result<(), Stop> {
        self.send(&delivery.frame).await?;
        self.sent_message(&delivery.room, delivery.id);
        Ok(())
    }

    fn sent_message(&mut self, room: &str, id: i64) {
        if !self.awaiting_echo.is_empty() {
            self.awaiting_echo
                .retain(|(r, awaited)| !(**r == *room && *awaited <= id));
        }
    }

    /// Forgets the echoes the rooms' delivery will not bring any more: the
    /// room was left, or a join's `since` went past them. Waited for, they
    /// would hold a draining socket open until `CHAT_DRAIN_SECS` ran out.
    pub(super) fn forget_lost_echoes(&mut self) {
        let rooms = &self.rooms;
        self.awaiting_echo
            .retain(|(room, id)| rooms.will_deliver(room, *id));
    }

    /// Starts the next replay page unless one is under way: one per socket.
    fn next_replay(&mut self) {
        if self.replaying {
            return;
        }
        while let Some(request) = self.replays.pop_front() {
            if !self
                .rooms
                .catching_up(request.room.as_str(), request.generation)
            {
                continue;
            }
            self.replaying = true;
            let store = self.ctx.store.clone();
            self.pending.push(Box::pin(async move {
                let page = read_page(&store, &request).await;
                Event::Replayed { request, page }
            }));
            return;
        }
    }

    async fn on_replayed(
        &mut self,
        request: ReplayRequest,
        page: Option<Vec<StoredMessage>>,
    ) -> Result<(), Stop> {
        self.replaying = false;
        if !self
            .rooms
            .catching_up(request.room.as_str(), request.generation)
        {
            self.next_replay();
            return Ok(());
        }
        // Skipping what cannot be read would break the promise: the client
        // rejoins with `since` instead.
        let Some(messages) = page else {
            return Err(Stop::Close(
                SocketClose::TooFarBehind,
                "history unavailable; rejoin with since",
            ));
        };
        for message in &messages {
            self.send(&ServerFrame::message(message).encode()).await?;
            self.sent_message(&message.room, message.id);
        }
        let complete = i64::try_from(messages.len()).unwrap_or(i64::MAX) < REPLAY_PAGE;
        let last = messages.last().map(|m| m.id);
        let ReplayRequest {
            room, generation, ..
        } = request;
        match self
            .rooms
            .replayed(room.as_str(), generation, last, complete)
        {
            Replayed::More { after, upto } => self.replays.push_front(ReplayRequest {
                room,
                generation,
                after,
                upto,
            }),
            Replayed::Done(buffered) => {
                for delivery in buffered {
                    self.send_live(&delivery).await?;
                }
            }
            Replayed::Stale => {}
        }
        self.next_replay();
        Ok(())
    }

    /// Closes the race between the handshake's revocation check and this socket
    /// being reachable by revocation announcements.
    pub(super) fn check_revoked(&mut self) {
        let redis = self.ctx.redis.clone();
        let keys = self.ctx.revocation_keys.clone();
        let claims = self.claims.clone();
        self.pending.push(Box::pin(async move {
            let mut conn = redis;
            let revoked = keys.is_revoked(&mut conn, &claims).await.unwrap_or(false);
            Event::RevocationChecked(revoked)
        }));
    }
}

/// One replay page, tried again a couple of times before giving up.
async fn read_page(store: &Store, request: &ReplayRequest) -> Option<Vec<StoredMessage>> {
    let page = Page {
        after: Some(request.after),
        before: Some(request.upto.saturating_add(1)),
        limit: REPLAY_PAGE,
    };
    let mut waits = REPLAY_RETRIES.iter();
    loop {
        match store.page(request.room.as_str(), page).await {
            Ok(messages) => return Some(messages),
            Err(e) => {
                tracing::warn!(error = %e, "replay read failed");
                tokio::time::sleep(*waits.next()?).await;
            }
        }
    }
}
