//! What a client may send: the checks behind every error frame.

use uuid::Uuid;

use super::{
    frames::ErrorCode,
    room::{InvalidRoom, RoomName},
};

/// The longest `client_id` the contract allows.
pub const MAX_CLIENT_ID_CHARS: usize = 64;

/// A frame the server refuses; the socket stays open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame is not valid JSON")]
    InvalidJson,
    #[error("{0}")]
    InvalidRequest(String),
    #[error("not joined to room {0:?}")]
    NotJoined(String),
    #[error(transparent)]
    InvalidRoom(#[from] InvalidRoom),
    #[error("room {0:?} is a direct room of two other users")]
    Forbidden(String),
    #[error("message is longer than {0} characters")]
    MessageTooLong(usize),
    #[error("message is empty")]
    EmptyMessage,
    #[error("too many frames; slow down")]
    RateLimited,
    #[error("the message could not be stored; try again")]
    Unavailable,
}

impl FrameError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidJson => ErrorCode::InvalidJson,
            Self::InvalidRequest(_) => ErrorCode::InvalidRequest,
            Self::NotJoined(_) => ErrorCode::NotJoined,
            Self::InvalidRoom(_) => ErrorCode::InvalidRoom,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::MessageTooLong(_) => ErrorCode::MessageTooLong,
            Self::EmptyMessage => ErrorCode::EmptyMessage,
            Self::RateLimited => ErrorCode::RateLimited,
            Self::Unavailable => ErrorCode::Unavailable,
        }
    }
}

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
pub fn check_body(body: &str, max_chars: usize) -> Result<(), FrameError> {
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
    }
}
