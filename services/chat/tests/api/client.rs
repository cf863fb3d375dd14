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
    pub async fn next_json_within(&mut self, within: Duration) -> Option<Value> {
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
