//! What a client may send: the checks behind every error frame.

use uuid::Uuid;

use super::{frame_error::FrameError, room::RoomName};

/// The longest `client_id` the contract allows.
pub const MAX_CLIENT_ID_CHARS: usize = 64;

/// At most one typing notice a second per socket; the rest are ignored.
pub const TYPING_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// A room the user may enter: well-formed, and theirs if it is a direct room.
pub fn room_for(user: Uuid, raw: &str) -> Result<RoomName, FrameError> {
    let room = RoomName::parse(raw)?;
    if room.admits(user) {
        Ok(room)
    } else {
        Err(FrameError::Forbidden(room.to_string()))
    }
}

/// Whitespace alone is empty; length is counted in Unicode scalar values.
/// PostgreSQL's `text` cannot hold U+0000: such a message would fail the whole
/// batch it is stored with, so it is refused here, before the writer.
pub fn check_body(body: &str, max_chars: usize) -> Result<(), FrameError> {
    if body.contains('\0') {
        return Err(FrameError::InvalidRequest(
            "message must not contain U+0000".into(),
        ));
    }
    if body.trim().is_empty() {
        return Err(FrameError::EmptyMessage);
    }
    if body.chars().nth(max_chars).is_some() {
        return Err(FrameError::MessageTooLong(max_chars));
    }
    Ok(())
}

pub fn check_client_id(client_id: Option<&str>) -> Result<(), FrameError> {
    match client_id {
        Some(id) if id.contains('\0') => Err(FrameError::InvalidRequest(
            "client_id must not contain U+0000".into(),
        )),
        Some(id) if id.is_empty() || id.chars().nth(MAX_CLIENT_ID_CHARS).is_some() => {
            Err(FrameError::InvalidRequest(format!(
                "client_id must be 1 to {MAX_CLIENT_ID_CHARS} characters"
            )))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ErrorCode;

    #[test]
    fn body_limits_count_characters_not_bytes() {
        assert_eq!(check_body("  \n", 10), Err(FrameError::EmptyMessage));
        assert_eq!(check_body(&"é".repeat(10), 10), Ok(()));
        assert_eq!(
            check_body(&"é".repeat(11), 10),
            Err(FrameError::MessageTooLong(10))
        );
    }

    #[test]
    fn client_ids_are_bounded() {
        assert!(check_client_id(None).is_ok());
        assert!(check_client_id(Some(&"x".repeat(64))).is_ok());
        assert!(check_client_id(Some(&"x".repeat(65))).is_err());
        assert!(check_client_id(Some("")).is_err());
        assert_eq!(
            check_client_id(Some("a\0b")).map_err(|e| e.code()),
            Err(ErrorCode::InvalidRequest)
        );
    }

    #[test]
    fn nul_is_an_invalid_request_not_an_empty_message() {
        for body in ["\0", "hi\0", "\0   "] {
            assert_eq!(
                check_body(body, 10).map_err(|e| e.code()),
                Err(ErrorCode::InvalidRequest),
                "{body:?}"
            );
        }
    }
}
