//! The payload format on the room channels: `<id> <published-at µs>\n<frame
//! JSON>`. The header lets a receiving replica order, de-duplicate and time a
//! message without parsing the frame it passes on.

use std::sync::Arc;

use bytes::Bytes;
use bytestring::ByteString;

use super::Delivery;

pub fn encode(d: &Delivery, published_at_micros: i64) -> Vec<u8> {
    let header = format!("{} {published_at_micros}\n", d.id);
    let mut out = Vec::with_capacity(header.len() + d.frame.len());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(d.frame.as_bytes());
    out
}

/// The delivery and its publish time, or `None` for a payload this code did not write.
pub fn decode(room: Arc<str>, payload: Vec<u8>) -> Option<(Delivery, i64)> {
    let bytes = Bytes::from(payload);
    let newline = bytes.iter().position(|&b| b == b'\n')?;
    let header = std::str::from_utf8(&bytes[..newline]).ok()?;
    let (id, at) = header.split_once(' ')?;
    let frame = ByteString::try_from(bytes.slice(newline + 1..)).ok()?;
    Some((
        Delivery {
            room,
            id: id.parse().ok()?,
            frame,
        },
        at.parse().ok()?,
    ))
}

pub fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips() {
        let d = Delivery {
            room: Arc::from("r"),
            id: 42,
            frame: ByteString::from_static(r#"{"type":"message","message":"a\nb"}"#),
        };
        let (back, at) = decode(Arc::from("r"), encode(&d, 7)).unwrap();
        assert_eq!((back.id, at), (42, 7));
        assert_eq!(back.frame, d.frame);
        assert!(decode(Arc::from("r"), b"garbage".to_vec()).is_none());
    }
}
