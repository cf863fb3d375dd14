//! The payloads on the channels. A header line lets a receiving replica order,
//! de-duplicate, time and route a frame without parsing the frame it passes on:
//!
//! - a stored message, on its room's channel: `<id> <published-at µs>\n<frame>`;
//! - a room event (receipt, typing, presence): `e <replica>/<socket>\n<frame>`,
//!   naming the socket it came from (`-` for none) so it is not sent back there;
//! - a user event, on the user's channel: `u <room>\n<frame>`, where sockets that
//!   joined `<room>` are skipped (they get the frame from the room; `-`: none).

use std::sync::Arc;

use bytes::Bytes;
use bytestring::ByteString;
use uuid::Uuid;

use super::{Delivery, Kind, SocketId};

/// The socket an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub replica: Uuid,
    pub socket: SocketId,
}

/// A payload as read from a channel.
#[derive(Debug)]
pub enum Payload {
    Message {
        delivery: Delivery,
        published_at: i64,
    },
    RoomEvent {
        frame: ByteString,
        origin: Option<Origin>,
    },
    UserEvent {
        frame: ByteString,
        skip_room: Option<String>,
    },
}

pub fn encode(d: &Delivery, published_at_micros: i64) -> Vec<u8> {
    with_header(&format!("{} {published_at_micros}", d.id), &d.frame)
}

pub fn encode_room_event(frame: &str, origin: Option<Origin>) -> Vec<u8> {
    let origin = origin.map_or_else(
        || "-".to_owned(),
        |o| format!("{}/{}", o.replica.simple(), o.socket),
    );
    with_header(&format!("e {origin}"), frame)
}

pub fn encode_user_event(frame: &str, skip_room: Option<&str>) -> Vec<u8> {
    with_header(&format!("u {}", skip_room.unwrap_or("-")), frame)
}

fn with_header(header: &str, frame: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(header.len() + 1 + frame.len());
    out.extend_from_slice(header.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(frame.as_bytes());
    out
}

/// The payload, or `None` for one this code did not write.
pub fn decode(room: Arc<str>, payload: Vec<u8>) -> Option<Payload> {
    let bytes = Bytes::from(payload);
    let newline = bytes.iter().position(|&b| b == b'\n')?;
    let header = std::str::from_utf8(&bytes[..newline]).ok()?;
    let frame = ByteString::try_from(bytes.slice(newline + 1..)).ok()?;
    let (first, rest) = header.split_once(' ')?;
    match first {
        "e" => Some(Payload::RoomEvent {
            frame,
            origin: parse_origin(rest),
        }),
        "u" => Some(Payload::UserEvent {
            frame,
            skip_room: (rest != "-").then(|| rest.to_owned()),
        }),
        id => Some(Payload::Message {
            delivery: Delivery {
                room,
                id: id.parse().ok()?,
                frame,
                kind: Kind::Message,
            },
            published_at: rest.parse().ok()?,
        }),
    }
}

fn parse_origin(text: &str) -> Option<Origin> {
    let (replica, socket) = text.split_once('/')?;
    Some(Origin {
        replica: Uuid::parse_str(replica).ok()?,
        socket: socket.parse().ok()?,
    })
}

pub fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_payload_round_trips() {
        let d = Delivery {
            room: Arc::from("r"),
            id: 42,
            frame: ByteString::from_static(r#"{"type":"message","message":"a\nb"}"#),
            kind: Kind::Message,
        };
        let Some(Payload::Message {
            delivery,
            published_at,
        }) = decode(Arc::from("r"), encode(&d, 7))
        else {
            panic!("not a message")
        };
        assert_eq!((delivery.id, published_at), (42, 7));
        assert_eq!(delivery.frame, d.frame);

        let origin = Origin {
            replica: Uuid::new_v4(),
            socket: 9,
        };
        let Some(Payload::RoomEvent {
            frame,
            origin: back,
        }) = decode(Arc::from("r"), encode_room_event("{}", Some(origin)))
        else {
            panic!("not a room event")
        };
        assert_eq!((&*frame, back), ("{}", Some(origin)));
        assert!(matches!(
            decode(Arc::from("r"), encode_room_event("{}", None)),
            Some(Payload::RoomEvent { origin: None, .. })
        ));
        let Some(Payload::UserEvent { skip_room, .. }) =
            decode(Arc::from("r"), encode_user_event("{}", Some("lobby")))
        else {
            panic!("not a user event")
        };
        assert_eq!(skip_room.as_deref(), Some("lobby"));
        assert!(decode(Arc::from("r"), b"garbage".to_vec()).is_none());
        assert!(decode(Arc::from("r"), b"x y\n{}".to_vec()).is_none());
    }
}
