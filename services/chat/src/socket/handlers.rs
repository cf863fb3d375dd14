//! What a socket does with each thing its loop receives.

use std::{sync::Arc, time::Duration};

use actix_ws::{CloseCode, Item, Message, ProtocolError};
use bytes::BytesMut;
use bytestring::ByteString;

use super::{
    Connection, Stop,
    rooms::{AfterSubscribe, Live},
};
use crate::{
    domain::{
        ClientFrame, FrameError, NewMessage, RoomName, ServerFrame, StoredMessage,
        message::now_micros,
        rules::{check_body, check_client_id, room_for},
    },
    fanout::{Delivery, KillReason},
    store::{Outcome, Page, writer::WriteReply},
};

/// Stored messages sent per replay query.
const REPLAY_PAGE: i64 = 500;
/// How long a join waits for the subscription before going ahead without it
/// (Redis down: live messages resume when the subscriber reconnects).
const SUBSCRIBE_WAIT: Duration = Duration::from_secs(2);

/// Answers to work a socket started and did not wait for.
pub enum Event {
    Subscribed {
        room: RoomName,
        generation: u64,
        since: Option<i64>,
    },
    Replayed {
        room: RoomName,
        generation: u64,
        page: Result<Vec<StoredMessage>, ()>,
    },
    Written(WriteReply),
    RevocationChecked(bool),
}

impl Connection {
    pub(super) async fn on_inbound(
        &mut self,
        frame: Option<Result<Message, ProtocolError>>,
    ) -> Result<(), Stop> {
        let message = match frame {
            None => return Err(Stop::Gone),
            Some(Ok(message)) => message,
            Some(Err(ProtocolError::Overflow)) => {
                return Err(Stop::Close(CloseCode::Size, "frame too large"));
            }
            Some(Err(ProtocolError::Io(e))) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(Stop::Close(CloseCode::Invalid, "text frame is not UTF-8"));
            }
            Some(Err(e)) => {
                tracing::debug!(error = %e, "websocket protocol error");
                return Err(Stop::Close(CloseCode::Protocol, "protocol error"));
            }
        };
        self.last_heard = std::time::Instant::now();
        match message {
            Message::Text(text) => self.on_text(&text).await,
            Message::Binary(_) => {
                self.reply_error(&FrameError::InvalidRequest(
                    "frames must be JSON text".into(),
                ))
                .await
            }
            Message::Continuation(item) => self.on_fragment(item).await,
            Message::Ping(payload) => self.pong(&payload).await,
            Message::Pong(_) | Message::Nop => Ok(()),
            Message::Close(reason) => Err(Stop::ClientClosed(reason)),
        }
    }

    /// Reassembles a fragmented frame, holding it to the same size limit.
    async fn on_fragment(&mut self, item: Item) -> Result<(), Stop> {
        let (is_text, chunk, last) = match item {
            Item::FirstText(b) => (Some(true), b, false),
            Item::FirstBinary(b) => (Some(false), b, false),
            Item::Continue(b) => (None, b, false),
            Item::Last(b) => (None, b, true),
        };
        if let Some(is_text) = is_text {
            self.partial = Some((is_text, BytesMut::new()));
        }
        let Some((is_text, buffer)) = self.partial.as_mut() else {
            return Err(Stop::Close(
                CloseCode::Protocol,
                "continuation without a first frame",
            ));
        };
        if buffer.len() + chunk.len() > self.ctx.limits.max_frame_bytes {
            return Err(Stop::Close(CloseCode::Size, "frame too large"));
        }
        buffer.extend_from_slice(&chunk);
        if !last {
            return Ok(());
        }
        let is_text = *is_text;
        let Some((_, whole)) = self.partial.take() else {
            return Ok(());
        };
        if !is_text {
            return self
                .reply_error(&FrameError::InvalidRequest(
                    "frames must be JSON text".into(),
                ))
                .await;
        }
        match ByteString::try_from(whole.freeze()) {
            Ok(text) => self.on_text(&text).await,
            Err(_) => Err(Stop::Close(CloseCode::Invalid, "text frame is not UTF-8")),
        }
    }

    async fn on_text(&mut self, text: &str) -> Result<(), Stop> {
        if !self.bucket.try_take(std::time::Instant::now()) {
            return self.reply_error(&FrameError::RateLimited).await;
        }
        let handled = match ClientFrame::parse(text) {
            Err(e) => Err(e),
            Ok(ClientFrame::Ping) => return self.send(ServerFrame::Pong.encode()).await,
            Ok(ClientFrame::Send {
                room,
                body,
                client_id,
            }) => self.submit(room, body, client_id),
            Ok(ClientFrame::Join { room, since }) => self.join(&room, since),
            Ok(ClientFrame::Leave { room }) => match self.leave(&room) {
                Ok(room) => {
                    return self
                        .send(
                            ServerFrame::Left {
                                room: room.as_str(),
                            }
                            .encode(),
                        )
                        .await;
                }
                Err(e) => Err(e),
            },
        };
        match handled {
            Ok(()) => Ok(()),
            Err(e) => self.reply_error(&e).await,
        }
    }

    fn submit(
        &mut self,
        room: Option<String>,
        body: String,
        client_id: Option<String>,
    ) -> Result<(), FrameError> {
        let room = match room {
            None => self.url_room.clone(),
            Some(raw) => RoomName::parse(&raw)?,
        };
        if !self.rooms.contains(room.as_str()) {
            return Err(FrameError::NotJoined(room.to_string()));
        }
        check_body(&body, self.ctx.limits.max_message_chars)?;
        check_client_id(client_id.as_deref())?;
        let answer = self.ctx.writer.submit(NewMessage {
            room,
            user_id: self.claims.sub,
            user_name: self.claims.name.clone(),
            body,
            client_id,
            created_at: now_micros(),
        })?;
        self.pending.push(Box::pin(async move {
            Event::Written(answer.await.unwrap_or(Err(FrameError::Unavailable)))
        }));
        Ok(())
    }

    fn join(&mut self, raw: &str, since: Option<i64>) -> Result<(), FrameError> {
        let room = room_for(self.claims.sub, raw)?;
        if since.is_some_and(|s| s < 0) {
            return Err(FrameError::InvalidRequest(
                "since must not be negative".into(),
            ));
        }
        let max = self.ctx.limits.max_rooms_per_socket;
        if !self.rooms.contains(room.as_str()) && self.rooms.len() >= max {
            return Err(FrameError::InvalidRequest(format!(
                "a socket may join at most {max} rooms"
            )));
        }
        self.start_join(room, since);
        Ok(())
    }

    /// Joins the hub's room first, so live messages start arriving (and are
    /// buffered) before anything is replayed.
    pub(super) fn start_join(&mut self, room: RoomName, since: Option<i64>) {
        let generation = self.rooms.begin(room.shared());
        let subscribed = self.ctx.hub.join(self.id, &room);
        self.pending.push(Box::pin(async move {
            let _ = tokio::time::timeout(SUBSCRIBE_WAIT, subscribed).await;
            Event::Subscribed {
                room,
                generation,
                since,
            }
        }));
    }

    fn leave(&mut self, raw: &str) -> Result<RoomName, FrameError> {
        let room = RoomName::parse(raw)?;
        if !self.rooms.leave(room.as_str()) {
            return Err(FrameError::NotJoined(room.to_string()));
        }
        self.ctx.hub.leave(self.id, room.as_str());
        Ok(room)
    }

    pub(super) async fn on_live(&mut self, delivery: &Arc<Delivery>) -> Result<(), Stop> {
        match self.rooms.on_live(delivery) {
            Live::Send => self.send(delivery.frame.clone()).await,
            Live::Buffered | Live::Ignore => Ok(()),
            Live::Overflow => {
                if self.kill.kill(KillReason::SlowConsumer) {
                    self.ctx.hub.count_slow_consumer();
                }
                Err(self.killed())
            }
        }
    }

    pub(super) async fn on_event(&mut self, event: Event) -> Result<(), Stop> {
        match event {
            Event::Subscribed {
                room,
                generation,
                since,
            } => {
                self.ready = true;
                match self.rooms.subscribed(room.as_str(), generation, since) {
                    AfterSubscribe::Stale => Ok(()),
                    AfterSubscribe::Drain(buffer) => {
                        self.send(
                            ServerFrame::Joined {
                                room: room.as_str(),
                            }
                            .encode(),
                        )
                        .await?;
                        for delivery in buffer {
                            self.send(delivery.frame.clone()).await?;
                        }
                        Ok(())
                    }
                    AfterSubscribe::Replay(after) => {
                        self.send(
                            ServerFrame::Joined {
                                room: room.as_str(),
                            }
                            .encode(),
                        )
                        .await?;
                        self.replay(room, generation, after);
                        Ok(())
                    }
                }
            }
            Event::Replayed {
                room,
                generation,
                page,
            } => self.on_replayed(room, generation, page).await,
            Event::Written(Ok(Outcome::Stored(_))) => Ok(()),
            Event::Written(Ok(Outcome::Duplicate(original))) => {
                self.send(ServerFrame::message(&original).encode()).await
            }
            Event::Written(Err(e)) => self.reply_error(&e).await,
            Event::RevocationChecked(true) => {
                self.kill.kill(KillReason::Revoked);
                Err(self.killed())
            }
            Event::RevocationChecked(false) => Ok(()),
        }
    }

    fn replay(&mut self, room: RoomName, generation: u64, after: i64) {
        let store = self.ctx.store.clone();
        self.pending.push(Box::pin(async move {
            let page = Page {
                before: None,
                after: Some(after),
                limit: REPLAY_PAGE,
            };
            let page = store.page(room.as_str(), page).await.map_err(|e| {
                tracing::warn!(error = %e, "replay failed");
            });
            Event::Replayed {
                room,
                generation,
                page,
            }
        }));
    }

    async fn on_replayed(
        &mut self,
        room: RoomName,
        generation: u64,
        page: Result<Vec<StoredMessage>, ()>,
    ) -> Result<(), Stop> {
        let (messages, failed) = match page {
            Ok(messages) => (messages, false),
            Err(()) => (Vec::new(), true),
        };
        let full = i64::try_from(messages.len()).unwrap_or(i64::MAX) >= REPLAY_PAGE;
        let last = messages.last().map(|m| m.id);
        if !self.rooms.catching_up(room.as_str(), generation) {
            return Ok(());
        }
        for message in &messages {
            self.send(ServerFrame::message(message).encode()).await?;
        }
        match self
            .rooms
            .replayed(room.as_str(), generation, last, full && !failed)
        {
            None => Ok(()),
            Some(Ok(after)) => {
                self.replay(room, generation, after);
                Ok(())
            }
            Some(Err(buffer)) => {
                if failed {
                    self.reply_error(&FrameError::Unavailable).await?;
                }
                for delivery in buffer {
                    self.send(delivery.frame.clone()).await?;
                }
                Ok(())
            }
        }
    }

    /// Closes the race between the handshake's revocation check and this socket
    /// being reachable by revocation announcements.
    pub(super) fn check_revoked(&mut self) {
        let redis = self.ctx.redis.clone();
        let keys = self.ctx.revocation_keys.clone();
        let claims = self.claims.clone();
        self.pending.push(Box::pin(async move {
            let revoked = match redis.get().await {
                Ok(mut conn) => keys.is_revoked(&mut conn, &claims).await.unwrap_or(false),
                Err(_) => false,
            };
            Event::RevocationChecked(revoked)
        }));
    }

    async fn reply_error(&mut self, error: &FrameError) -> Result<(), Stop> {
        self.send(ServerFrame::error(error).encode()).await
    }
}
