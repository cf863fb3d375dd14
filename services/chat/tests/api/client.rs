//! A WebSocket client with the reads the tests need.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{self, Message, client::IntoClientRequest, protocol::CloseFrame},
};

use crate::helpers::WAIT;

/// Frames beside the ordered message stream.
const EVENTS: [&str; 4] = ["presence", "typing", "read", "member"];

pub async fn connect_request(
    request: impl IntoClientRequest + Unpin,
) -> Result<Client, tungstenite::Error> {
    let (ws, _) = tokio_tungstenite::connect_async(request).await?;
    Ok(Client { ws })
}

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// How a socket ended, as the client saw it.
#[derive(Debug)]
pub enum Ended {
    Closed(Option<CloseFrame>),
    /// The connection ended without a close frame.
    Dropped,
}

impl Ended {
    pub fn code(&self) -> Option<u16> {
        match self {
            Self::Closed(Some(frame)) => Some(frame.code.into()),
            _ => None,
        }
    }
}

impl Client {
    pub async fn send_json(&mut self, value: Value) {
        self.send_text(&value.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.expect("send");
    }

    pub async fn say(&mut self, text: &str) {
        self.send_json(json!({ "message": text })).await;
    }

    pub async fn say_in(&mut self, room: &str, text: &str) {
        self.send_json(json!({"type": "message", "room": room, "message": text}))
            .await;
    }

    /// The next text frame as JSON, within `within`; `None` if none came.
    /// Events beside the message stream (presence, typing, read, member) are
    /// skipped: tests of them read them with [`Client::next_event_within`].
    pub async fn next_json_within(&mut self, within: Duration) -> Option<Value> {
        loop {
            let frame = self.next_any_within(within).await?;
            if !EVENTS.contains(&frame["type"].as_str().unwrap_or_default()) {
                return Some(frame);
            }
        }
    }

    /// The next text frame of any type.
    pub async fn next_any_within(&mut self, within: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()?;
            match frame {
                Some(Ok(Message::Text(text))) => {
                    return Some(serde_json::from_str(&text).expect("server sent JSON"));
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// The next event of `kind` matching `wanted`, skipping everything else.
    pub async fn next_event_within(
        &mut self,
        kind: &str,
        within: Duration,
        wanted: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let frame = self.next_any_within(left).await?;
            if frame["type"] == kind && wanted(&frame) {
                return Some(frame);
            }
        }
    }

    pub async fn next_event(&mut self, kind: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        self.next_event_within(kind, WAIT, wanted)
            .await
            .unwrap_or_else(|| panic!("no {kind} event within 5 s"))
    }

    pub async fn next_json(&mut self) -> Value {
        self.next_json_within(WAIT)
            .await
            .expect("a frame within 5 s")
    }

    /// The next frame must be an error with this code.
    pub async fn expect_error(&mut self, code: &str) {
        let frame = self.next_json().await;
        assert_eq!(frame["type"], "error", "{frame}");
        assert_eq!(frame["code"], code, "{frame}");
    }

    pub async fn next_message(&mut self) -> Value {
        loop {
            let frame = self.next_json().await;
            if frame["type"] == "message" {
                return frame;
            }
        }
    }

    /// The ids of the next `n` message frames.
    pub async fn message_ids(&mut self, n: usize) -> Vec<i64> {
        let mut ids = Vec::with_capacity(n);
        while ids.len() < n {
            ids.push(self.next_message().await["id"].as_i64().expect("id"));
        }
        ids
    }

    /// Waits for the `joined` of the URL's room, or for the socket to end.
    pub async fn joined_or_ended(&mut self) -> Result<(), Ended> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => panic!("neither joined nor closed within 5 s"),
                Ok(Some(Ok(Message::Text(text)))) => {
                    let v: Value = serde_json::from_str(&text).expect("server sent JSON");
                    if v["type"] == "joined" {
                        return Ok(());
                    }
                }
                Ok(Some(Ok(Message::Close(frame)))) => return Err(Ended::Closed(frame)),
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(_)) | None) => return Err(Ended::Dropped),
            }
        }
    }

    pub async fn ping(&mut self) {
        self.send_json(json!({"type": "ping"})).await;
        assert_eq!(self.next_json().await["type"], "pong");
    }

    /// Reads (and discards) frames until the socket ends, within `within`.
    pub async fn ended_within(&mut self, within: Duration) -> Ended {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => panic!("socket still open after {within:?}"),
                Ok(Some(Ok(Message::Close(frame)))) => return Ended::Closed(frame),
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(_)) | None) => return Ended::Dropped,
            }
        }
    }

    /// Nothing but pings arrive for `within`.
    pub async fn expect_silence(&mut self, within: Duration) {
        if let Some(frame) = self.next_json_within(within).await {
            panic!("expected no frame, got {frame}");
        }
    }
}

/// What a socket received, sorted by kind.
#[derive(Debug, Default)]
pub struct Received {
    /// Message ids per room, in the order they arrived.
    pub ids: std::collections::HashMap<String, Vec<i64>>,
    /// `client_id`s of the messages received, per room.
    pub client_ids: Vec<String>,
    pub errors: Vec<Value>,
    pub ended: Option<Ended>,
}

impl Received {
    pub fn count(&self, room: &str) -> usize {
        self.ids.get(room).map_or(0, Vec::len)
    }
}

impl Client {
    /// Joins another room and waits for its `joined`.
    pub async fn join(&mut self, room: &str) {
        self.send_json(json!({"type": "join", "room": room})).await;
        loop {
            let frame = self.next_json().await;
            if frame["type"] == "joined" && frame["room"] == room {
                return;
            }
        }
    }

    /// Reads until `done` says so, the socket ends, or `within` passes.
    pub async fn receive_until(
        &mut self,
        within: Duration,
        done: impl Fn(&Received) -> bool,
    ) -> Received {
        receive_until(&mut self.ws, within, done).await
    }

    /// Sends every frame while reading, as a real client does (one that did not
    /// read would rightly be closed as too far behind), then reads on until `done`.
    pub async fn send_while_receiving(
        self,
        frames: Vec<Value>,
        within: Duration,
        done: impl Fn(&Received) -> bool,
    ) -> Received {
        let (mut sink, mut stream) = self.ws.split();
        let sending = tokio::spawn(async move {
            for frame in frames {
                if sink.send(Message::text(frame.to_string())).await.is_err() {
                    break;
                }
            }
            sink
        });
        let got = receive_until(&mut stream, within, done).await;
        drop(sending.await);
        got
    }

    /// Sends `frame` `times` times, one every `every`, while reading (the
    /// sending stops when the reading does), as a client doing something
    /// periodically in the middle of traffic.
    pub async fn send_paced_while_receiving(
        self,
        frame: Value,
        times: usize,
        every: Duration,
        within: Duration,
        done: impl Fn(&Received) -> bool,
    ) -> Received {
        let (mut sink, mut stream) = self.ws.split();
        let sending = tokio::spawn(async move {
            for _ in 0..times {
                if sink.send(Message::text(frame.to_string())).await.is_err() {
                    break;
                }
                tokio::time::sleep(every).await;
            }
        });
        let got = receive_until(&mut stream, within, done).await;
        sending.abort();
        got
    }
}

async fn receive_until<S>(
    stream: &mut S,
    within: Duration,
    done: impl Fn(&Received) -> bool,
) -> Received
where
    S: futures_util::Stream<Item = Result<Message, tungstenite::Error>> + Unpin,
{
    let mut got = Received::default();
    let deadline = tokio::time::Instant::now() + within;
    while !done(&got) {
        let Ok(frame) = tokio::time::timeout_at(deadline, stream.next()).await else {
            break;
        };
        match frame {
            Some(Ok(Message::Text(text))) => {
                let v: Value = serde_json::from_str(&text).expect("server sent JSON");
                match v["type"].as_str() {
                    Some("message") => {
                        let room = v["room"].as_str().expect("room").to_owned();
                        got.ids
                            .entry(room)
                            .or_default()
                            .push(v["id"].as_i64().expect("id"));
                        if let Some(c) = v["client_id"].as_str() {
                            got.client_ids.push(c.to_owned());
                        }
                    }
                    Some("error") => got.errors.push(v),
                    _ => {}
                }
            }
            Some(Ok(Message::Close(frame))) => {
                got.ended = Some(Ended::Closed(frame));
                break;
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => {
                got.ended = Some(Ended::Dropped);
                break;
            }
        }
    }
    got
}

/// The delivery guarantee on one socket's view of a room: ids strictly
/// increasing, each once, and none missing from `first..=last`.
pub fn assert_in_order_and_complete(what: &str, ids: &[i64], first: i64, last: i64) {
    let expected: Vec<i64> = (first..=last).collect();
    if ids != expected.as_slice() {
        let inversions = ids.windows(2).filter(|w| w[1] <= w[0]).count();
        let missing: Vec<i64> = expected
            .iter()
            .filter(|i| !ids.contains(i))
            .copied()
            .collect();
        panic!(
            "{what}: {} ids, {inversions} out of order, missing {missing:?} (first 20 received {:?})",
            ids.len(),
            &ids[..ids.len().min(20)]
        );
    }
}
