//! WebSocket clients for the chat service, with small buffers (thousands of them
//! share this machine with the server being measured).

use std::{net::IpAddr, time::Duration};

use anyhow::{Context, bail};
use futures_util::StreamExt;
use tokio::net::TcpStream;
use tokio_tungstenite::{
    WebSocketStream, client_async_with_config,
    tungstenite::{Message, client::IntoClientRequest, protocol::WebSocketConfig},
};

use crate::net::{self, Endpoint};

pub type Socket = WebSocketStream<TcpStream>;

fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20))
}

/// `/ws/chat/{room}/?token=…` (`room` `None`: the lobby).
pub fn path(room: Option<&str>, token: &str) -> String {
    match room {
        Some(room) => format!("/ws/chat/{room}/?token={token}"),
        None => format!("/ws/chat/?token={token}"),
    }
}

/// Connects, then waits for the `joined` frame the server sends first.
pub async fn connect(
    source: IpAddr,
    endpoint: &Endpoint,
    path: &str,
    timeout: Duration,
) -> anyhow::Result<Socket> {
    let url = format!("ws://{}{path}", endpoint.authority);
    let attempt = async {
        let stream = net::connect(source, endpoint.addr).await?;
        let request = url.as_str().into_client_request()?;
        let (mut socket, _) = client_async_with_config(request, stream, Some(config())).await?;
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) if is_type(&text, "joined") => return Ok(socket),
                Some(Ok(Message::Text(text))) => bail!("expected joined, got {text}"),
                Some(Ok(Message::Close(frame))) => bail!("closed before joining: {frame:?}"),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => bail!("closed before joining"),
            }
        }
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .with_context(|| format!("no joined frame within {timeout:?}"))?
}

/// Whether a server frame is of `type` (the server writes compact JSON).
pub fn is_type(frame: &str, kind: &str) -> bool {
    let Some(at) = frame.find("\"type\":\"") else {
        return false;
    };
    frame[at + 8..].starts_with(kind) && frame[at + 8 + kind.len()..].starts_with('"')
}

/// The `type` of a server frame (the server writes it first, compact).
pub fn frame_type(frame: &str) -> Option<&str> {
    let at = frame.find("\"type\":\"")? + 8;
    let len = frame[at..].find('"')?;
    Some(&frame[at..at + len])
}

/// The `code` of an error frame.
pub fn error_code(frame: &str) -> Option<&str> {
    if !is_type(frame, "error") {
        return None;
    }
    let at = frame.find("\"code\":\"")? + 8;
    let len = frame[at..].find('"')?;
    Some(&frame[at..at + len])
}

/// The text of a `message` frame's body when it starts with `marker` (our own
/// messages carry a marker, so no general JSON parse is needed per delivery).
pub fn body_with_marker<'a>(frame: &'a str, marker: &str) -> Option<&'a str> {
    let key = "\"message\":\"";
    let at = frame.find(key)? + key.len();
    let rest = &frame[at..];
    if !rest.starts_with(marker) {
        return None;
    }
    let len = rest.find('"')?;
    Some(&rest[..len])
}

/// The numeric `id` field of a message frame.
pub fn message_id(frame: &str) -> Option<i64> {
    let at = frame.find("\"id\":")? + 5;
    let digits: &str = &frame[at..];
    let len = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..len].parse().ok()
}

/// The `room` field of a frame.
pub fn room(frame: &str) -> Option<&str> {
    let at = frame.find("\"room\":\"")? + 8;
    let len = frame[at..].find('"')?;
    Some(&frame[at..at + len])
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGE: &str = r#"{"type":"message","id":121,"room":"r","user":"a","user_id":"u","message":"lt|2|77|123456","timestamp":"t","client_id":null}"#;

    #[test]
    fn frames_are_classified_without_a_full_parse() {
        assert!(is_type(MESSAGE, "message"));
        assert!(!is_type(MESSAGE, "messages"));
        assert!(is_type(r#"{"type":"joined","room":"r"}"#, "joined"));
        assert_eq!(body_with_marker(MESSAGE, "lt|"), Some("lt|2|77|123456"));
        assert_eq!(body_with_marker(MESSAGE, "st|"), None);
        assert_eq!(message_id(MESSAGE), Some(121));
        assert_eq!(room(MESSAGE), Some("r"));
        let err = r#"{"type":"error","code":"rate_limited","message":"slow down"}"#;
        assert_eq!(error_code(err), Some("rate_limited"));
        assert_eq!(body_with_marker(err, "lt|"), None);
        assert_eq!(error_code(MESSAGE), None);
        assert_eq!(frame_type(MESSAGE), Some("message"));
        assert_eq!(frame_type(err), Some("error"));
        assert_eq!(frame_type(r#"{"room":"r"}"#), None);
    }

    #[test]
    fn a_receipt_is_never_taken_for_a_message() {
        let read = r#"{"type":"read","room":"r","user_id":"u","id":120}"#;
        let typing = r#"{"type":"typing","room":"r","user_id":"u","user":"lt|0|0|0"}"#;
        assert_eq!(frame_type(read), Some("read"));
        assert_eq!(frame_type(typing), Some("typing"));
        assert!(!is_type(read, "message") && !is_type(typing, "message"));
        assert_eq!(body_with_marker(read, "lt|"), None);
    }
}
