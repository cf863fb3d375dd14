//! What a socket does with the client's frames.

use actix_ws::{Item, Message, ProtocolError};
use bytes::BytesMut;
use bytestring::ByteString;

use super::{Connection, Stop, event::Event};
use crate::domain::{
    ClientFrame, FrameError, NewMessage, RoomName, ServerFrame, SocketClose,
    message::now_micros,
    rules::{TYPING_EVERY, check_body, check_client_id, room_for},
};

impl Connection {
    pub(super) async fn on_inbound(
        &mut self,
        frame: Option<Result<Message, ProtocolError>>,
    ) -> Result<(), Stop> {
        let message = match frame {
            None => return Err(Stop::Gone),
            Some(Ok(message)) => message,
            Some(Err(ProtocolError::Overflow)) => {
                return Err(Stop::Close(SocketClose::FrameTooLarge, "frame too large"));
            }
            Some(Err(ProtocolError::Io(e))) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(Stop::Close(
                    SocketClose::InvalidText,
                    "text frame is not UTF-8",
                ));
            }
            Some(Err(e)) => {
                tracing::debug!(error = %e, "websocket protocol error");
                return Err(Stop::Close(SocketClose::ProtocolError, "protocol error"));
            }
        };
        self.last_heard = std::time::Instant::now();
        match message {
            Message::Text(text) => self.on_text(&text).await,
            Message::Binary(_) => self.refuse_binary().await,
            Message::Continuation(item) => self.on_fragment(item).await,
            Message::Ping(payload) => self.on_ping(&payload).await,
            Message::Pong(_) | Message::Nop => Ok(()),
            Message::Close(reason) => Err(Stop::ClientClosed(reason)),
        }
    }

    /// A WebSocket ping counts against the limit of non-message frames like
    /// any other: answered within it, ignored past it (RFC 6455, 5.5.3 lets an
    /// endpoint answer only the latest of several pings), so a flood of pings
    /// does not buy a pong each.
    async fn on_ping(&mut self, payload: &[u8]) -> Result<(), Stop> {
        if !self.control.try_take(std::time::Instant::now()) {
            return Ok(());
        }
        self.pong(payload).await
    }

    async fn refuse_binary(&mut self) -> Result<(), Stop> {
        if !self.control.try_take(std::time::Instant::now()) {
            return self.reply_error(&FrameError::RateLimited).await;
        }
        self.reply_error(&FrameError::InvalidRequest(
            "frames must be JSON text".into(),
        ))
        .await
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
                SocketClose::ProtocolError,
                "continuation without a first frame",
            ));
        };
        if buffer.len() + chunk.len() > self.ctx.limits.max_frame_bytes {
            return Err(Stop::Close(SocketClose::FrameTooLarge, "frame too large"));
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
            return self.refuse_binary().await;
        }
        match ByteString::try_from(whole.freeze()) {
            Ok(text) => self.on_text(&text).await,
            Err(_) => Err(Stop::Close(
                SocketClose::InvalidText,
                "text frame is not UTF-8",
            )),
        }
    }

    /// Message frames count against `CHAT_RATE`/`CHAT_BURST`; every other frame,
    /// malformed ones included, against the control limit.
    async fn on_text(&mut self, text: &str) -> Result<(), Stop> {
        let parsed = ClientFrame::parse(text);
        let now = std::time::Instant::now();
        let allowed = match parsed {
            Ok(ClientFrame::Send { .. }) => self.messages.try_take(now),
            _ => self.control.try_take(now),
        };
        if !allowed {
            return self.reply_error(&FrameError::RateLimited).await;
        }
        let handled = match parsed {
            Err(e) => Err(e),
            Ok(ClientFrame::Ping) => return self.send(&ServerFrame::Pong.encode()).await,
            Ok(ClientFrame::Send {
                room,
                body,
                client_id,
            }) => self.submit(room, body, client_id),
            Ok(ClientFrame::Join { room, since }) => match self.join(&room, since) {
                Ok(room) => return self.start_join(room, since).await,
                Err(e) => Err(e),
            },
            Ok(ClientFrame::Read { room, id }) => self.mark_read(&room, id),
            Ok(ClientFrame::Typing { room }) => self.typing(&room),
            Ok(ClientFrame::Leave { room, forget }) => match self.leave(&room, forget) {
                Ok(room) => {
                    return self
                        .send(
                            &ServerFrame::Left {
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
        self.writes_in_flight += 1;
        self.pending.push(Box::pin(async move {
            Event::Written(answer.await.unwrap_or(Err(FrameError::Unavailable)))
        }));
        Ok(())
    }

    /// The checks of a `join` frame; the join itself is [`Connection::start_join`].
    fn join(&mut self, raw: &str, since: Option<i64>) -> Result<RoomName, FrameError> {
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
        Ok(room)
    }

    /// Stops this socket's delivery; with `forget`, also ends the user's
    /// membership (a room list can drop a room it never opened).
    fn leave(&mut self, raw: &str, forget: bool) -> Result<RoomName, FrameError> {
        let room = if forget {
            room_for(self.claims.sub, raw)?
        } else {
            RoomName::parse(raw)?
        };
        let was_joined = self.rooms.leave(room.as_str());
        if !was_joined && !forget {
            return Err(FrameError::NotJoined(room.to_string()));
        }
        if was_joined {
            self.ctx.hub.leave(self.id, room.as_str());
            self.replays.retain(|r| *r.room.as_str() != *room.as_str());
            self.forget_lost_echoes();
        }
        if forget {
            self.ctx
                .memberships
                .forget(self.claims.sub, room.as_str().to_owned());
        }
        Ok(room)
    }

    /// Moves the user's read marker (never back: the store keeps the larger).
    fn mark_read(&mut self, raw: &str, id: i64) -> Result<(), FrameError> {
        let room = RoomName::parse(raw)?;
        if !self.rooms.contains(room.as_str()) {
            return Err(FrameError::NotJoined(room.to_string()));
        }
        let newest = self.ctx.hub.last_released(room.as_str()).unwrap_or(0);
        if !(0..=newest).contains(&id) {
            return Err(FrameError::InvalidRequest(format!(
                "id must be between 0 and the room's newest id, {newest}"
            )));
        }
        self.ctx
            .memberships
            .read(self.claims.sub, room.as_str().to_owned(), id, self.id);
        Ok(())
    }

    /// Tells the room's other sockets; more than one a second is ignored.
    fn typing(&mut self, raw: &str) -> Result<(), FrameError> {
        let room = RoomName::parse(raw)?;
        if !self.rooms.contains(room.as_str()) {
            return Err(FrameError::NotJoined(room.to_string()));
        }
        let now = std::time::Instant::now();
        if self
            .last_typing
            .is_some_and(|at| now.saturating_duration_since(at) < TYPING_EVERY)
        {
            return Ok(());
        }
        self.last_typing = Some(now);
        let frame = ServerFrame::Typing {
            room: room.as_str(),
            user_id: self.claims.sub,
            user: &self.claims.name,
        };
        self.ctx
            .announce
            .to_room(room.as_str(), &frame, Some(self.id));
        Ok(())
    }

    pub(super) async fn reply_error(&mut self, error: &FrameError) -> Result<(), Stop> {
        self.send(&ServerFrame::error(error).encode()).await
    }
}
