//! The WebSocket wire format: frames a client sends, frames the server sends.
//! Both are serde enums, so a frame's `type` and an error's `code` are spelled in one
//! place and cannot drift from what the code matches on.

use bytestring::ByteString;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    frame_error::{ErrorCode, FrameError},
    message::StoredMessage,
};

/// A frame from the client, parsed but not yet checked against the socket's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientFrame {
    /// `{"message": ...}` (room `None`: the socket's URL room) or a typed `message`.
    Send {
        room: Option<String>,
        body: String,
        client_id: Option<String>,
    },
    Join {
        room: String,
        since: Option<i64>,
    },
    Leave {
        room: String,
        /// Also end the user's membership of the room.
        forget: bool,
    },
    /// The user has read the room up to `id`.
    Read {
        room: String,
        id: i64,
    },
    Typing {
        room: String,
    },
    Ping,
}

/// Fields the contract does not name are refused rather than ignored: a
/// misspelt `since` would otherwise join without catch-up, silently.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum Typed {
    Message {
        room: String,
        message: String,
        #[serde(default)]
        client_id: Option<String>,
    },
    Join {
        room: String,
        #[serde(default)]
        since: Option<i64>,
    },
    Leave {
        room: String,
        #[serde(default)]
        forget: bool,
    },
    Read {
        room: String,
        id: i64,
    },
    Typing {
        room: String,
    },
    Ping {},
}

/// The seed form the original Django client sends, exactly: a frame that
/// names a room or a `client_id` but forgot `type` must not go to the URL room
/// with its idempotency key dropped.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Seed {
    message: String,
}

impl ClientFrame {
    pub fn parse(text: &str) -> Result<Self, FrameError> {
        let value: Value = serde_json::from_str(text).map_err(|_| FrameError::InvalidJson)?;
        let Some(object) = value.as_object() else {
            return Err(FrameError::InvalidRequest(
                "a frame must be a JSON object".into(),
            ));
        };
        if !object.contains_key("type") {
            let seed: Seed = serde_json::from_value(value).map_err(|e| {
                FrameError::InvalidRequest(format!(
                    "a frame without \"type\" must be {{\"message\": \"...\"}}: {e}"
                ))
            })?;
            return Ok(Self::Send {
                room: None,
                body: seed.message,
                client_id: None,
            });
        }
        let typed: Typed = serde_json::from_value(value)
            .map_err(|e| FrameError::InvalidRequest(format!("invalid frame: {e}")))?;
        Ok(match typed {
            Typed::Message {
                room,
                message,
                client_id,
            } => Self::Send {
                room: Some(room),
                body: message,
                client_id,
            },
            Typed::Join { room, since } => Self::Join { room, since },
            Typed::Leave { room, forget } => Self::Leave { room, forget },
            Typed::Read { room, id } => Self::Read { room, id },
            Typed::Typing { room } => Self::Typing { room },
            Typed::Ping {} => Self::Ping,
        })
    }
}

/// A frame to the client.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame<'a> {
    Message(MessageView<'a>),
    Joined {
        room: &'a str,
    },
    Left {
        room: &'a str,
    },
    Pong,
    Error {
        code: ErrorCode,
        message: String,
    },
    /// A member's read marker moved.
    Read {
        room: &'a str,
        user_id: uuid::Uuid,
        id: i64,
    },
    Typing {
        room: &'a str,
        user_id: uuid::Uuid,
        user: &'a str,
    },
    /// The user became a member of a room without joining it.
    Member {
        room: &'a str,
    },
    Presence {
        room: &'a str,
        user_id: uuid::Uuid,
        user: &'a str,
        online: bool,
    },
}

/// A stored message as clients see it, on the socket and in history.
#[derive(Debug, Serialize)]
pub struct MessageView<'a> {
    pub id: i64,
    pub room: &'a str,
    pub user: &'a str,
    pub user_id: uuid::Uuid,
    pub message: &'a str,
    pub timestamp: String,
    pub client_id: Option<&'a str>,
}

impl<'a> From<&'a StoredMessage> for MessageView<'a> {
    fn from(m: &'a StoredMessage) -> Self {
        Self {
            id: m.id,
            room: &m.room,
            user: &m.user_name,
            user_id: m.user_id,
            message: &m.body,
            timestamp: m
                .created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            client_id: m.client_id.as_deref(),
        }
    }
}

impl ServerFrame<'_> {
    pub fn error(err: &FrameError) -> ServerFrame<'static> {
        ServerFrame::Error {
            code: err.code(),
            message: err.to_string(),
        }
    }

    pub fn message(m: &StoredMessage) -> ServerFrame<'_> {
        ServerFrame::Message(MessageView::from(m))
    }

    /// The frame's JSON text, ready to hand to any number of sockets.
    pub fn encode(&self) -> ByteString {
        match serde_json::to_string(self) {
            Ok(text) => ByteString::from(text),
            // Plain structs of strings and numbers always serialize; this is a safe
            // answer should that ever change, rather than a panic on a socket task.
            Err(e) => {
                tracing::error!(error = %e, "cannot serialize a server frame");
                ByteString::from_static(
                    r#"{"type":"error","code":"unavailable","message":"internal error"}"#,
                )
            }
        }
    }
}

#[cfg(test)]
mod props;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn seed_and_typed_forms_parse() {
        assert_eq!(
            ClientFrame::parse(r#"{"message":"hi"}"#).unwrap(),
            ClientFrame::Send {
                room: None,
                body: "hi".into(),
                client_id: None
            }
        );
        assert_eq!(
            ClientFrame::parse(r#"{"type":"message","room":"r","message":"hi","client_id":"c"}"#)
                .unwrap(),
            ClientFrame::Send {
                room: Some("r".into()),
                body: "hi".into(),
                client_id: Some("c".into())
            }
        );
        assert_eq!(
            ClientFrame::parse(r#"{"type":"join","room":"r","since":5}"#).unwrap(),
            ClientFrame::Join {
                room: "r".into(),
                since: Some(5)
            }
        );
        assert_eq!(
            ClientFrame::parse(r#"{"type":"ping"}"#).unwrap(),
            ClientFrame::Ping
        );
        assert_eq!(
            ClientFrame::parse(r#"{"type":"leave","room":"r","forget":true}"#).unwrap(),
            ClientFrame::Leave {
                room: "r".into(),
                forget: true
            }
        );
        assert_eq!(
            ClientFrame::parse(r#"{"type":"leave","room":"r"}"#).unwrap(),
            ClientFrame::Leave {
                room: "r".into(),
                forget: false
            }
        );
        assert_eq!(
            ClientFrame::parse(r#"{"type":"read","room":"r","id":7}"#).unwrap(),
            ClientFrame::Read {
                room: "r".into(),
                id: 7
            }
        );
        assert_eq!(
            ClientFrame::parse(r#"{"type":"typing","room":"r"}"#).unwrap(),
            ClientFrame::Typing { room: "r".into() }
        );
    }

    #[test]
    fn bad_frames_map_to_their_codes() {
        let code = |t: &str| ClientFrame::parse(t).unwrap_err().code();
        assert_eq!(code("{"), ErrorCode::InvalidJson);
        assert_eq!(code("[1]"), ErrorCode::InvalidRequest);
        assert_eq!(code(r#"{"type":"dance"}"#), ErrorCode::InvalidRequest);
        assert_eq!(code(r#"{"message":5}"#), ErrorCode::InvalidRequest);
        assert_eq!(code(r#"{"type":"join"}"#), ErrorCode::InvalidRequest);
    }

    #[test]
    fn error_frames_carry_snake_case_codes() {
        let text = ServerFrame::error(&FrameError::RateLimited).encode();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["code"], "rate_limited");
    }
}
