//! The WebSocket wire format: frames a client sends, frames the server sends.
//! Both are serde enums, so a frame's `type` and an error's `code` are spelled in one
//! place and cannot drift from what the code matches on. Their JSON Schemas are
//! derived from the same types (`docs/api/chat.frames.schema.json`): the client's
//! from the ones [`ClientFrame::parse`] deserializes into.

use bytestring::ByteString;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    frame_error::{ErrorCode, FrameError},
    message::StoredMessage,
    room::RoomName,
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

/// A frame with a `type`. Fields the contract does not name are refused
/// rather than ignored: a misspelt `since` would otherwise join without
/// catch-up, silently.
#[derive(Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum Typed {
    /// Send to a joined room.
    Message {
        #[schemars(with = "RoomName")]
        room: String,
        /// Any Unicode text but U+0000, not only whitespace, at most
        /// `max_message_chars` characters (`GET /v1/limits`).
        message: String,
        /// Makes a retry idempotent: the same user, room and `client_id` never
        /// store a second message; the stored one is echoed to the sender again.
        #[serde(default)]
        #[schemars(length(min = 1, max = 64))]
        client_id: Option<String>,
    },
    /// Join a room (and become its member); with `since`, first every stored
    /// message with a greater id.
    Join {
        #[schemars(with = "RoomName")]
        room: String,
        #[serde(default)]
        #[schemars(range(min = 0))]
        since: Option<i64>,
    },
    /// Stop this socket's delivery of a room; `forget` also ends the membership.
    Leave {
        #[schemars(with = "RoomName")]
        room: String,
        #[serde(default)]
        forget: bool,
    },
    /// The user has read the room up to `id` (at most the room's newest id).
    Read {
        #[schemars(with = "RoomName")]
        room: String,
        #[schemars(range(min = 0))]
        id: i64,
    },
    /// The user is typing in a joined room; more than one a second is ignored.
    Typing {
        #[schemars(with = "RoomName")]
        room: String,
    },
    /// Answered with `pong`.
    Ping {},
}

/// The seed form the original Django client sends, exactly: a message to the
/// socket's URL room, told apart from typed frames by having no `type`. A frame
/// that names a room or a `client_id` but forgot `type` must not go to the URL
/// room with its idempotency key dropped.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("not" = {"required": ["type"]}))]
struct Seed {
    /// As in a typed `message` frame.
    message: String,
}

/// What [`ClientFrame::parse`] accepts: the seed form, or a typed frame.
impl JsonSchema for ClientFrame {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ClientFrame".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let seed = generator.subschema_for::<Seed>();
        let typed = generator.subschema_for::<Typed>();
        schemars::json_schema!({
            "description": "A frame from the client: JSON text.",
            "anyOf": [seed, typed],
        })
    }
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

/// A frame to the client. A client ignores frame types it does not know.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame<'a> {
    /// A stored message, to every socket joined to its room.
    Message(MessageView<'a>),
    /// The socket now receives the room's messages.
    Joined {
        #[schemars(with = "RoomName")]
        room: &'a str,
    },
    /// The socket no longer receives the room's messages.
    Left {
        #[schemars(with = "RoomName")]
        room: &'a str,
    },
    /// The answer to `ping`.
    Pong,
    /// A refused frame; the socket stays open.
    Error { code: ErrorCode, message: String },
    /// A member's read marker moved (also sent to the user's own other sockets).
    Read {
        #[schemars(with = "RoomName")]
        room: &'a str,
        user_id: uuid::Uuid,
        id: i64,
    },
    /// A user is typing (never sent back to the typing socket); show it for about 5 s.
    Typing {
        #[schemars(with = "RoomName")]
        room: &'a str,
        user_id: uuid::Uuid,
        user: &'a str,
    },
    /// The user became a member of a room without joining it (the recipient
    /// of a first direct message): the client may now `join` it.
    Member {
        #[schemars(with = "RoomName")]
        room: &'a str,
    },
    /// A user's first socket joined the room (`online`), or its last one left.
    Presence {
        #[schemars(with = "RoomName")]
        room: &'a str,
        user_id: uuid::Uuid,
        user: &'a str,
        online: bool,
    },
}

/// A stored message as clients see it, on the socket and in history.
#[derive(Debug, Serialize, JsonSchema, utoipa::ToSchema)]
pub struct MessageView<'a> {
    /// Grows within a room.
    pub id: i64,
    #[schemars(with = "RoomName")]
    #[schema(value_type = RoomName)]
    pub room: &'a str,
    /// The sender's display name when it was sent.
    pub user: &'a str,
    pub user_id: uuid::Uuid,
    pub message: &'a str,
    /// RFC 3339, microseconds, UTC.
    #[schemars(extend("format" = "date-time"))]
    #[schema(format = DateTime)]
    pub timestamp: String,
    /// The sender's idempotency key, when it gave one.
    #[schema(required = true)]
    pub client_id: Option<&'a str>,
}

/// A stored message as a frame outside the socket (history, the room list):
/// `{"type": "message", ...}`, as a socket receives it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StoredFrame<'a> {
    Message(MessageView<'a>),
}

impl<'a> StoredFrame<'a> {
    pub fn of(m: &'a StoredMessage) -> Self {
        Self::Message(MessageView::from(m))
    }
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
    fn a_stored_frame_is_written_as_the_socket_writes_a_message() {
        let m = StoredMessage {
            room: "r".into(),
            id: 3,
            user_id: uuid::Uuid::from_u128(7),
            user_name: "ann".into(),
            body: "hi".into(),
            client_id: None,
            created_at: chrono::DateTime::from_timestamp_micros(1_700_000_000_000_001).unwrap(),
        };
        assert_eq!(
            serde_json::to_string(&StoredFrame::of(&m)).unwrap(),
            &*ServerFrame::message(&m).encode()
        );
    }

    #[test]
    fn error_frames_carry_snake_case_codes() {
        let text = ServerFrame::error(&FrameError::RateLimited).encode();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["code"], "rate_limited");
    }
}
